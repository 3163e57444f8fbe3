"""Case-insensitive filters and lookups that row-level security lets use an index: stored keys.

Under RLS a query's own conditions run inside an index only when they are leakproof; `lower()`
is not, so `lower(address_city) = $1`, `lower(domain) = $1` and the lead-email check read the
tenant's rows one by one. Each such column gets a stored lower-cased key, compared with `=`
(leakproof) against `lower($1)` (a function of the parameter alone, which is allowed), and the
expression indexes move to the keys, with the list order after them.

The trigram indexes go: their operators are not leakproof either, so the app role never used
them (`q` reads the search-term index), and each write paid for maintaining them.

Revision ID: 20261125_0203
Revises: 20261125_0704
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0203"
down_revision = "20261125_0704"
branch_labels = None
depends_on = None

LIVE = "WHERE deleted_at IS NULL"
# table -> [(key column, source column, index name it replaces)]
KEYS = {
    "contacts": [("address_city_key", "address_city", "contacts_city_idx")],
    "companies": [("address_city_key", "address_city", "companies_city_idx"),
                  ("domain_key", "domain", "companies_domain_idx"),
                  ("industry_key", "industry", None),
                  ("name_key", "name", None)],
    "leads": [("email_key", "email", None)],
}
TRIGRAM_INDEXES = {
    "contacts_search_idx": "contacts USING gin (tenant_id, search_text gin_trgm_ops)",
    "companies_name_trgm_idx": "companies USING gin (tenant_id, lower(name) gin_trgm_ops)",
    "deals_title_trgm_idx": "deals USING gin (tenant_id, lower(title) gin_trgm_ops)",
    "leads_search_idx": "leads USING gin (tenant_id, search_text gin_trgm_ops)",
}


def upgrade() -> None:
    for table, keys in KEYS.items():
        for key, source, replaced in keys:
            op.execute(f"ALTER TABLE {table} ADD COLUMN {key} text GENERATED ALWAYS AS (lower({source})) STORED")
            if replaced:
                op.execute(f"DROP INDEX {replaced}")
            if key != "email_key" and key != "name_key":
                op.execute(f"CREATE INDEX {table}_{key}_idx ON {table} (tenant_id, {key}, created_at, id) {LIVE}")
    # A lead's email is unique per tenant, case-insensitively: the unique index moves to the key.
    op.execute("DROP INDEX leads_email_key")
    op.execute(f"CREATE UNIQUE INDEX leads_email_key ON leads (tenant_id, email_key) {LIVE} AND email IS NOT NULL")
    # Lead conversion finds a company by its name: an equality on the key.
    op.execute(f"CREATE INDEX companies_name_key_idx ON companies (tenant_id, name_key) {LIVE}")
    for index in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {index}")


def downgrade() -> None:
    for index, definition in TRIGRAM_INDEXES.items():
        op.execute(f"CREATE INDEX {index} ON {definition} {LIVE}")
    op.execute("DROP INDEX companies_name_key_idx")
    op.execute("DROP INDEX leads_email_key")
    op.execute(f"CREATE UNIQUE INDEX leads_email_key ON leads (tenant_id, lower(email)) {LIVE} AND email IS NOT NULL")
    for table, keys in KEYS.items():
        for key, source, replaced in keys:
            if key != "email_key" and key != "name_key":
                op.execute(f"DROP INDEX {table}_{key}_idx")
            if replaced:
                op.execute(f"CREATE INDEX {replaced} ON {table} (tenant_id, lower({source})) {LIVE}")
            op.execute(f"ALTER TABLE {table} DROP COLUMN {key}")
