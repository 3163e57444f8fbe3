"""Activities (calls, emails, meetings, tasks, notes), follow-up times on records, calendar feeds.

Revision ID: 20261124_0401
Revises: 20261124_0301
Create Date: 2026-11-24
"""

from alembic import context, op

revision = "20261124_0401"
down_revision = "20261124_0301"
branch_labels = None
depends_on = None

LIVE = "WHERE deleted_at IS NULL"
FOLLOWED = ("contacts", "companies", "deals")


def upgrade() -> None:
    op.execute("""
        CREATE TABLE activities (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            type varchar(16) NOT NULL CHECK (type IN ('call', 'email', 'meeting', 'task', 'note')),
            subject varchar(500),
            body text,
            owner_id uuid,
            assignee_id uuid,
            contact_ids uuid[] NOT NULL DEFAULT '{}',
            company_id uuid,
            deal_id uuid,
            lead_id uuid,
            case_id uuid,
            custom_fields jsonb NOT NULL DEFAULT '{}',
            direction varchar(16) CHECK (direction IN ('inbound', 'outbound')),
            occurred_at timestamptz,
            duration_seconds integer CHECK (duration_seconds >= 0),
            outcome varchar(16) CHECK (outcome IN ('connected', 'no_answer', 'voicemail', 'busy', 'wrong_number')),
            email_from varchar(320),
            email_to varchar[] NOT NULL DEFAULT '{}',
            message_id varchar(998),
            starts_at timestamptz,
            ends_at timestamptz,
            location varchar(500),
            attendees jsonb NOT NULL DEFAULT '[]',
            due_at timestamptz,
            priority varchar(8) CHECK (priority IN ('low', 'normal', 'high')),
            done boolean NOT NULL DEFAULT false,
            completed_at timestamptz,
            remind_at timestamptz,
            reminded_at timestamptz,
            timeline_at timestamptz GENERATED ALWAYS AS (coalesce(occurred_at, starts_at, created_at)) STORED,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            version integer NOT NULL DEFAULT 1,
            deleted_at timestamptz,
            PRIMARY KEY (tenant_id, id),
            CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at),
            FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (owner_id),
            FOREIGN KEY (tenant_id, assignee_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (assignee_id),
            FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE SET NULL (company_id),
            FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id) ON DELETE SET NULL (deal_id),
            FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE SET NULL (lead_id),
            FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id) ON DELETE SET NULL (case_id)
        )""")
    op.execute(f"""CREATE UNIQUE INDEX activities_message_id_key ON activities (tenant_id, message_id)
                   {LIVE} AND message_id IS NOT NULL""")
    for name, columns in [
        ("created", "created_at, id"), ("updated", "updated_at, id"), ("type", "type, created_at, id"),
        ("owner", "owner_id, created_at, id"), ("company", "company_id, timeline_at, id"),
        ("deal", "deal_id, timeline_at, id"), ("lead", "lead_id, timeline_at, id"),
        ("case", "case_id, timeline_at, id"),
    ]:
        op.execute(f"CREATE INDEX activities_{name}_idx ON activities (tenant_id, {columns}) {LIVE}")
    op.execute(f"""CREATE INDEX activities_followup_idx ON activities (tenant_id, assignee_id, due_at)
                   {LIVE} AND due_at IS NOT NULL""")
    op.execute(f"CREATE INDEX activities_contacts_idx ON activities USING gin (tenant_id, contact_ids) {LIVE}")
    op.execute(f"""CREATE INDEX activities_custom_fields_idx ON activities
                   USING gin (tenant_id, custom_fields jsonb_path_ops) {LIVE}""")
    op.execute(f"""CREATE INDEX activities_reminder_idx ON activities (tenant_id, remind_at)
                   {LIVE} AND remind_at IS NOT NULL AND reminded_at IS NULL""")
    op.execute("CREATE INDEX activities_trash_idx ON activities (deleted_at) WHERE deleted_at IS NOT NULL")
    op.execute("ALTER TABLE activities ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE activities FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON activities USING (tenant_id = crm_current_tenant())")

    for table in FOLLOWED:
        op.execute(f"ALTER TABLE {table} ADD COLUMN last_activity_at timestamptz, "
                   "ADD COLUMN next_activity_at timestamptz")
        op.execute(f"CREATE INDEX {table}_last_activity_idx ON {table} (tenant_id, last_activity_at) {LIVE}")
        op.execute(f"CREATE INDEX {table}_next_activity_idx ON {table} (tenant_id, next_activity_at) {LIVE}")

    # Calendar apps fetch a secret URL without credentials: the token's hash finds the user.
    op.execute("ALTER TABLE users ADD COLUMN calendar_token_hash bytea UNIQUE")
    op.execute("""
        CREATE FUNCTION crm_calendar_user(p_hash bytea) RETURNS TABLE (tenant_id uuid, user_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
            SELECT u.tenant_id, u.id FROM users u WHERE u.calendar_token_hash = p_hash AND u.deleted_at IS NULL
        $$""")
    role = context.config.attributes.get("app_role", "crm_app")
    op.execute("REVOKE ALL ON FUNCTION crm_calendar_user(bytea) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION crm_calendar_user(bytea) TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION crm_calendar_user(bytea)")
    op.execute("ALTER TABLE users DROP COLUMN calendar_token_hash")
    for table in FOLLOWED:
        op.execute(f"ALTER TABLE {table} DROP COLUMN last_activity_at, DROP COLUMN next_activity_at")
    op.execute("DROP TABLE activities")
