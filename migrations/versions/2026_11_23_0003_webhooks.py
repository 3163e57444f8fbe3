"""Webhook endpoints and deliveries.

Revision ID: 20261123_0003
Revises: 20261123_0002
Create Date: 2026-11-23
"""

from alembic import context, op

revision = "20261123_0003"
down_revision = "20261123_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE webhook_endpoints (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            url varchar(2048) NOT NULL,
            description varchar(500),
            event_types varchar[] NOT NULL,
            enabled boolean NOT NULL DEFAULT true,
            parallel boolean NOT NULL DEFAULT false,
            secret_encrypted bytea NOT NULL,
            previous_secret_encrypted bytea,
            previous_secret_expires_at timestamptz,
            cursor_sequence bigint NOT NULL DEFAULT 0,
            attempt integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz,
            failing_since timestamptz,
            lease_token uuid,
            lease_until timestamptz,
            disabled_reason varchar(200),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            version integer NOT NULL DEFAULT 1,
            deleted_at timestamptz,
            PRIMARY KEY (tenant_id, id)
        )""")
    op.execute("""CREATE INDEX webhook_endpoints_created_idx ON webhook_endpoints (tenant_id, created_at, id)
                  WHERE deleted_at IS NULL""")
    op.execute("""
        CREATE TABLE webhook_deliveries (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            endpoint_id uuid NOT NULL,
            event_id uuid NOT NULL,
            event_sequence bigint,
            event_type varchar(100) NOT NULL,
            attempt integer NOT NULL,
            status varchar(16) NOT NULL CHECK (status IN ('succeeded', 'failed')),
            response_status integer,
            duration_ms integer NOT NULL,
            response_body text,
            error varchar(500),
            next_retry_at timestamptz,
            manual boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
        )""")
    op.execute("""CREATE INDEX webhook_deliveries_endpoint_idx
                  ON webhook_deliveries (tenant_id, endpoint_id, created_at, id)""")
    for table in ("webhook_endpoints", "webhook_deliveries"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (tenant_id = crm_current_tenant())")

    # The sweeper finds endpoints with work across tenants through definer functions (the owner
    # alone may read every endpoint; the app role only executes them).
    op.execute("CREATE POLICY sweep ON webhook_endpoints FOR SELECT TO CURRENT_USER USING (true)")
    op.execute("CREATE POLICY sweep ON events FOR SELECT TO CURRENT_USER USING (true)")
    op.execute("""
        CREATE FUNCTION crm_webhook_due() RETURNS TABLE (tenant_id uuid, endpoint_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
            SELECT w.tenant_id, w.id FROM webhook_endpoints w JOIN tenants t ON t.id = w.tenant_id
            WHERE w.enabled AND w.deleted_at IS NULL AND w.cursor_sequence < t.event_seq
              AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= now())
              AND (w.lease_until IS NULL OR w.lease_until < now())
        $$""")
    op.execute("""
        CREATE FUNCTION crm_webhook_backlog() RETURNS TABLE (endpoints bigint, oldest timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
            SELECT count(*), min(e.created_at) FROM webhook_endpoints w
            JOIN events e ON e.tenant_id = w.tenant_id AND e.sequence = w.cursor_sequence + 1
            WHERE w.enabled AND w.deleted_at IS NULL
        $$""")
    op.execute("REVOKE ALL ON FUNCTION crm_webhook_due(), crm_webhook_backlog() FROM PUBLIC")
    role = context.config.attributes.get("app_role", "crm_app")
    op.execute(f"GRANT EXECUTE ON FUNCTION crm_webhook_due(), crm_webhook_backlog() TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION crm_webhook_backlog()")
    op.execute("DROP FUNCTION crm_webhook_due()")
    op.execute("DROP POLICY sweep ON events")
    op.execute("DROP TABLE webhook_deliveries, webhook_endpoints")
