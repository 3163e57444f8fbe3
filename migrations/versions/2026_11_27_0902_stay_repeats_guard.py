"""The funnel's stay trigger recomputes prev_stage_at only where the deal has another stay in the same stage.

20261127_0901's trigger ran its pointer UPDATE on every stay added or deleted. Almost always nothing changes
(a deal enters a stage it was not in before), but an UPDATE statement fires every statement-level UPDATE trigger
of the stays even for no row: at 1M deals that was about 0.6 of the 1.0 ms the funnel's triggers added to
inserting a stay (bench/kpis_write_cost.py). Now an index probe (the deal's stays) decides: only a stay added
or deleted next to another stay of the same deal in the same stage can change a pointer (its own, or the
later stay's), and a whole deal deleted skips it too.

Revision ID: 20261127_0902
Revises: 20261127_0901
Create Date: 2026-11-27
"""

from alembic import op

from crm_api.migrate import migration_module

revision = "20261127_0902"
down_revision = "20261127_0901"
branch_labels = None
depends_on = None


def function(guarded: bool) -> str:
    """deal_stays_funnel(): with `guarded`, pointers recomputed only next to another stay in the same stage;
    without, as 20261127_0901 made it."""
    days = migration_module("2026_11_27_0901_stay_day_totals.py")
    changed = days.attribution.changed

    def previous(rows: str) -> str:
        update = days.previous(f"SELECT tenant_id, deal_id FROM {rows}")
        if not guarded:
            return update
        return f"""
            IF EXISTS (SELECT FROM {rows} n JOIN deal_stage_history l ON l.tenant_id = n.tenant_id
                           AND l.deal_id = n.deal_id AND l.stage_id = n.stage_id AND l.id <> n.id) THEN
                {update};
            END IF"""

    moved = ("SELECT n.tenant_id, n.deal_id FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id "
             f"AND o.id = n.id WHERE {days.POINTER_KEYS} UNION SELECT o.tenant_id, o.deal_id FROM new_rows n "
             f"JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id WHERE {days.POINTER_KEYS}")
    return f"""
        CREATE OR REPLACE FUNCTION deal_stays_funnel() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {previous('new_rows')};
                {days.upsert(days.stays('new_rows', 'deals', ''))};
            ELSIF TG_OP = 'UPDATE' THEN
                IF EXISTS ({moved}) THEN
                    {days.previous(moved)};
                END IF;
                IF EXISTS {changed("n", days.ROLLUP_KEYS)} THEN
                    {days.upsert(days.stays(changed("n", days.ROLLUP_KEYS), 'deals', '') + ' UNION ALL '
                                 + days.stays(changed("o", days.ROLLUP_KEYS), 'deals', '-'))};
                END IF;
            ELSE
                {previous('old_rows')};
                {days.upsert(days.stays('old_rows', 'deals', '-'))};
            END IF;
            RETURN NULL;
        END $$"""


def upgrade() -> None:
    op.execute(function(guarded=True))


def downgrade() -> None:
    op.execute(function(guarded=False))
