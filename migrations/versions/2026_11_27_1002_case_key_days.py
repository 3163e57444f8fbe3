"""/v1/kpis/service grouped by owner (the assignee) or team from a daily rollup: `case_key_day_totals`.

Grouped by owner or team the report read a year's cases four times (bench/RESULTS.md, 200,000 cases): opened
84 ms, resolved 260 ms, first answered 255 ms, breached 85 ms; 473 ms by owner, 527 ms by team.

This rollup holds the cases' numbers keyed by one attribute at a time (as deal_attribution_day_totals,
20261127_0801): each case is counted under ('owner', its assignee id as text) and under ('team', its team), per
tenant-local day and kind: 'opened' (created_at's day, per channel), 'breached' (the first breach's day),
'resolved' and 'answered' (resolved_at's and first_response_at's days, channel '') with `hours_sum` and the
flags of case_service_day_totals (20261127_1001). A year by owner is at most days x owners rows per kind.
The medians by owner or team come from each group's duration histogram counted from the period's cases
(their stored buckets, in the
cases' period indexes) and the middle buckets' cases (`exact_median`).

Kept by the statement-level triggers of 20261126_0701 (`base.Rollup`) and its own time-zone rebuild (0801's
create_rebuild).

Revision ID: 20261127_1002
Revises: 20261127_1001
Create Date: 2026-11-27
"""

from crm_api.migrate import migration_module

revision = "20261127_1002"
down_revision = "20261127_1001"
branch_labels = None
depends_on = None

base = migration_module("2026_11_26_0701_kpi_day_totals.py")
attribution = migration_module("2026_11_27_0801_deal_attribution_days.py")
service = migration_module("2026_11_27_1001_case_service_days.py")
base.COLUMNS.update(attribute="varchar(8) NOT NULL", value="varchar(100)")
KEYS = "kind, attribute, day, value, channel"
RESOLUTION, RESPONSE = service.RESOLUTION, service.RESPONSE
KEYED = base.Rollup("case_key_day_totals", "cases", KEYS, service.SERVICE.sums, f"""
    SELECT c.tenant_id, e.kind, a.attribute, (e.at AT TIME ZONE z.time_zone)::date AS day, a.value, e.channel,
           {{sign}}1 AS count, {{sign}}coalesce(e.seconds / 3600, 0) AS hours_sum, {{sign}}e.same_day AS same_day,
           {{sign}}e.reopened AS reopened, {{sign}}e.with_sla AS with_sla, {{sign}}e.kept AS kept
    FROM {{rows}} c JOIN tenants z ON z.id = c.tenant_id
    CROSS JOIN LATERAL (VALUES
        ('opened', c.created_at, c.channel, NULL::numeric, 0, 0, 0, 0),
        ('breached', LEAST(c.first_response_breached_at, c.resolution_breached_at), '', NULL, 0, 0, 0, 0),
        ('resolved', c.resolved_at, '', {RESOLUTION},
         ((c.resolved_at AT TIME ZONE z.time_zone)::date = (c.created_at AT TIME ZONE z.time_zone)::date)::int,
         (c.reopened_count > 0)::int, (c.sla_policy_id IS NOT NULL)::int,
         (c.sla_policy_id IS NOT NULL AND c.first_response_breached_at IS NULL
          AND c.resolution_breached_at IS NULL)::int),
        ('answered', c.first_response_at, '', {RESPONSE}, 0, 0, 0, 0)
    ) AS e (kind, at, channel, seconds, same_day, reopened, with_sla, kept)
    CROSS JOIN LATERAL (VALUES ('owner', c.assignee_id::text), ('team', c.team::text)) AS a (attribute, value)
    WHERE c.deleted_at IS NULL AND e.at IS NOT NULL""")


def upgrade() -> None:
    attribution.create_own_rollup(base, KEYED, "case_keys")


def downgrade() -> None:
    attribution.drop_own_rollup(base, KEYED, "case_keys")
