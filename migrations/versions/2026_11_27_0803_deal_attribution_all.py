"""deal_attribution_day_totals also per owner, per pipeline and in all: the narrow rows of unfiltered requests.

deal_day_totals is keyed by local day, pipeline, owner and currency: a year of one kind is about 110,000 rows
at 1M deals (5 pipelines x 25 owners x currencies a day), 45-125 ms to sum on this machine, four kinds per
sales request (bench/RESULTS.md). Requests without an owner or pipeline filter need only one of those keys at a
time: the attribution rollup (20261127_0801) now also counts every deal event under ('owner', its owner),
('pipeline', its pipeline) and ('all', NULL), so a year of totals is days x currencies rows and a year by owner
days x owners x currencies. deal_day_totals stays for requests with a filter.

Revision ID: 20261127_0803
Revises: 20261127_0802
Create Date: 2026-11-27
"""

from crm_api.migrate import migration_module

revision = "20261127_0803"
down_revision = "20261127_0802"
branch_labels = None
depends_on = None

attribution = migration_module("2026_11_27_0801_deal_attribution_days.py")
country = migration_module("2026_11_27_0802_country_days.py")
EVERY = {**country.WITH_COUNTRY, "owner": "owner_id", "pipeline": "pipeline_id", "all": None}


def upgrade() -> None:
    attribution.drop(country.WITH_COUNTRY)
    attribution.create(EVERY)


def downgrade() -> None:
    attribution.drop(EVERY)
    attribution.create(country.WITH_COUNTRY)
