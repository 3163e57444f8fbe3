"""Activities logged per tenant-local day of created_at and owner (type 'logged' in activity_day_totals), for
the leaderboard's activities_logged.

Measured at 5M activities (bench/RESULTS.md): the leaderboard counted a quarter of activities by created_at
per owner, 617,000 index entries (188 of its 217 ms). The rollup's rows now include, for every live activity
of any type, one 'logged' row on the local day of its created_at; calls and meetings keep their own rows.
Same table, triggers and rebuild as 20261126_0701 (its helpers make them).

Revision ID: 20261126_0706
Revises: 20261126_0502
Create Date: 2026-11-26
"""

from crm_api.migrate import migration_module

revision = "20261126_0706"
down_revision = "20261126_0502"
branch_labels = None
depends_on = None

base = migration_module("2026_11_26_0701_kpi_day_totals.py")
deal_keys = migration_module("2026_11_26_0703_deal_day_keys.py")
LOGGED = base.Rollup("activity_day_totals", "activities", "day, type, owner_id", {"count": "bigint"}, """
    SELECT r.tenant_id, (x.at AT TIME ZONE z.time_zone)::date AS day, x.type, r.owner_id, {sign}1 AS count
    FROM {rows} r JOIN tenants z ON z.id = r.tenant_id
    CROSS JOIN LATERAL (VALUES (r.type, CASE r.type WHEN 'call' THEN r.occurred_at
                                                    WHEN 'meeting' THEN r.starts_at END),
                               ('logged', r.created_at)) AS x (type, at)
    WHERE r.deleted_at IS NULL AND x.at IS NOT NULL""")


def upgrade() -> None:
    base.drop_rollup(base.ACTIVITIES)
    base.create_rollup(LOGGED)
    base.create_rebuild((LOGGED, deal_keys.NARROW))
    base.backfill(LOGGED)


def downgrade() -> None:
    base.drop_rollup(LOGGED)
    base.create_rollup(base.ACTIVITIES)
    base.create_rebuild((base.ACTIVITIES, deal_keys.NARROW))
    base.backfill(base.ACTIVITIES)
