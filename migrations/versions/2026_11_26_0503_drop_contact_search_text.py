"""contacts.search_text goes: nothing reads it since duplicates moved to the search-term index.

It was the lower-cased name, email, phones and company name for trigram search (`%>`, `similarity`),
which row-level security kept off every index; `q` (20261125_0201) and then `GET /v1/contacts/duplicates`
(contacts/service.py, 20261126) moved to `search_terms`. The BEFORE trigger `contacts_search_text`
keeps its name and now computes only `search_terms`; every insert and update of a searched column no
longer writes a second copy of those columns.

Revision ID: 20261126_0503
Revises: 20261126_0706
Create Date: 2026-11-26
"""

from alembic import op

revision = "20261126_0503"
down_revision = "20261126_0706"
branch_labels = None
depends_on = None

COMPANY_NAME = "(SELECT c.name FROM companies c WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.company_id)"


def _trigger_function(with_text: bool) -> str:
    text = """NEW.search_text := lower(concat_ws(' ', NEW.first_name, NEW.last_name, NEW.email, NEW.phone,
                                               NEW.mobile, company_name));""" if with_text else ""
    return f"""
        CREATE OR REPLACE FUNCTION contacts_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            company_name text := {COMPANY_NAME};
        BEGIN
            {text}
            NEW.search_terms := crm_contact_search_terms(NEW.first_name, NEW.last_name, NEW.email, NEW.phone,
                                                         NEW.mobile, company_name);
            RETURN NEW;
        END $$"""


def upgrade() -> None:
    op.execute(_trigger_function(with_text=False))
    op.execute("ALTER TABLE contacts DROP COLUMN search_text")


def downgrade() -> None:
    op.execute("ALTER TABLE contacts ADD COLUMN search_text text")
    op.execute(_trigger_function(with_text=True))
    # Backfill as the owner with FORCE lifted (every tenant's rows), the table's own triggers off.
    op.execute("ALTER TABLE contacts NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE contacts DISABLE TRIGGER USER")
    op.execute("""UPDATE contacts ct SET search_text = lower(concat_ws(' ', ct.first_name, ct.last_name, ct.email,
                      ct.phone, ct.mobile, (SELECT c.name FROM companies c
                                            WHERE c.tenant_id = ct.tenant_id AND c.id = ct.company_id)))""")
    op.execute("ALTER TABLE contacts ENABLE TRIGGER USER")
    op.execute("ALTER TABLE contacts FORCE ROW LEVEL SECURITY")
