"""One owner's calls and meetings by country from a daily rollup: `activity_owner_country_day_totals`.

Sales grouped by country count calls and meetings per company country from activity_country_day_totals
(20261127_0802), which has no owner; with an owner filter they were counted from the activities themselves. At
5M activities that was 793 ms median, 996 max for a year by country of one owner (bench/RESULTS.md): the owner's
calls and meetings of the year, 40,000 rows fetched from the heap for their country.

This rollup counts the same activities (calls by occurred_at, meetings by starts_at, live ones, per
tenant-local day) per owner, day, type and country, with the owner first in its key: one owner's year is one
index range. Activities without an owner are not counted here (no owner filter selects them). Kept by the same
statement triggers as the other rollups of 20261126_0701, with its own rebuild on a time-zone change.

Revision ID: 20261128_1103
Revises: 20261128_1102
Create Date: 2026-11-28
"""

from crm_api.migrate import migration_module

revision = "20261128_1103"
down_revision = "20261128_1102"
branch_labels = None
depends_on = None

base = migration_module("2026_11_26_0701_kpi_day_totals.py")
attribution = migration_module("2026_11_27_0801_deal_attribution_days.py")
base.COLUMNS["country"] = "varchar(2)"
OWNER_COUNTRY = base.Rollup(
    "activity_owner_country_day_totals", "activities", "owner_id, day, type, country", {"count": "bigint"},
    base.ACTIVITIES.rows.replace("r.owner_id, {sign}1", "r.owner_id, r.company_country AS country, {sign}1")
    .replace("AND x.at IS NOT NULL", "AND x.at IS NOT NULL AND r.owner_id IS NOT NULL"))
assert OWNER_COUNTRY.rows.count("company_country") == 1 and OWNER_COUNTRY.rows.count("r.owner_id IS NOT NULL") == 1


def upgrade() -> None:
    attribution.create_own_rollup(base, OWNER_COUNTRY, "owner_country")


def downgrade() -> None:
    attribution.drop_own_rollup(base, OWNER_COUNTRY, "owner_country")
