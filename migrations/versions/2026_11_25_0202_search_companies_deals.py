"""Search terms for companies (name, domain) and deals (title), through one generic trigger.

`crm_search_collect(column, ...)` sets NEW.search_terms to the words of the named columns; the
AFTER trigger `crm_search_reindex(object_type)` (migration 20261125_0201) keeps `search_terms`
in step. `q` on companies and deals then uses the same index as contacts instead of LIKE, which
row-level security kept off every index.

Revision ID: 20261125_0202
Revises: 20261125_0303
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0202"
down_revision = "20261125_0303"
branch_labels = None
depends_on = None

# table -> (object type, searched columns)
SEARCHED = {"companies": ("company", ("name", "domain")), "deals": ("deal", ("title",))}


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION crm_search_collect() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            row_values jsonb := to_jsonb(NEW);
        BEGIN
            NEW.search_terms := crm_search_words(
                (SELECT string_agg(row_values ->> c, ' ') FROM unnest(TG_ARGV) AS c));
            RETURN NEW;
        END $$""")
    # The backfill reads and writes every tenant's rows: FORCE would hold an owner that is not a
    # superuser to the (unset) tenant policy, so it is lifted for this transaction only.
    for table in (*SEARCHED, "search_terms"):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    for table, (kind, columns) in SEARCHED.items():
        names = ", ".join(columns)
        quoted = ", ".join(f"'{c}'" for c in columns)
        op.execute(f"ALTER TABLE {table} ADD COLUMN search_terms text[] NOT NULL DEFAULT '{{}}'")
        # Only the new column changes: the table's own triggers (rollups, record_values, derived
        # fields) have nothing to do, and at a million rows running them took minutes.
        op.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        op.execute(f"UPDATE {table} SET search_terms = crm_search_words(concat_ws(' ', {names}))")
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        op.execute(f"""INSERT INTO search_terms (tenant_id, object_type, term, record_id)
                       SELECT tenant_id, '{kind}', unnest(search_terms), id FROM {table}""")
        op.execute(f"""CREATE TRIGGER {table}_search_terms_collect BEFORE INSERT OR UPDATE OF {names} ON {table}
                       FOR EACH ROW EXECUTE FUNCTION crm_search_collect({quoted})""")
        op.execute(f"""CREATE TRIGGER {table}_search_terms_write AFTER INSERT OR DELETE ON {table}
                       FOR EACH ROW EXECUTE FUNCTION crm_search_reindex('{kind}')""")
        op.execute(f"""CREATE TRIGGER {table}_search_terms_change AFTER UPDATE ON {table} FOR EACH ROW
                       WHEN (OLD.search_terms IS DISTINCT FROM NEW.search_terms)
                       EXECUTE FUNCTION crm_search_reindex('{kind}')""")
    for table in (*SEARCHED, "search_terms"):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    for table, (kind, _) in SEARCHED.items():
        for trigger in ("collect", "write", "change"):
            op.execute(f"DROP TRIGGER {table}_search_terms_{trigger} ON {table}")
        op.execute(f"ALTER TABLE {table} DROP COLUMN search_terms")
        op.execute(f"DELETE FROM search_terms WHERE object_type = '{kind}'")
    op.execute("DROP FUNCTION crm_search_collect()")
