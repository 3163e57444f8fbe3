"""record_values carry their record's created_at, indexed after the value: a tag page newest first is bounded.

`GET /v1/contacts?tag=x` (newest first) was a semi-join on record_values' primary key, (tenant, type,
key, value, record_id). Nothing there is in the list's order, so PostgreSQL either walked the contacts'
created_at index and probed record_values for each contact (cheap for a tag on a third of the contacts,
a walk of thousands of contacts for a rare one), or read every row of the tag and every one of its
contacts and sorted them (a rare tag's 3,000 contacts; a middling one's 30,000). With the record's
created_at in the row and an index (tenant, type, key, value, created_at, record_id), a page of a value
is read newest first straight from that index, 51 entries and 51 contact lookups, however common the
value is; the join also says `created_at = contacts.created_at`, so the planner knows the index gives
the list's order (kit/record_values.py, `newest_with_value`).

The column is written by `record_values_sync()` (the row triggers of every record table), which now also
runs when a record's created_at changes (an owner's UPDATE: the API never changes it).

Revision ID: 20261126_0501
Revises: 20261126_0702
Create Date: 2026-11-26
"""

from alembic import op

revision = "20261126_0501"
down_revision = "20261126_0702"
branch_labels = None
depends_on = None

# Record tables: (table, object type, the array columns their triggers index), as in 20261125_0302/0304.
TABLES = [("contacts", "contact", ["tags"]), ("companies", "company", ["tags"]), ("deals", "deal", ["contact_ids"]),
          ("leads", "lead", []), ("cases", "case", ["tags"]), ("activities", "activity", ["contact_ids"]),
          ("campaigns", "campaign", [])]

SYNC = """
    CREATE OR REPLACE FUNCTION record_values_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        kind text := TG_ARGV[0];
        arrays text[] := TG_ARGV[1:TG_NARGS - 1];
    BEGIN
        IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL THEN
            DELETE FROM record_values r USING record_value_rows(to_jsonb(OLD), arrays) AS o
            WHERE r.tenant_id = OLD.tenant_id AND r.object_type = kind AND r.key = o.key
              AND r.value = o.value AND r.record_id = OLD.id;
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
            INSERT INTO record_values (tenant_id, object_type, key, value, record_id{created})
            SELECT NEW.tenant_id, kind, n.key, n.value, NEW.id{new_created}
            FROM record_value_rows(to_jsonb(NEW), arrays) AS n
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END $$"""


def _update_triggers(extra: list[str]) -> None:
    for table, object_type, arrays in TABLES:
        args = ", ".join(f"'{a}'" for a in [object_type, *arrays])
        columns = ["custom_fields", "deleted_at", *arrays, *extra]
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
        op.execute(f"DROP TRIGGER {table}_values_update ON {table}")
        op.execute(f"""CREATE TRIGGER {table}_values_update AFTER UPDATE OF {', '.join(columns)} ON {table}
                       FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION record_values_sync({args})""")


def upgrade() -> None:
    op.execute("ALTER TABLE record_values ADD COLUMN created_at timestamptz")
    # The backfill reads and writes every tenant's rows: FORCE lifted for this transaction only.
    lifted = ["record_values", "record_values_other", *(f"record_values_{kind}" for _, kind, _ in TABLES),
              *(table for table, _, _ in TABLES)]
    for table in lifted:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    for table, object_type, _ in TABLES:
        op.execute(f"""UPDATE record_values_{object_type} r SET created_at = t.created_at FROM {table} t
                       WHERE t.tenant_id = r.tenant_id AND t.id = r.record_id""")
    # Rows of no record (none are expected: a record's delete trigger removes its rows).
    op.execute("DELETE FROM record_values WHERE created_at IS NULL")
    for table in lifted:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE record_values ALTER COLUMN created_at SET NOT NULL")
    op.execute("CREATE INDEX record_values_newest ON record_values (tenant_id, object_type, key, value, created_at, "
               "record_id)")
    op.execute(SYNC.format(created=", created_at", new_created=", NEW.created_at"))
    _update_triggers(["created_at"])
    op.execute("ANALYZE record_values")


def downgrade() -> None:
    _update_triggers([])
    op.execute(SYNC.format(created="", new_created=""))
    op.execute("DROP INDEX record_values_newest")
    op.execute("ALTER TABLE record_values DROP COLUMN created_at")
