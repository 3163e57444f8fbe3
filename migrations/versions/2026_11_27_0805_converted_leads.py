"""The converted leads of a period, for /v1/kpis/marketing's conversions per campaign and source.

Leads per campaign and source now come from lead_attribution_day_totals (20261127_0804); the conversions (leads
created in the period whose deal is won now) read only the converted leads, through this partial index (a tenth
of the leads at the benchmark's size), with their deal looked up by key.

Revision ID: 20261127_0805
Revises: 20261127_0804
Create Date: 2026-11-27
"""

from alembic import op

revision = "20261127_0805"
down_revision = "20261127_0804"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""CREATE INDEX leads_converted_idx ON leads (tenant_id, created_at)
                  INCLUDE (converted_deal_id, campaign_id, source)
                  WHERE deleted_at IS NULL AND converted_deal_id IS NOT NULL""")


def downgrade() -> None:
    op.execute("DROP INDEX leads_converted_idx")
