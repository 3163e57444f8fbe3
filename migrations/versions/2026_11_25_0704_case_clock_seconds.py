"""Cases keep the SLA clock's reading at their first response and at their resolution.

`first_response_seconds` and `resolution_seconds`: business time of the case's SLA policy calendar
(24/7 without business hours) from creation to the first public reply, and to the resolution, less the
time the clock was paused (pending, or resolved before a reopening). The service KPIs average them
where an SLA applies; recomputing business time per case at query time would walk calendars for every
case of the period. Existing cases are filled here from their timestamps (pauses before a first
response are not recorded, so that reading counts them).

Revision ID: 20261125_0704
Revises: 20261125_0703
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from crm_api.cases.business_time import Calendar, clock_seconds

revision = "20261125_0704"
down_revision = "20261125_0703"
branch_labels = None
depends_on = None

CASE_KEYS = "assignee_id, team"
RESPONDED = ("cases_responded_kpi_idx", "cases (tenant_id, first_response_at) INCLUDE (created_at, {extra}"
             f"{CASE_KEYS})", "deleted_at IS NULL AND first_response_at IS NOT NULL")
RESOLVED = ("cases_resolved_kpi_idx", "cases (tenant_id, resolved_at) INCLUDE (created_at, reopened_count, "
            "sla_policy_id, first_response_breached_at, resolution_breached_at, {extra}" f"{CASE_KEYS})",
            "deleted_at IS NULL AND resolved_at IS NOT NULL")


def _indexes(responded: str, resolved: str) -> None:
    for (name, target, predicate), extra in ((RESPONDED, responded), (RESOLVED, resolved)):
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON {target.format(extra=extra)} WHERE {predicate}")


def upgrade() -> None:
    op.execute("ALTER TABLE cases ADD COLUMN first_response_seconds numeric(14, 3), "
               "ADD COLUMN resolution_seconds numeric(14, 3)")
    conn = op.get_bind()
    # As the owner: FORCE is lifted for the backfill so that every tenant's cases are seen.
    op.execute("ALTER TABLE cases NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE sla_policies NO FORCE ROW LEVEL SECURITY")
    rows = conn.execute(sa.text("""
        SELECT c.tenant_id, c.id, c.created_at, c.first_response_at, c.resolved_at, c.sla_paused_minutes,
               p.business_hours
        FROM cases c JOIN sla_policies p ON p.tenant_id = c.tenant_id AND p.id = c.sla_policy_id
        WHERE c.first_response_at IS NOT NULL OR c.resolved_at IS NOT NULL""")).all()
    for row in rows:
        calendar = Calendar.from_json(row.business_hours)
        first = row.first_response_at and clock_seconds(calendar, row.created_at, row.first_response_at)
        resolved = row.resolved_at and clock_seconds(calendar, row.created_at, row.resolved_at,
                                                     row.sla_paused_minutes or 0.0)
        conn.execute(sa.text("UPDATE cases SET first_response_seconds = :f, resolution_seconds = :r "
                             "WHERE tenant_id = :t AND id = :i"), {"f": first, "r": resolved, "t": row.tenant_id,
                                                                   "i": row.id})
    op.execute("ALTER TABLE sla_policies FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE cases FORCE ROW LEVEL SECURITY")
    _indexes("sla_policy_id, first_response_seconds, ", "resolution_seconds, ")


def downgrade() -> None:
    _indexes("", "")
    op.execute("ALTER TABLE cases DROP COLUMN first_response_seconds, DROP COLUMN resolution_seconds")
