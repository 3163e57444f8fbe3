"""New and qualified leads per tenant-local day from a rollup: `lead_attribution_day_totals`.

/v1/kpis/sales counts the leads created in the period (and those now MQL or SQL) on every request: a year is
about 100,000 leads at the benchmark's size, 48-140 ms on this machine (bench/RESULTS.md). Like
deal_attribution_day_totals (20261127_0801), each lead is counted once per attribute: ('all', NULL), ('owner',
its owner), ('source', its source), ('campaign', its campaign), per local day of created_at, with how many of
them are now MQL (mql, sql or converted) and SQL (sql or converted). Kept by the statement-level Rollup
triggers of 20261126_0701 (a status change moves a lead between the counts); rebuilt by its own function when
the tenant's time zone changes (0801's create_rebuild). Requests with an owner filter read the leads.

Revision ID: 20261127_0804
Revises: 20261127_0803
Create Date: 2026-11-27
"""

from crm_api.migrate import migration_module

revision = "20261127_0804"
down_revision = "20261127_0803"
branch_labels = None
depends_on = None

base = migration_module("2026_11_26_0701_kpi_day_totals.py")
attribution = migration_module("2026_11_27_0801_deal_attribution_days.py")
base.COLUMNS.update(attribute="varchar(8) NOT NULL", value="varchar(100)")
LEADS = base.Rollup("lead_attribution_day_totals", "leads", "day, attribute, value",
                    {"count": "bigint", "mql_count": "bigint", "sql_count": "bigint"}, """
    SELECT r.tenant_id, (r.created_at AT TIME ZONE z.time_zone)::date AS day, a.attribute, a.value,
           {sign}1 AS count, {sign}(r.status IN ('mql', 'sql', 'converted'))::int AS mql_count,
           {sign}(r.status IN ('sql', 'converted'))::int AS sql_count
    FROM {rows} r JOIN tenants z ON z.id = r.tenant_id
    CROSS JOIN LATERAL (VALUES ('all', NULL::text), ('owner', r.owner_id::text), ('source', r.source::text),
                               ('campaign', r.campaign_id::text)) AS a (attribute, value)
    WHERE r.deleted_at IS NULL""")


def upgrade() -> None:
    attribution.create_own_rollup(base, LEADS, "leads")


def downgrade() -> None:
    attribution.drop_own_rollup(base, LEADS, "leads")
