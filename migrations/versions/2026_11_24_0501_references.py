"""References that could only be declared once their tables existed, and keys that die with their user.

- cases.deal_id references deals (the cases migration came before the pipeline's).
- An API key bound to a user is deleted with the user: SET NULL would have turned it into a
  tenant key without the user's role cap.

Revision ID: 20261124_0501
Revises: 20261124_0401
Create Date: 2026-11-24
"""

from alembic import op

revision = "20261124_0501"
down_revision = "20261124_0401"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE cases c SET deal_id = NULL WHERE deal_id IS NOT NULL AND NOT EXISTS "
               "(SELECT 1 FROM deals d WHERE d.tenant_id = c.tenant_id AND d.id = c.deal_id)")
    op.execute("""ALTER TABLE cases ADD CONSTRAINT cases_deal_fkey FOREIGN KEY (tenant_id, deal_id)
                  REFERENCES deals (tenant_id, id) ON DELETE SET NULL (deal_id)""")
    op.execute("ALTER TABLE api_keys DROP CONSTRAINT api_keys_tenant_id_user_id_fkey")
    op.execute("""ALTER TABLE api_keys ADD CONSTRAINT api_keys_tenant_id_user_id_fkey FOREIGN KEY (tenant_id, user_id)
                  REFERENCES users (tenant_id, id) ON DELETE CASCADE""")


def downgrade() -> None:
    op.execute("ALTER TABLE api_keys DROP CONSTRAINT api_keys_tenant_id_user_id_fkey")
    op.execute("""ALTER TABLE api_keys ADD CONSTRAINT api_keys_tenant_id_user_id_fkey FOREIGN KEY (tenant_id, user_id)
                  REFERENCES users (tenant_id, id) ON DELETE SET NULL (user_id)""")
    op.execute("ALTER TABLE cases DROP CONSTRAINT cases_deal_fkey")
