"""Report digests: each user's digest settings, and one row per digest sent (claimed before it is sent).

Revision ID: 20261124_0702
Revises: 20261124_0701
Create Date: 2026-11-24
"""

from alembic import op

revision = "20261124_0702"
down_revision = "20261124_0701"
branch_labels = None
depends_on = None

TABLES = ["digest_settings", "digest_deliveries"]


def upgrade() -> None:
    op.execute("""
        CREATE TABLE digest_settings (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            user_id uuid NOT NULL,
            frequency varchar(8) NOT NULL DEFAULT 'off' CHECK (frequency IN ('off', 'daily', 'weekly')),
            hour smallint NOT NULL DEFAULT 7 CHECK (hour BETWEEN 0 AND 23),
            weekday smallint NOT NULL DEFAULT 0 CHECK (weekday BETWEEN 0 AND 6),
            sections text[] NOT NULL DEFAULT '{numbers,follow_ups,stale_deals}',
            enabled_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now(),
            version integer NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, user_id),
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
        )""")
    op.execute("CREATE INDEX digest_settings_due_idx ON digest_settings (tenant_id, frequency) "
               "WHERE frequency <> 'off'")
    # The primary key is the once-only guarantee: a period's digest is claimed (committed) before it is sent.
    op.execute("""
        CREATE TABLE digest_deliveries (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            user_id uuid NOT NULL,
            frequency varchar(8) NOT NULL,
            period_start date NOT NULL,
            claimed_at timestamptz NOT NULL DEFAULT now(),
            sent_at timestamptz,
            PRIMARY KEY (tenant_id, user_id, frequency, period_start),
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
        )""")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (tenant_id = crm_current_tenant())")


def downgrade() -> None:
    op.execute("DROP TABLE digest_deliveries, digest_settings")
