"""Campaigns, campaign_id on leads, contacts and deals, is_proposal on stages, indexes for KPIs.

Free-text lead campaigns become campaign rows: one per tenant and case-insensitive name (channel
`other`, status `active`), and each lead points at its campaign; the text column is dropped
(downgrade writes the names back).

Revision ID: 20261124_0701
Revises: 20261124_0002
Create Date: 2026-11-24
"""

from alembic import op

revision = "20261124_0701"
down_revision = "20261124_0002"
branch_labels = None
depends_on = None

LIVE = "WHERE deleted_at IS NULL"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE campaigns (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            name varchar(200) NOT NULL,
            channel varchar(16) NOT NULL CHECK (channel IN ('email', 'event', 'advertising', 'social', 'content',
                'referral', 'other')),
            status varchar(16) NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'active', 'paused',
                'completed', 'cancelled')),
            starts_on date,
            ends_on date,
            cost_amount numeric(20, 4) CHECK (cost_amount >= 0),
            cost_currency varchar(3),
            owner_id uuid,
            custom_fields jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            version integer NOT NULL DEFAULT 1,
            deleted_at timestamptz,
            PRIMARY KEY (tenant_id, id),
            CHECK (ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on),
            CHECK ((cost_amount IS NULL) = (cost_currency IS NULL)),
            FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (owner_id)
        )""")
    op.execute(f"CREATE UNIQUE INDEX campaigns_name_key ON campaigns (tenant_id, lower(name)) {LIVE}")
    for name, columns in [("created", "created_at, id"), ("updated", "updated_at, id"),
                          ("starts", "starts_on, id"), ("channel", "channel, created_at, id"),
                          ("status", "status, created_at, id")]:
        op.execute(f"CREATE INDEX campaigns_{name}_idx ON campaigns (tenant_id, {columns}) {LIVE}")
    op.execute("CREATE INDEX campaigns_trash_idx ON campaigns (deleted_at) WHERE deleted_at IS NOT NULL")

    for table in ("leads", "contacts", "deals"):
        op.execute(f"ALTER TABLE {table} ADD COLUMN campaign_id uuid")
        op.execute(f"""ALTER TABLE {table} ADD CONSTRAINT {table}_campaign_fkey FOREIGN KEY (tenant_id, campaign_id)
                       REFERENCES campaigns (tenant_id, id) ON DELETE SET NULL (campaign_id)""")
        op.execute(f"""CREATE INDEX {table}_campaign_id_idx ON {table} (tenant_id, campaign_id, created_at, id)
                       {LIVE} AND campaign_id IS NOT NULL""")

    # Runs as the owner before RLS exists on campaigns, so every tenant's leads are seen.
    op.execute("""
        INSERT INTO campaigns (tenant_id, id, name, channel, status)
        SELECT tenant_id, gen_random_uuid(), min(btrim(campaign)), 'other', 'active' FROM leads
        WHERE campaign IS NOT NULL AND btrim(campaign) <> ''
        GROUP BY tenant_id, lower(btrim(campaign))""")
    op.execute("""
        UPDATE leads l SET campaign_id = c.id FROM campaigns c
        WHERE c.tenant_id = l.tenant_id AND lower(c.name) = lower(btrim(l.campaign))""")
    op.execute("ALTER TABLE leads DROP COLUMN campaign")

    op.execute("ALTER TABLE pipeline_stages ADD COLUMN is_proposal boolean NOT NULL DEFAULT false")
    op.execute("UPDATE pipeline_stages SET is_proposal = true WHERE lower(name) = 'proposal'")

    # KPI periods: deals won or lost in a period, cases resolved in one.
    op.execute(f"CREATE INDEX deals_won_idx ON deals (tenant_id, won_at) {LIVE} AND won_at IS NOT NULL")
    op.execute(f"CREATE INDEX deals_lost_idx ON deals (tenant_id, lost_at) {LIVE} AND lost_at IS NOT NULL")
    op.execute("CREATE INDEX deal_stage_history_stage_idx ON deal_stage_history (tenant_id, stage_id, entered_at)")
    op.execute(f"CREATE INDEX cases_resolved_idx ON cases (tenant_id, resolved_at) {LIVE} AND resolved_at IS NOT NULL")

    op.execute("ALTER TABLE campaigns ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE campaigns FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON campaigns USING (tenant_id = crm_current_tenant())")


def downgrade() -> None:
    op.execute("DROP INDEX cases_resolved_idx")
    op.execute("DROP INDEX deal_stage_history_stage_idx")
    op.execute("DROP INDEX deals_lost_idx")
    op.execute("DROP INDEX deals_won_idx")
    op.execute("ALTER TABLE pipeline_stages DROP COLUMN is_proposal")
    op.execute("ALTER TABLE leads ADD COLUMN campaign varchar(200)")
    op.execute("""UPDATE leads l SET campaign = c.name FROM campaigns c
                  WHERE c.tenant_id = l.tenant_id AND c.id = l.campaign_id""")
    op.execute(f"CREATE INDEX leads_campaign_idx ON leads (tenant_id, lower(campaign), created_at, id) {LIVE}")
    for table in ("leads", "contacts", "deals"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN campaign_id")
    op.execute("DROP TABLE campaigns")
