"""deal_day_totals keyed by local day, pipeline, owner and currency only (no source, no campaign).

Measured at 1M deals (bench/RESULTS.md): with source and campaign in the key a day held about as many rows
as deals (a year of 'created' was 393,736 rows for 500,000 deals, 134 ms to sum), because every deal's
combination of 5 pipelines, 25 owners, 6 sources and 21 campaigns is nearly its own row. Without them a day
has at most pipelines x owners (x currencies) rows. Sales grouped by source or campaign read the deals
themselves (as they did before the rollup); every other grouping and both filters (owner, pipeline) are
served by the narrower rollup. Same triggers and rebuild as 20261126_0701, which defines them.

Revision ID: 20261126_0703
Revises: 20261126_0501
Create Date: 2026-11-26
"""

from crm_api.migrate import migration_module

revision = "20261126_0703"
down_revision = "20261126_0501"
branch_labels = None
depends_on = None


base = migration_module("2026_11_26_0701_kpi_day_totals.py")
NARROW = base.Rollup("deal_day_totals", "deals", "kind, day, pipeline_id, owner_id, currency", base.DEALS.sums,
                     base.DEALS.rows)


def upgrade() -> None:
    base.drop_rollup(base.DEALS)
    base.create_rollup(NARROW)
    base.create_rebuild((base.ACTIVITIES, NARROW))
    base.backfill(NARROW)


def downgrade() -> None:
    base.drop_rollup(NARROW)
    base.create_rollup(base.DEALS)
    base.create_rebuild(base.ROLLUPS)
    base.backfill(base.DEALS)
