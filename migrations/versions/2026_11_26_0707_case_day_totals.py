"""Cases opened (by channel) and first breached per tenant-local day: `case_day_totals`, for /v1/kpis/service.

Measured at 200,000 cases (bench/RESULTS.md): over a year by month the service report counted 100,000 cases
opened (59 ms) and the breached ones (59 ms) of its 318 ms, per request. Totals and day/week/month groups
without an owner filter read these rows instead (a year is at most days x channels rows per kind); owner
and team groupings, the owner filter and the averages and medians read the cases as before. Kind 'opened'
on the local day of created_at, 'breached' on that of the first SLA breach (the earlier of the two
breach times). Same triggers and rebuild as 20261126_0701 (its helpers make them).

Revision ID: 20261126_0707
Revises: 20261126_0503
Create Date: 2026-11-26
"""

from crm_api.migrate import migration_module

revision = "20261126_0707"
down_revision = "20261126_0503"
branch_labels = None
depends_on = None

base = migration_module("2026_11_26_0701_kpi_day_totals.py")
deal_keys = migration_module("2026_11_26_0703_deal_day_keys.py")
logged = migration_module("2026_11_26_0706_activities_logged_days.py")
CASES = base.Rollup("case_day_totals", "cases", "kind, day, channel", {"count": "bigint"}, """
    SELECT r.tenant_id, e.kind, (e.at AT TIME ZONE z.time_zone)::date AS day, r.channel, {sign}1 AS count
    FROM {rows} r JOIN tenants z ON z.id = r.tenant_id
    CROSS JOIN LATERAL (VALUES ('opened', r.created_at),
                               ('breached', LEAST(r.first_response_breached_at, r.resolution_breached_at)))
        AS e (kind, at)
    WHERE r.deleted_at IS NULL AND e.at IS NOT NULL""")


def upgrade() -> None:
    base.create_rollup(CASES)
    base.create_rebuild((logged.LOGGED, deal_keys.NARROW, CASES))
    base.backfill(CASES)


def downgrade() -> None:
    base.drop_rollup(CASES)
    base.create_rebuild((logged.LOGGED, deal_keys.NARROW))
