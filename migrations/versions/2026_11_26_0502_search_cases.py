"""Cases' `q` through the search-term index: their subjects' words, like leads, deals and contacts.

Cases searched `subject ILIKE '%q%'`, which row-level security keeps off every index (its trigram index,
`cases_subject_trgm_idx`, could never be used by the app role, and is dropped): a scan of the tenant's
cases per search. The subject's words come into `search_terms` through `crm_search_collect` and
`crm_search_reindex` (20261125_0201/0202); the case number stays an exact lookup on `cases_number_key`,
OR-ed with the word match (cases/service.py).

Revision ID: 20261126_0502
Revises: 20261126_0705
Create Date: 2026-11-26
"""

from alembic import op

revision = "20261126_0502"
down_revision = "20261126_0705"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX cases_subject_trgm_idx")
    op.execute("ALTER TABLE cases ADD COLUMN search_terms text[] NOT NULL DEFAULT '{}'")
    # The backfill reads and writes every tenant's rows (FORCE lifted for this transaction only) and
    # changes nothing the table's own triggers care about (they are off for it).
    for table in ("cases", "search_terms"):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE cases DISABLE TRIGGER USER")
    op.execute("UPDATE cases SET search_terms = crm_search_words(subject)")
    op.execute("ALTER TABLE cases ENABLE TRIGGER USER")
    op.execute("""INSERT INTO search_terms (tenant_id, object_type, term, record_id)
                  SELECT tenant_id, 'case', unnest(search_terms), id FROM cases""")
    for table in ("cases", "search_terms"):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute("""CREATE TRIGGER cases_search_terms_collect BEFORE INSERT OR UPDATE OF subject ON cases
                  FOR EACH ROW EXECUTE FUNCTION crm_search_collect('subject')""")
    op.execute("""CREATE TRIGGER cases_search_terms_write AFTER INSERT OR DELETE ON cases
                  FOR EACH ROW EXECUTE FUNCTION crm_search_reindex('case')""")
    op.execute("""CREATE TRIGGER cases_search_terms_change AFTER UPDATE ON cases FOR EACH ROW
                  WHEN (OLD.search_terms IS DISTINCT FROM NEW.search_terms)
                  EXECUTE FUNCTION crm_search_reindex('case')""")
    op.execute("ANALYZE search_terms")


def downgrade() -> None:
    for trigger in ("collect", "write", "change"):
        op.execute(f"DROP TRIGGER cases_search_terms_{trigger} ON cases")
    op.execute("ALTER TABLE cases DROP COLUMN search_terms")
    op.execute("DELETE FROM search_terms WHERE object_type = 'case'")
    op.execute("CREATE INDEX cases_subject_trgm_idx ON cases USING gin (tenant_id, lower(subject) gin_trgm_ops) "
               "WHERE deleted_at IS NULL")
