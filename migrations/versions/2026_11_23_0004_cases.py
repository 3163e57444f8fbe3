"""Support cases, case messages, SLA policies, per-tenant counters.

Revision ID: 20261123_0004
Revises: 20261123_0003
Create Date: 2026-11-23
"""

from alembic import op

revision = "20261123_0004"
down_revision = "20261123_0003"
branch_labels = None
depends_on = None

RECORD_COLUMNS = """
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    deleted_at timestamptz
"""
TABLES = ("tenant_counters", "sla_policies", "cases", "case_messages")


def upgrade() -> None:
    op.execute("""
        CREATE TABLE tenant_counters (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            name varchar(32) NOT NULL,
            value bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant_id, name)
        )""")
    op.execute(f"""
        CREATE TABLE sla_policies (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            name varchar(200) NOT NULL,
            position integer NOT NULL DEFAULT 0,
            enabled boolean NOT NULL DEFAULT true,
            targets jsonb NOT NULL,
            business_hours jsonb,
            applies_to jsonb NOT NULL DEFAULT '{{}}',
            escalation jsonb NOT NULL DEFAULT '{{}}',
            warning_threshold double precision NOT NULL DEFAULT 0.8
                CHECK (warning_threshold > 0 AND warning_threshold < 1),
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id)
        )""")
    op.execute("""CREATE INDEX sla_policies_position_idx ON sla_policies (tenant_id, position, created_at, id)
                  WHERE deleted_at IS NULL""")
    op.execute(f"""
        CREATE TABLE cases (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            number bigint NOT NULL,
            subject varchar(500) NOT NULL,
            description text,
            channel varchar(16) NOT NULL CHECK (channel IN ('email', 'phone', 'web', 'chat', 'in_person', 'other')),
            type varchar(16) NOT NULL CHECK (type IN ('question', 'problem', 'complaint', 'request', 'other')),
            priority varchar(16) NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
            status varchar(16) NOT NULL CHECK (status IN ('new', 'open', 'pending', 'on_hold', 'resolved', 'closed')),
            contact_id uuid,
            company_id uuid,
            deal_id uuid,
            assignee_id uuid,
            team varchar(100),
            tags varchar[] NOT NULL DEFAULT '{{}}',
            custom_fields jsonb NOT NULL DEFAULT '{{}}',
            first_response_at timestamptz,
            resolved_at timestamptz,
            closed_at timestamptz,
            reopened_count integer NOT NULL DEFAULT 0,
            sla_policy_id uuid,
            first_response_due_at timestamptz,
            resolution_due_at timestamptz,
            first_response_warn_at timestamptz,
            resolution_warn_at timestamptz,
            sla_paused_at timestamptz,
            sla_paused_minutes double precision NOT NULL DEFAULT 0,
            first_response_warned_at timestamptz,
            first_response_breached_at timestamptz,
            resolution_warned_at timestamptz,
            resolution_breached_at timestamptz,
            sla_next_check_at timestamptz,
            satisfaction_score integer CHECK (satisfaction_score BETWEEN 1 AND 5),
            satisfaction_comment text,
            satisfaction_at timestamptz,
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE SET NULL (contact_id),
            FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE SET NULL (company_id),
            FOREIGN KEY (tenant_id, assignee_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (assignee_id),
            FOREIGN KEY (tenant_id, sla_policy_id) REFERENCES sla_policies (tenant_id, id)
                ON DELETE SET NULL (sla_policy_id)
        )""")
    op.execute("CREATE UNIQUE INDEX cases_number_key ON cases (tenant_id, number)")
    live = "WHERE deleted_at IS NULL"
    for name, columns in [
        ("created", "created_at, id"), ("updated", "updated_at, id"), ("status", "status, created_at, id"),
        ("priority", "priority, created_at, id"), ("assignee", "assignee_id, created_at, id"),
        ("contact", "contact_id, created_at, id"), ("company", "company_id, created_at, id"),
        ("channel", "channel, created_at, id"), ("type", "type, created_at, id"),
        ("resolution_due", "resolution_due_at, id"), ("deal", "deal_id, created_at, id"),
    ]:
        op.execute(f"CREATE INDEX cases_{name}_idx ON cases (tenant_id, {columns}) {live}")
    op.execute(f"CREATE INDEX cases_subject_trgm_idx ON cases USING gin (tenant_id, lower(subject) gin_trgm_ops) "
               f"{live}")
    op.execute(f"CREATE INDEX cases_tags_idx ON cases USING gin (tenant_id, tags) {live}")
    op.execute(f"CREATE INDEX cases_custom_fields_idx ON cases USING gin (tenant_id, custom_fields jsonb_path_ops) "
               f"{live}")
    op.execute(f"""CREATE INDEX cases_sla_check_idx ON cases (tenant_id, sla_next_check_at)
                   {live} AND sla_next_check_at IS NOT NULL""")
    op.execute("""CREATE INDEX cases_breached_idx ON cases (tenant_id, created_at, id)
                  WHERE deleted_at IS NULL AND (first_response_breached_at IS NOT NULL
                                                OR resolution_breached_at IS NOT NULL)""")
    op.execute("CREATE INDEX cases_trash_idx ON cases (deleted_at) WHERE deleted_at IS NOT NULL")
    op.execute("""
        CREATE TABLE case_messages (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            case_id uuid NOT NULL,
            direction varchar(16) NOT NULL CHECK (direction IN ('inbound', 'outbound')),
            internal boolean NOT NULL DEFAULT false,
            body text NOT NULL,
            author_user_id uuid,
            author_contact_id uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id) ON DELETE CASCADE,
            FOREIGN KEY (tenant_id, author_user_id) REFERENCES users (tenant_id, id)
                ON DELETE SET NULL (author_user_id),
            FOREIGN KEY (tenant_id, author_contact_id) REFERENCES contacts (tenant_id, id)
                ON DELETE SET NULL (author_contact_id)
        )""")
    op.execute("CREATE INDEX case_messages_case_idx ON case_messages (tenant_id, case_id, created_at, id)")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (tenant_id = crm_current_tenant())")


def downgrade() -> None:
    op.execute("DROP TABLE case_messages, cases, sla_policies, tenant_counters")
