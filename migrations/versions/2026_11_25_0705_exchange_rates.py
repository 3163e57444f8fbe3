"""Exchange rates a tenant sets: how many units of its default currency one unit of another currency is worth.

Money KPIs stay per currency; with rates set they are also given converted into the default currency.

Revision ID: 20261125_0705
Revises: 20261125_0203
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0705"
down_revision = "20261125_0203"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE exchange_rates (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            currency varchar(3) NOT NULL,
            rate numeric(24, 10) NOT NULL CHECK (rate > 0),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, currency)
        )""")
    op.execute("ALTER TABLE exchange_rates ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE exchange_rates FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON exchange_rates USING (tenant_id = crm_current_tenant())")


def downgrade() -> None:
    op.execute("DROP TABLE exchange_rates")
