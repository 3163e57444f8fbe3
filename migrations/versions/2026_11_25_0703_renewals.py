"""Deals can be marked as renewals (`is_renewal`): /v1/kpis/sales reports the renewal rate over them.

The won and lost KPI indexes carry the flag, so the rate stays an index-only count.

Revision ID: 20261125_0703
Revises: 20261125_0202
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0703"
down_revision = "20261125_0202"
branch_labels = None
depends_on = None

DEAL_KEYS = "owner_id, pipeline_id, source, campaign_id"
WON = ("deals_won_kpi_idx", "deals (tenant_id, won_at) INCLUDE (created_at, currency, amount, {keys})",
       "deleted_at IS NULL AND status = 'won'")
LOST = ("deals_lost_kpi_idx", "deals (tenant_id, lost_at) INCLUDE ({keys})", "deleted_at IS NULL AND status = 'lost'")


def _indexes(keys: str) -> None:
    for name, target, predicate in (WON, LOST):
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON {target.format(keys=keys)} WHERE {predicate}")


def upgrade() -> None:
    op.execute("ALTER TABLE deals ADD COLUMN is_renewal boolean NOT NULL DEFAULT false")
    _indexes(f"{DEAL_KEYS}, is_renewal")


def downgrade() -> None:
    _indexes(DEAL_KEYS)
    op.execute("ALTER TABLE deals DROP COLUMN is_renewal")
