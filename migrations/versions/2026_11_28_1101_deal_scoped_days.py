"""Sales by source, campaign or country under a pipeline or owner filter from a daily rollup:
`deal_scoped_day_totals`.

deal_attribution_day_totals (20261127_0801-0803) counts each deal event once per attribute, so it answers a
request grouped by source, campaign or country only without a filter; deal_day_totals (20261126_0703) has the
filters' keys (pipeline, owner) but not those attributes. With a filter, such a request read the deals and
stage stays: a year by source of one pipeline was 1,191 ms at 1M deals (bench/RESULTS.md), 1,035 ms of it
hash-joining a year's 191,000 proposal-stage entries with the pipeline's 400,000 deals.

This rollup counts the same events (created, won, lost, proposal entries) once per scope and attribute:
under ('pipeline', the deal's pipeline) and ('owner', its owner, if any), each with ('source', 'campaign',
'country'); so one pipeline's (or owner's) year by source is its own narrow rows, found by the index's
prefix (kind, scope, scope_id, attribute) and the day range. Every row also carries the deal's pipeline (last
in the key): an owner's rows answer for one of the owner's pipelines too (both filters; from the records that
was 176-330 ms).

Kept as deal_attribution_day_totals is, by the same triggers generated for this table (0801's Attribution):
deals inserted, changed in a scope, attribute or trash state, deleted outright; stays added, moved, removed;
a stage's is_proposal flipped; the tenant's time zone changed (`crm_kpi_scoped_rebuild`).

Revision ID: 20261128_1101
Revises: 20261127_1002
Create Date: 2026-11-28
"""

from crm_api.migrate import migration_module

revision = "20261128_1101"
down_revision = "20261127_1002"
branch_labels = None
depends_on = None

attribution = migration_module("2026_11_27_0801_deal_attribution_days.py")
attribution.base.COLUMNS.update(scope="varchar(8) NOT NULL", scope_id="uuid NOT NULL")
SCOPED = attribution.Attribution(
    {"source": "source", "campaign": "campaign_id", "country": "company_country"},
    table="deal_scoped_day_totals", name="scoped", scopes={"pipeline": "pipeline_id", "owner": "owner_id"})


def upgrade() -> None:
    SCOPED.create()


def downgrade() -> None:
    SCOPED.drop()
