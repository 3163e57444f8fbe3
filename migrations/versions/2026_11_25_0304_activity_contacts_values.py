"""Activities' contact_ids in record_values too, so `GET /v1/activities?contact_id=` is index-usable under RLS.

The filter was array containment (`contact_ids @> ARRAY[...]`), which row-level security keeps off the GIN
index (not leakproof), as it did for deals' contact_id (20261125_0302). The activities' row triggers now
pass `contact_ids` as an array column, and the live activities' contacts are backfilled as `#contact_ids`
rows. The GIN index stays: the timelines read contact_ids with containment.

Revision ID: 20261125_0304
Revises: 20261125_0705
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0304"
down_revision = "20261125_0705"
branch_labels = None
depends_on = None


def _triggers(arrays: list[str]) -> None:
    args = ", ".join(f"'{a}'" for a in ["activity", *arrays])
    columns = ["custom_fields", "deleted_at", *arrays]
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER activities_values_{event} ON activities")
    op.execute(f"""CREATE TRIGGER activities_values_insert AFTER INSERT ON activities
                   FOR EACH ROW WHEN (NEW.deleted_at IS NULL) EXECUTE FUNCTION record_values_sync({args})""")
    op.execute(f"""CREATE TRIGGER activities_values_update AFTER UPDATE OF {', '.join(columns)} ON activities
                   FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION record_values_sync({args})""")
    op.execute(f"""CREATE TRIGGER activities_values_delete AFTER DELETE ON activities
                   FOR EACH ROW WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION record_values_sync({args})""")


def upgrade() -> None:
    _triggers(["contact_ids"])
    # Backfill as the owner, with FORCE lifted so that every tenant's activities are read.
    op.execute("ALTER TABLE activities NO FORCE ROW LEVEL SECURITY")
    op.execute("""
        INSERT INTO record_values (tenant_id, object_type, key, value, record_id)
        SELECT a.tenant_id, 'activity', '#contact_ids', record_value_key('s:' || c::text), a.id
        FROM activities a, unnest(a.contact_ids) AS c WHERE a.deleted_at IS NULL
        ON CONFLICT DO NOTHING""")
    op.execute("ALTER TABLE activities FORCE ROW LEVEL SECURITY")
    op.execute("ANALYZE record_values_activity")


def downgrade() -> None:
    _triggers([])
    op.execute("DELETE FROM record_values WHERE object_type = 'activity' AND key = '#contact_ids'")
