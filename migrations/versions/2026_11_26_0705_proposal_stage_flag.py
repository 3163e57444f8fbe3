"""A stage's is_proposal changing updates only that stage's stays in the proposal rollup, not the tenant's.

20261126_0704 rebuilt the tenant's proposal rows and every prev_proposal_at when a stage's is_proposal
changed: at 1M deals that is seconds of work in a PATCH of one stage. Now the stays of the changed stages add
(flag on) or remove (flag off) their entries under their deals' current keys, and prev_proposal_at is
recomputed for the deals with stays in those stages only.

Revision ID: 20261126_0705
Revises: 20261126_0704
Create Date: 2026-11-26
"""

from alembic import op

from crm_api.migrate import migration_module

revision = "20261126_0705"
down_revision = "20261126_0704"
branch_labels = None
depends_on = None


FLIPPED = """SELECT n.tenant_id, n.id, n.is_proposal FROM new_rows n
             JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id WHERE n.is_proposal <> o.is_proposal"""


def upgrade() -> None:
    base = migration_module("2026_11_26_0704_proposal_days.py")
    entries = f"""
        SELECT h.tenant_id, (h.entered_at AT TIME ZONE z.time_zone)::date AS day, d.pipeline_id, d.owner_id,
               CASE WHEN f.is_proposal THEN 1 ELSE -1 END AS n
        FROM deal_stage_history h
        JOIN ({FLIPPED}) f ON f.tenant_id = h.tenant_id AND f.id = h.stage_id
        JOIN deals d ON d.tenant_id = h.tenant_id AND d.id = h.deal_id AND d.deleted_at IS NULL
        JOIN tenants z ON z.id = h.tenant_id"""
    deals = f"""SELECT DISTINCT h.tenant_id, h.deal_id FROM deal_stage_history h
                JOIN ({FLIPPED}) f ON f.tenant_id = h.tenant_id AND f.id = h.stage_id"""
    op.execute(f"""
        CREATE OR REPLACE FUNCTION deal_proposals_stages() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS ({FLIPPED}) THEN
                {base.previous(deals)};
                {base.upsert(entries)};
            END IF;
            RETURN NULL;
        END $$""")


def downgrade() -> None:
    op.execute(migration_module("2026_11_26_0704_proposal_days.py").STAGES)
