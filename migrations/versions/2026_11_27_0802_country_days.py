"""Sales grouped by country from the daily rollups: the company's country kept on deals and activities.

Sales group by country as the address country of the deal's (or call's, meeting's) company. That was a
correlated lookup of the company per row, and no rollup had a company, so a year by country read every deal,
stage entry and activity of the year and looked up each one's company. Now:

- `deals.company_country` and `activities.company_country`: the company's `address_country`, set by a BEFORE
  row trigger when the row is inserted or its company_id changes (also by the SET NULL of a deleted company),
  and by a trigger on companies when a company's country changes (its deals and activities updated: their own
  triggers then move their rollup rows).
- deal_attribution_day_totals (20261127_0801) gains the attribute 'country' (created, won, lost, proposals).
- activity_country_day_totals: calls (by occurred_at) and meetings (by starts_at) per tenant-local day, type and
  country; the same Rollup triggers as activity_day_totals, rebuilt with the others on a time-zone change.

Revision ID: 20261127_0802
Revises: 20261127_0801
Create Date: 2026-11-27
"""

from alembic import op

from crm_api.migrate import migration_module

revision = "20261127_0802"
down_revision = "20261127_0801"
branch_labels = None
depends_on = None

base = migration_module("2026_11_26_0701_kpi_day_totals.py")
deal_keys = migration_module("2026_11_26_0703_deal_day_keys.py")
logged = migration_module("2026_11_26_0706_activities_logged_days.py")
cases = migration_module("2026_11_26_0707_case_day_totals.py")
attribution = migration_module("2026_11_27_0801_deal_attribution_days.py")
base.COLUMNS["country"] = "varchar(2)"
WITH_COUNTRY = {**attribution.ATTRIBUTES, "country": "company_country"}
ACTIVITY_COUNTRY = base.Rollup(
    "activity_country_day_totals", "activities", "day, type, country", {"count": "bigint"},
    base.ACTIVITIES.rows.replace("r.owner_id, {sign}1", "r.company_country AS country, {sign}1"))
assert ACTIVITY_COUNTRY.rows != base.ACTIVITIES.rows
TABLES = ("deals", "activities")


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION crm_company_country() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' OR NEW.company_id IS DISTINCT FROM OLD.company_id THEN
                NEW.company_country := (SELECT c.address_country FROM companies c
                                        WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.company_id);
            END IF;
            RETURN NEW;
        END $$""")
    updates = ";\n".join(f"""
                UPDATE {table} r SET company_country = n.address_country
                FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
                WHERE n.address_country IS DISTINCT FROM o.address_country
                  AND r.tenant_id = n.tenant_id AND r.company_id = n.id""" for table in TABLES)
    op.execute(f"""
        CREATE FUNCTION crm_company_country_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {updates};
            RETURN NULL;
        END $$""")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN company_country varchar(2)")
        # The backfill with the table's own triggers off: no rollup reads the new column yet.
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        op.execute(f"""UPDATE {table} r SET company_country = c.address_country FROM companies c
                       WHERE c.tenant_id = r.tenant_id AND c.id = r.company_id AND c.address_country IS NOT NULL""")
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"""CREATE TRIGGER {table}_company_country BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW
                       EXECUTE FUNCTION crm_company_country()""")
    op.execute("""CREATE TRIGGER companies_country_moved AFTER UPDATE ON companies
                  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION crm_company_country_moved()""")

    attribution.drop(attribution.ATTRIBUTES)
    attribution.create(WITH_COUNTRY)
    base.create_rollup(ACTIVITY_COUNTRY)
    base.create_rebuild((logged.LOGGED, deal_keys.NARROW, cases.CASES, ACTIVITY_COUNTRY))
    base.backfill(ACTIVITY_COUNTRY)


def downgrade() -> None:
    base.create_rebuild((logged.LOGGED, deal_keys.NARROW, cases.CASES))
    base.drop_rollup(ACTIVITY_COUNTRY)
    attribution.drop(WITH_COUNTRY)
    attribution.create(attribution.ATTRIBUTES)
    op.execute("DROP TRIGGER companies_country_moved ON companies")
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_company_country ON {table}")
        op.execute(f"ALTER TABLE {table} DROP COLUMN company_country")
    op.execute("DROP FUNCTION crm_company_country_moved()")
    op.execute("DROP FUNCTION crm_company_country()")
