"""record_values: custom-field values and array members (tags, a deal's contact_ids) as rows compared with `=`.

Under row-level security PostgreSQL uses an index only for leakproof conditions; jsonb `@>` (custom
fields) and array `@>` (tags, contact_ids) are not, so those filters scanned every row of the tenant
behind the policy (1.7 s for a deal's contact_id at 1,000,000 deals). Every live record's values are
kept in one table, one row per (record type, key, value, record), by row triggers on each record table
(any writer: the API, COPY, an owner's UPDATE, the purge). Filters become a semi-join on the primary key
with plain equality on text, which is leakproof.

- key: the custom field key, or `#<column>` for an array column (`#tags`, `#contact_ids`); custom field
  keys are lower-case letters, digits and underscores, so they never start with `#`.
- value: `s:<text>`, `n:<number, trailing zeros trimmed>`, `b:true|false` (the type keeps `"1"` apart from
  `1`, as containment did); an array value (multiselect) gives one row per element. Values longer than
  200 characters are stored as their first 160 characters, `#` and their md5, so the btree never holds a
  10,000-character text; `crm_api.kit.record_values` computes the same keys for filter values.
- Trashed records have no rows (every list filters on live records); restore puts them back.

The GIN indexes those filters used are dropped (nothing else reads them); activities keep theirs on
contact_ids, which their timelines use.

Revision ID: 20261125_0302
Revises: 20261125_0301
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0302"
down_revision = "20261125_0301"
branch_labels = None
depends_on = None

# Record tables: (table, object type, array columns indexed as `#<column>`).
TABLES = [("contacts", "contact", ["tags"]), ("companies", "company", ["tags"]), ("deals", "deal", ["contact_ids"]),
          ("leads", "lead", []), ("cases", "case", ["tags"]), ("activities", "activity", []),
          ("campaigns", "campaign", [])]
GIN_INDEXES = {"contacts": ["contacts_tags_idx", "contacts_custom_fields_idx"],
               "companies": ["companies_tags_idx", "companies_custom_fields_idx"],
               "deals": ["deals_contacts_idx", "deals_custom_fields_idx"], "leads": ["leads_custom_fields_idx"],
               "cases": ["cases_tags_idx", "cases_custom_fields_idx"], "activities": ["activities_custom_fields_idx"]}
LIVE = "WHERE deleted_at IS NULL"


def _args(object_type: str, arrays: list[str]) -> str:
    return ", ".join(f"'{a}'" for a in [object_type, *arrays])


def upgrade() -> None:
    op.execute("""
        CREATE TABLE record_values (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            object_type varchar(32) NOT NULL,
            key varchar(65) NOT NULL,
            value text NOT NULL,
            record_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, object_type, key, value, record_id)
        )""")
    op.execute("""
        CREATE FUNCTION record_value_key(value text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN length(value) <= 200 THEN value ELSE left(value, 160) || '#' || md5(value) END
        $$""")
    # A JSON value as keys: a scalar gives one, an array one per scalar element; null and objects none.
    op.execute("""
        CREATE FUNCTION record_value_keys(value jsonb) RETURNS SETOF text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT record_value_key(CASE jsonb_typeof(e)
                WHEN 'string' THEN 's:' || (e #>> '{}')
                WHEN 'number' THEN 'n:' || trim_scale(e::numeric)::text
                WHEN 'boolean' THEN 'b:' || e::text END)
            FROM (SELECT value AS e WHERE jsonb_typeof(value) <> 'array'
                  UNION ALL
                  SELECT x FROM jsonb_array_elements(CASE WHEN jsonb_typeof(value) = 'array' THEN value
                                                     ELSE '[]' END) AS x) AS elements
            WHERE jsonb_typeof(e) IN ('string', 'number', 'boolean')
        $$""")
    # The (key, value) rows of one record given as jsonb, with the names of its indexed array columns.
    op.execute("""
        CREATE FUNCTION record_value_rows(record jsonb, arrays text[]) RETURNS TABLE (key text, value text)
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT f.key, v FROM jsonb_each(coalesce(record -> 'custom_fields', '{}')) AS f,
                                 record_value_keys(f.value) AS v
            UNION
            SELECT '#' || c, v FROM unnest(arrays) AS c, record_value_keys(record -> c) AS v
        $$""")
    # Row trigger of every record table; arguments: the object type, then the array columns.
    op.execute("""
        CREATE FUNCTION record_values_sync() RETURNS trigger LANGUAGE plpgsql AS $$
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
                INSERT INTO record_values (tenant_id, object_type, key, value, record_id)
                SELECT NEW.tenant_id, kind, n.key, n.value, NEW.id FROM record_value_rows(to_jsonb(NEW), arrays) AS n
                ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END $$""")

    for table, object_type, arrays in TABLES:
        args = _args(object_type, arrays)
        columns = ["custom_fields", "deleted_at", *arrays]
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
        op.execute(f"""CREATE TRIGGER {table}_values_insert AFTER INSERT ON {table}
                       FOR EACH ROW WHEN (NEW.deleted_at IS NULL) EXECUTE FUNCTION record_values_sync({args})""")
        op.execute(f"""CREATE TRIGGER {table}_values_update AFTER UPDATE OF {', '.join(columns)} ON {table}
                       FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION record_values_sync({args})""")
        op.execute(f"""CREATE TRIGGER {table}_values_delete AFTER DELETE ON {table}
                       FOR EACH ROW WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION record_values_sync({args})""")
        # Backfill as the owner, with FORCE lifted so that every tenant's rows are read.
        record = "jsonb_build_object(" + ", ".join(f"'{c}', t.{c}" for c in ["custom_fields", *arrays]) + ")"
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"""
            INSERT INTO record_values (tenant_id, object_type, key, value, record_id)
            SELECT t.tenant_id, '{object_type}', v.key, v.value, t.id
            FROM {table} t, record_value_rows({record}, ARRAY[{', '.join(f"'{a}'" for a in arrays)}]::text[]) AS v
            WHERE t.deleted_at IS NULL""")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        for index in GIN_INDEXES.get(table, []):
            op.execute(f"DROP INDEX {index}")

    # A contact purged from the trash leaves the deals it was on: live ones found through record_values,
    # trashed ones (which have no rows there) through the trash index.
    op.execute("""
        CREATE OR REPLACE FUNCTION contacts_leave_deals() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE deals SET contact_ids = array_remove(contact_ids, OLD.id)
            WHERE tenant_id = OLD.tenant_id AND contact_ids @> ARRAY[OLD.id] AND (
                id IN (SELECT record_id FROM record_values WHERE tenant_id = OLD.tenant_id AND object_type = 'deal'
                       AND key = '#contact_ids' AND value = record_value_key('s:' || OLD.id::text))
                OR deleted_at IS NOT NULL);
            RETURN NULL;
        END $$""")

    op.execute("ALTER TABLE record_values ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE record_values FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON record_values USING (tenant_id = crm_current_tenant())")


def downgrade() -> None:
    op.execute("""
        CREATE OR REPLACE FUNCTION contacts_leave_deals() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE deals SET contact_ids = array_remove(contact_ids, OLD.id)
            WHERE tenant_id = OLD.tenant_id AND contact_ids @> ARRAY[OLD.id];
            RETURN NULL;
        END $$""")
    for table, _, _ in TABLES:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_values_{event} ON {table}")
    for table, indexes in GIN_INDEXES.items():
        for index in indexes:
            column = {"custom_fields": "custom_fields jsonb_path_ops", "contacts": "contact_ids",
                      "tags": "tags"}[index.removeprefix(f"{table}_").removesuffix("_idx")]
            op.execute(f"CREATE INDEX {index} ON {table} USING gin (tenant_id, {column}) {LIVE}")
    op.execute("DROP TABLE record_values")
    op.execute("DROP FUNCTION record_values_sync(), record_value_rows(jsonb, text[]), record_value_keys(jsonb), "
               "record_value_key(text)")
