"""Covering indexes for the KPI queries, measured at 1M deals / 5M activities (bench/RESULTS.md).

Each is a partial index whose predicate matches the query's constant conditions and which carries
the columns the query reads, so the KPI aggregates are index-only scans of the period's rows
(under row-level security too: the range conditions are leakproof comparisons on plain columns).

Revision ID: 20261125_0701
Revises: 20261125_0302
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0701"
down_revision = "20261125_0302"
branch_labels = None
depends_on = None

DEAL_KEYS = "owner_id, pipeline_id, source, campaign_id"
CASE_KEYS = "assignee_id, team"
INDEXES = [
    # Calls by occurred_at, meetings by starts_at (calls_logged, meetings_logged).
    ("activities_calls_idx", "activities (tenant_id, occurred_at) INCLUDE (owner_id)",
     "deleted_at IS NULL AND type = 'call'"),
    ("activities_meetings_idx", "activities (tenant_id, starts_at) INCLUDE (owner_id)",
     "deleted_at IS NULL AND type = 'meeting'"),
    # Deals created, won, lost in a period, with what their metrics and group keys read.
    ("deals_created_kpi_idx", f"deals (tenant_id, created_at) INCLUDE (status, {DEAL_KEYS})", "deleted_at IS NULL"),
    ("deals_won_kpi_idx", f"deals (tenant_id, won_at) INCLUDE (created_at, currency, amount, {DEAL_KEYS})",
     "deleted_at IS NULL AND status = 'won'"),
    ("deals_lost_kpi_idx", f"deals (tenant_id, lost_at) INCLUDE ({DEAL_KEYS})",
     "deleted_at IS NULL AND status = 'lost'"),
    # Customers: every won deal of a company in won_at order (new/retained customers, lifetime value,
    # cross-sell).
    ("deals_customers_idx", "deals (tenant_id, company_id, won_at) INCLUDE (pipeline_id, owner_id, currency, amount)",
     "deleted_at IS NULL AND status = 'won' AND company_id IS NOT NULL"),
    # Stage stays of a pipeline by entry time (the funnel); entries into a stage (proposals sent).
    ("deal_stage_history_pipeline_idx", "deal_stage_history (tenant_id, pipeline_id, entered_at) "
                                        "INCLUDE (deal_id, stage_id, left_at, id)", None),
    ("deal_stage_history_entered_idx", "deal_stage_history (tenant_id, stage_id, entered_at) INCLUDE (deal_id)",
     None),
    # Cases opened, first answered, resolved, breached and rated in a period.
    ("cases_opened_kpi_idx", f"cases (tenant_id, created_at) INCLUDE (channel, {CASE_KEYS})", "deleted_at IS NULL"),
    ("cases_responded_kpi_idx", f"cases (tenant_id, first_response_at) INCLUDE (created_at, {CASE_KEYS})",
     "deleted_at IS NULL AND first_response_at IS NOT NULL"),
    ("cases_resolved_kpi_idx", f"cases (tenant_id, resolved_at) INCLUDE (created_at, reopened_count, sla_policy_id, "
                               f"first_response_breached_at, resolution_breached_at, {CASE_KEYS})",
     "deleted_at IS NULL AND resolved_at IS NOT NULL"),
    ("cases_breached_kpi_idx", f"cases (tenant_id, (LEAST(first_response_breached_at, resolution_breached_at))) "
                               f"INCLUDE ({CASE_KEYS})",
     "deleted_at IS NULL AND (first_response_breached_at IS NOT NULL OR resolution_breached_at IS NOT NULL)"),
    ("cases_rated_kpi_idx", f"cases (tenant_id, satisfaction_at) INCLUDE (satisfaction_score, {CASE_KEYS})",
     "deleted_at IS NULL AND satisfaction_score IS NOT NULL"),
]


def upgrade() -> None:
    for name, target, predicate in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {target}" + (f" WHERE {predicate}" if predicate else ""))
    # Superseded by the covering versions above.
    op.execute("DROP INDEX deal_stage_history_stage_idx")
    op.execute("DROP INDEX deals_won_idx")
    op.execute("DROP INDEX deals_lost_idx")
    op.execute("DROP INDEX cases_resolved_idx")


def downgrade() -> None:
    op.execute("CREATE INDEX cases_resolved_idx ON cases (tenant_id, resolved_at) WHERE deleted_at IS NULL "
               "AND resolved_at IS NOT NULL")
    op.execute("CREATE INDEX deals_lost_idx ON deals (tenant_id, lost_at) WHERE deleted_at IS NULL "
               "AND lost_at IS NOT NULL")
    op.execute("CREATE INDEX deals_won_idx ON deals (tenant_id, won_at) WHERE deleted_at IS NULL "
               "AND won_at IS NOT NULL")
    op.execute("CREATE INDEX deal_stage_history_stage_idx ON deal_stage_history (tenant_id, stage_id, entered_at)")
    for name, _, _ in reversed(INDEXES):
        op.execute(f"DROP INDEX {name}")
