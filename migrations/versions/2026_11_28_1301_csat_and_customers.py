"""/v1/kpis/service's CSAT (average score, responses) from the service rollup: kind 'csat' of
`case_service_day_totals`.

Measured at 200,000 cases (bench/RESULTS.md): every other number of the service report's totals and
day/week/month groups comes from daily rollups, but CSAT read the period's rated cases (a year is about
33,000 entries of cases_rated_kpi_idx, index-only): 40 ms of the 240 a year by day.

Kind 'csat' counts each live case with a score on the tenant-local day of satisfaction_at, with the score as
its `bucket` (a histogram of the scores, 1-5; `count` the cases, the other sums 0). The average is
sum(bucket * count) / sum(count): avg() of the integer scores is that very numeric division.

The rollup is made again with the new kind (its table, statement triggers on cases, time-zone rebuild and
backfill: 20261127_0801's create_own_rollup, as 20261127_0803 did for the attribution rollup).

Revision ID: 20261128_1301
Revises: 20261128_1103
Create Date: 2026-11-28
"""

from crm_api.migrate import migration_module

revision = "20261128_1301"
down_revision = "20261128_1103"
branch_labels = None
depends_on = None

service = migration_module("2026_11_27_1001_case_service_days.py")
base, attribution, BEFORE = service.base, service.attribution, service.SERVICE
LAST = "('answered', c.first_response_at, c.response_bucket, {RESPONSE}, 0, 0, 0, 0)".format(
    RESPONSE=service.RESPONSE)
CSAT = ("('csat', CASE WHEN c.satisfaction_score IS NOT NULL THEN c.satisfaction_at END, "
        "c.satisfaction_score::smallint, 0::numeric, 0, 0, 0, 0)")
assert BEFORE.rows.count(LAST) == 1
SERVICE = base.Rollup(BEFORE.table, BEFORE.source, BEFORE.keys, BEFORE.sums,
                      BEFORE.rows.replace(LAST, f"{LAST},\n        {CSAT}"))


def upgrade() -> None:
    attribution.drop_own_rollup(base, BEFORE, "service")
    attribution.create_own_rollup(base, SERVICE, "service")


def downgrade() -> None:
    attribution.drop_own_rollup(base, SERVICE, "service")
    attribution.create_own_rollup(base, BEFORE, "service")
