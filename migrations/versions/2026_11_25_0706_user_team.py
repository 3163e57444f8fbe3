"""Users belong to an optional team: sales KPIs group by the owner's team.

Revision ID: 20261125_0706
Revises: 20261125_0304
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0706"
down_revision = "20261125_0304"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE users ADD COLUMN team varchar(100)")


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP COLUMN team")
