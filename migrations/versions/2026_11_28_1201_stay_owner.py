"""/v1/kpis/funnel for one owner from the owner's own stays: the deal's owner kept on its stage stays.

The funnel without an owner filter reads the daily rollup deal_stay_day_totals (20261127_0901). With one, it read
every stay of the pipeline's period and kept those whose deal the owner owns: at 1M deals a year of the default
pipeline is 666,000 stays hash-joined with the owner's 38,000 deals (bench/RESULTS.md: 325 ms median, 493 max;
about 200 ms of EXPLAIN on a quiet machine). Now:

- `deal_stage_history.owner_id`: the owner of the stay's deal, set by a BEFORE row trigger when a stay is inserted,
  moved to another deal, or its owner_id written (always from the deal, so it cannot drift from it), and by a
  statement trigger on deals when deals' owners change (a PATCH, a bulk reassignment, the SET NULL of a purged
  user): their stays updated in one statement, run only when an owner did change (an UPDATE of no rows still
  fires every statement trigger of the stays). Its guard is counted and its changed deals fenced
  (20261128_1102's any_of and fence): linear in the deals a statement updates.
- An index on (tenant_id, pipeline_id, owner_id, entered_at) carrying what the funnel reads of a stay (deal_id,
  stage_id, left_at, advanced), for owned stays only: one owner's period is one index-only range read (25,000
  stays, 29 ms of EXPLAIN; 379 MB at 3.2M stays).

Trashed deals are still left out by the funnel's anti-join with the trashed deals: their stays keep the owner.
Writers: a deal's owner change now updates its stays (+0.5 ms for a deal with 5 stays, bench/kpis_write_cost.py;
38,000 deals reassigned in one statement, 120,783 stays: 28 s instead of 16 s). The backfill and the index took
194 s at 1M deals (3.2M stays).

Revision ID: 20261128_1201
Revises: 20261128_1301
Create Date: 2026-11-28
"""

from alembic import op

from crm_api.migrate import migration_module

revision = "20261128_1201"
down_revision = "20261128_1301"
branch_labels = None
depends_on = None

guards = migration_module("2026_11_28_1102_linear_trigger_guards.py")
attribution = migration_module("2026_11_27_0801_deal_attribution_days.py")


def upgrade() -> None:
    op.execute("ALTER TABLE deal_stage_history ADD COLUMN owner_id uuid")
    op.execute("""
        CREATE FUNCTION crm_stay_owner() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.owner_id := (SELECT d.owner_id FROM deals d WHERE d.tenant_id = NEW.tenant_id AND d.id = NEW.deal_id);
            RETURN NEW;
        END $$""")
    op.execute("""CREATE TRIGGER deal_stage_history_owner BEFORE INSERT OR UPDATE OF deal_id, owner_id
                  ON deal_stage_history FOR EACH ROW EXECUTE FUNCTION crm_stay_owner()""")
    owners = guards.fence(f"""(SELECT n.tenant_id, n.id, n.owner_id FROM {guards.JOIN}
                                 WHERE n.owner_id IS DISTINCT FROM o.owner_id)""")
    op.execute(f"""
        CREATE FUNCTION crm_deal_owner_stays() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {guards.any_of(owners)} THEN
                UPDATE deal_stage_history h SET owner_id = c.owner_id FROM {owners} c
                WHERE h.tenant_id = c.tenant_id AND h.deal_id = c.id;
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("""CREATE TRIGGER deals_owner_stays AFTER UPDATE ON deals
                  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION crm_deal_owner_stays()""")
    # The stays' owners set right from their deals (set-based, for stays written with the stays' triggers off:
    # this backfill, and bench data loaded in bulk).
    op.execute("""
        CREATE FUNCTION crm_kpi_stay_owners_rebuild(tenant uuid) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE deal_stage_history h SET owner_id = d.owner_id FROM deals d
            WHERE d.tenant_id = h.tenant_id AND d.id = h.deal_id AND h.owner_id IS DISTINCT FROM d.owner_id
              AND (tenant IS NULL OR h.tenant_id = tenant);
        END $$""")

    # The backfill, every tenant (the stays' own triggers off: no rollup reads the new column), then the index.
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    attribution.unforced(("deal_stage_history", "deals"), "ALTER TABLE deal_stage_history DISABLE TRIGGER USER",
                         "SELECT crm_kpi_stay_owners_rebuild(NULL)",
                         "ALTER TABLE deal_stage_history ENABLE TRIGGER USER")
    op.execute("""CREATE INDEX deal_stage_history_owner_idx ON deal_stage_history
                  (tenant_id, pipeline_id, owner_id, entered_at) INCLUDE (deal_id, stage_id, left_at, advanced)
                  WHERE owner_id IS NOT NULL""")


def downgrade() -> None:
    op.execute("DROP INDEX deal_stage_history_owner_idx")
    op.execute("DROP FUNCTION crm_kpi_stay_owners_rebuild(uuid)")
    op.execute("DROP TRIGGER deals_owner_stays ON deals")
    op.execute("DROP FUNCTION crm_deal_owner_stays()")
    op.execute("DROP TRIGGER deal_stage_history_owner ON deal_stage_history")
    op.execute("DROP FUNCTION crm_stay_owner()")
    op.execute("ALTER TABLE deal_stage_history DROP COLUMN owner_id")
