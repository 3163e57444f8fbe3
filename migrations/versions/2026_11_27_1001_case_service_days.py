"""/v1/kpis/service totals and day/week/month groups from a daily rollup: `case_service_day_totals`.

Measured at 200,000 cases (bench/RESULTS.md): a year is ~160,000 resolved cases; the resolved and the
first-answered statements read and sorted all of them for the medians (130-275 ms each), so the report took
294 ms a year, 424-469 ms by month, week or day.

The rollup, per tenant-local day and duration bucket (`crm_duration_bucket`, a logarithmic bucket of seconds
with the bounds of the funnel's crm_stay_bucket, 20261127_0901), kind 'resolved' on the local day of resolved_at
and 'answered' on that of first_response_at, live cases only: `count`, `hours_sum` (the sum of each case's
hours exactly as the report computes them per case, `seconds / 3600` of the SLA clock or calendar time, so
hours_sum / count is the very numeric avg() gave), and for 'resolved' the flags `same_day` (resolved on the
local day it was created), `reopened`, `with_sla` and `kept` (with an SLA, neither breach).

The exact medians: the histogram over the period's days gives the bucket(s) holding the middle rank(s) of
each group; only those buckets' cases in the group's time range are read (each case's buckets are stored columns,
`resolution_bucket` and `response_bucket`, indexed with the time),
and percentile_cont() over the one or two middle values is what it gave over all cases.

Kept by the statement-level triggers of 20261126_0701 (`base.Rollup`): creates,
every update (resolved, reopened, reassigned, SLA readings set, trashed, restored), outright deletes; a change
of the tenant's time zone rebuilds its rows (its own rebuild and trigger: 20261127_0801's create_rebuild).

Revision ID: 20261127_1001
Revises: 20261127_0902
Create Date: 2026-11-27
"""

from alembic import op

from crm_api.migrate import migration_module

revision = "20261127_1001"
down_revision = "20261127_0902"
branch_labels = None
depends_on = None

base = migration_module("2026_11_26_0701_kpi_day_totals.py")
attribution = migration_module("2026_11_27_0801_deal_attribution_days.py")
readings = migration_module("2026_11_25_0704_case_clock_seconds.py")
funnel = migration_module("2026_11_27_0901_stay_day_totals.py")
base.COLUMNS.update(bucket="smallint NOT NULL")
# Bucket bounds in seconds, the funnel's (crm_stay_bucket, 20261127_0901): under a minute is bucket 0, then a
# factor of 2^(1/3) per bucket up to about two years.
BOUNDS = funnel.BOUNDS


def clock(reading: str, at: str, c: str = "c.") -> str:
    """Seconds from creation to `at`: the SLA clock's reading where a policy applies, else calendar time (the
    report's expression, crm_api.kpis.reports._clock)."""
    return (f"(CASE WHEN {c}sla_policy_id IS NOT NULL AND {c}{reading} IS NOT NULL THEN {c}{reading} "
            f"ELSE extract(epoch FROM {c}{at} - {c}created_at) END)")


RESOLUTION = clock("resolution_seconds", "resolved_at")
RESPONSE = clock("first_response_seconds", "first_response_at")
SERVICE = base.Rollup(
    "case_service_day_totals", "cases", "kind, day, bucket",
    {"count": "bigint", "hours_sum": "numeric", "same_day": "bigint", "reopened": "bigint", "with_sla": "bigint",
     "kept": "bigint"}, f"""
    SELECT c.tenant_id, e.kind, (e.at AT TIME ZONE z.time_zone)::date AS day, e.bucket,
           {{sign}}1 AS count, {{sign}}(e.seconds / 3600) AS hours_sum, {{sign}}e.same_day AS same_day,
           {{sign}}e.reopened AS reopened, {{sign}}e.with_sla AS with_sla, {{sign}}e.kept AS kept
    FROM {{rows}} c JOIN tenants z ON z.id = c.tenant_id
    CROSS JOIN LATERAL (VALUES
        ('resolved', c.resolved_at, c.resolution_bucket, {RESOLUTION},
         ((c.resolved_at AT TIME ZONE z.time_zone)::date = (c.created_at AT TIME ZONE z.time_zone)::date)::int,
         (c.reopened_count > 0)::int, (c.sla_policy_id IS NOT NULL)::int,
         (c.sla_policy_id IS NOT NULL AND c.first_response_breached_at IS NULL
          AND c.resolution_breached_at IS NULL)::int),
        ('answered', c.first_response_at, c.response_bucket, {RESPONSE}, 0, 0, 0, 0)
    ) AS e (kind, at, bucket, seconds, same_day, reopened, with_sla, kept)
    WHERE c.deleted_at IS NULL AND e.at IS NOT NULL""")
# Each case's buckets, stored (generated columns), and the middle buckets' cases of a period: the bucket, then the
# time (index-only: the clock's inputs and the group keys included). A stored column, not an indexed expression:
# under row-level security a condition on an expression of non-leakproof functions cannot be an index condition.
BUCKETS = {"resolution_bucket": (RESOLUTION, "resolved_at", "resolution_seconds"),
           "response_bucket": (RESPONSE, "first_response_at", "first_response_seconds")}

def upgrade() -> None:
    op.execute(f"""
        CREATE FUNCTION crm_duration_bucket(seconds numeric) RETURNS smallint
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT width_bucket($1, '{{{",".join(map(str, BOUNDS))}}}'::numeric[])::smallint $$""")
    op.execute("ALTER TABLE cases " + ", ".join(
        f"ADD COLUMN {column} smallint GENERATED ALWAYS AS (crm_duration_bucket({seconds.replace('c.', '')})) STORED"
        for column, (seconds, _, _) in BUCKETS.items()))
    attribution.create_own_rollup(base, SERVICE, "service")
    for column, (_, at, reading) in BUCKETS.items():
        op.execute(f"""CREATE INDEX cases_{column}_idx ON cases (tenant_id, {column}, {at})
                       INCLUDE (created_at, sla_policy_id, {reading}, assignee_id, team)
                       WHERE deleted_at IS NULL AND {at} IS NOT NULL""")
    # The cases' period indexes carry the buckets too: a period's histogram per owner or team, index-only.
    readings._indexes("sla_policy_id, first_response_seconds, response_bucket, ",
                      "resolution_seconds, resolution_bucket, ")


def downgrade() -> None:
    attribution.drop_own_rollup(base, SERVICE, "service")
    readings._indexes("sla_policy_id, first_response_seconds, ", "resolution_seconds, ")
    op.execute("ALTER TABLE cases " + ", ".join(f"DROP COLUMN {column}" for column in BUCKETS))
    op.execute("DROP FUNCTION crm_duration_bucket(numeric)")
