"""Leads' `q` through the search-term index, like contacts, companies and deals.

Leads searched a generated `search_text` with LIKE, which row-level security keeps off every
index (its trigram index was dropped in 20261125_0203 for that reason): a scan of the tenant's
leads per search. The generated column goes; the terms come from the same columns through
`crm_search_collect` and `crm_search_reindex` (20261125_0201/0202).

Revision ID: 20261125_0204
Revises: 20261125_0706
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0204"
down_revision = "20261125_0706"
branch_labels = None
depends_on = None

COLUMNS = ("first_name", "last_name", "email", "company_name")


def upgrade() -> None:
    names = ", ".join(COLUMNS)
    quoted = ", ".join(f"'{c}'" for c in COLUMNS)
    op.execute("ALTER TABLE leads DROP COLUMN search_text")
    op.execute("ALTER TABLE leads ADD COLUMN search_terms text[] NOT NULL DEFAULT '{}'")
    # The backfill reads and writes every tenant's rows (FORCE lifted for this transaction only) and
    # changes nothing the table's own triggers care about (they are off for it).
    for table in ("leads", "search_terms"):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE leads DISABLE TRIGGER USER")
    op.execute(f"UPDATE leads SET search_terms = crm_search_words(concat_ws(' ', {names}))")
    op.execute("ALTER TABLE leads ENABLE TRIGGER USER")
    op.execute("""INSERT INTO search_terms (tenant_id, object_type, term, record_id)
                  SELECT tenant_id, 'lead', unnest(search_terms), id FROM leads""")
    for table in ("leads", "search_terms"):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"""CREATE TRIGGER leads_search_terms_collect BEFORE INSERT OR UPDATE OF {names} ON leads
                   FOR EACH ROW EXECUTE FUNCTION crm_search_collect({quoted})""")
    op.execute("""CREATE TRIGGER leads_search_terms_write AFTER INSERT OR DELETE ON leads
                  FOR EACH ROW EXECUTE FUNCTION crm_search_reindex('lead')""")
    op.execute("""CREATE TRIGGER leads_search_terms_change AFTER UPDATE ON leads FOR EACH ROW
                  WHEN (OLD.search_terms IS DISTINCT FROM NEW.search_terms)
                  EXECUTE FUNCTION crm_search_reindex('lead')""")


def downgrade() -> None:
    for trigger in ("collect", "write", "change"):
        op.execute(f"DROP TRIGGER leads_search_terms_{trigger} ON leads")
    op.execute("ALTER TABLE leads DROP COLUMN search_terms")
    op.execute("DELETE FROM search_terms WHERE object_type = 'lead'")
    op.execute("""ALTER TABLE leads ADD COLUMN search_text text GENERATED ALWAYS AS (lower(
                      coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, '') || ' ' ||
                      coalesce(company_name, ''))) STORED""")
