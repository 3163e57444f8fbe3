"""/v1/kpis/funnel from a daily rollup of stage stays: `deal_stay_day_totals`.

The funnel read every stay of the period (index-only): a quarter of the default pipeline at 1M deals is 184,000
stays (~200 ms), a year four times that. Now a period is the rollup's rows of its local days:

- deal_stay_day_totals, per tenant-local day of entered_at, pipeline, stage and duration bucket
  (`crm_stay_bucket`: -1 while the stay has not ended, else a logarithmic bucket of its seconds): `entered`
  (stays of live deals), `advanced` (of those with the stored flag, 20261126_0702), `left_count` (ended
  stays) and `days_sum`, the sum of each ended stay's days exactly as the funnel computes them per stay
  (extract(epoch FROM left_at - entered_at) / 86400, a numeric), so that days_sum / left_count is the very
  numeric avg() gave over the stays (a sum of seconds divided once would round differently now and then).
- Deals once per stage: the rollup counts stays; a deal that entered a stage k times in the period counts
  k - (k - 1). `deal_stage_history.prev_stage_at` is the entered_at of the deal's previous stay in the same
  stage (by entered_at, id), NULL for a first stay; the "repeats" of a period (prev_stage_at in it) are rare
  and found through a partial index, and the request corrects entered and advanced from those deals' stays.
- The exact median: the histogram over the period's days gives the bucket(s) holding the middle rank(s);
  only the period's ended stays of that bucket are read (an expression index on the bucket), and
  percentile_cont() of the one or two middle values is what it was over all stays.

Kept in the writing transaction like the other rollups (20261126_0701: statement-level triggers with
transition tables, 8 shards, upserts in key order): stays inserted, deleted or changed (moved, ended, their
`advanced` flag flipped by a stage reorder: those are UPDATEs of the stays), deals trashed or restored, a live
deal deleted outright (a row trigger before the delete, while its stays exist), and a change of the tenant's
time zone (its rows rebuilt: `crm_kpi_stays_rebuild`).

Revision ID: 20261127_0901
Revises: 20261127_0802
Create Date: 2026-11-27
"""

from alembic import op

from crm_api.migrate import migration_module

revision = "20261127_0901"
down_revision = "20261127_0802"
branch_labels = None
depends_on = None

base = migration_module("2026_11_26_0701_kpi_day_totals.py")
attribution = migration_module("2026_11_27_0801_deal_attribution_days.py")
TABLE = "deal_stay_day_totals"
KEYS = "pipeline_id, day, stage_id, bucket"
SUMS = {"entered": "bigint", "advanced": "bigint", "left_count": "bigint", "days_sum": "numeric"}
base.COLUMNS.update(stage_id="uuid NOT NULL", bucket="smallint NOT NULL")
# Bucket bounds in seconds: under a minute is bucket 0, then a factor of 2^(1/3) per bucket up to about two years.
BOUNDS = [round(60 * 2 ** (i / 3)) for i in range(61)]
DAYS = "extract(epoch FROM {h}.left_at - {h}.entered_at) / 86400"  # a stay's days, as the funnel computes them


def stays(rows: str, deals: str, sign: str) -> str:
    """(tenant_id, KEYS, SUMS): the stays of `rows` whose deal is live in `deals`, in the tenant's time zone."""
    return f"""
        SELECT h.tenant_id, h.pipeline_id, (h.entered_at AT TIME ZONE z.time_zone)::date AS day, h.stage_id,
               crm_stay_bucket(h.entered_at, h.left_at) AS bucket, {sign}1 AS entered,
               {sign}h.advanced::int AS advanced, {sign}(h.left_at IS NOT NULL)::int AS left_count,
               {sign}coalesce({DAYS.format(h="h")}, 0) AS days_sum
        FROM {rows} h
        JOIN {deals} d ON d.tenant_id = h.tenant_id AND d.id = h.deal_id AND d.deleted_at IS NULL
        JOIN tenants z ON z.id = h.tenant_id"""


ROLLUP = base.Rollup(TABLE, "deal_stage_history", KEYS, SUMS, stays("{rows}", "deals", "{sign}"))


def upsert(rows: str, shard: str = base.SHARD) -> str:
    return ROLLUP.upsert(rows, shard, having=True)


def previous(deals: str, where: str = "") -> str:
    """Set prev_stage_at right on every stay of the (tenant_id, deal_id) pairs that `deals` selects (or of the
    stays `where` selects: whole deals)."""
    where = where or f"(h.tenant_id, h.deal_id) IN ({deals})"
    return f"""
        UPDATE deal_stage_history t SET prev_stage_at = x.prev
        FROM (SELECT h.tenant_id, h.id, lag(h.entered_at) OVER (
                  PARTITION BY h.tenant_id, h.deal_id, h.stage_id ORDER BY h.entered_at, h.id) AS prev
              FROM deal_stage_history h WHERE {where}) x
        WHERE t.tenant_id = x.tenant_id AND t.id = x.id AND t.prev_stage_at IS DISTINCT FROM x.prev"""


# What the pointers and the rollup read of a stay; an UPDATE of anything else (left_by, the other flags) does nothing.
POINTER_KEYS = "(n.deal_id, n.stage_id, n.entered_at) IS DISTINCT FROM (o.deal_id, o.stage_id, o.entered_at)"
ROLLUP_KEYS = ("(n.deal_id, n.pipeline_id, n.stage_id, n.entered_at, n.left_at, n.advanced) IS DISTINCT FROM "
               "(o.deal_id, o.pipeline_id, o.stage_id, o.entered_at, o.left_at, o.advanced)")
TRASH_KEYS = "(n.deleted_at IS NULL) <> (o.deleted_at IS NULL)"


def upgrade() -> None:
    op.execute(f"""
        CREATE FUNCTION crm_stay_bucket(entered_at timestamptz, left_at timestamptz) RETURNS smallint
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT (CASE WHEN $2 IS NULL THEN -1
                         ELSE width_bucket(extract(epoch FROM $2 - $1), '{{{",".join(map(str, BOUNDS))}}}'::numeric[])
                    END)::smallint $$""")
    op.execute("ALTER TABLE deal_stage_history ADD COLUMN prev_stage_at timestamptz")
    keys = ", ".join(f"{k} {base.COLUMNS[k]}" for k in KEYS.split(", "))
    sums = ", ".join(f"{c} {kind} NOT NULL" for c, kind in SUMS.items())
    op.execute(f"""
        CREATE TABLE {TABLE} (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, {keys},
            shard smallint NOT NULL CHECK (shard BETWEEN 0 AND {base.SHARDS - 1}), {sums})""")
    op.execute(f"CREATE UNIQUE INDEX {TABLE}_key ON {TABLE} (tenant_id, {KEYS}, shard)")
    op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {TABLE} USING (tenant_id = crm_current_tenant())")

    op.execute(f"""
        CREATE FUNCTION crm_kpi_stays_rebuild(tenant uuid) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            {base.rebuild_sql(ROLLUP)}
        END $$""")
    op.execute(f"""
        CREATE FUNCTION crm_kpi_stay_repeats_rebuild(tenant uuid) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            {previous("", where="tenant IS NULL OR h.tenant_id = tenant")};
        END $$""")

    moved = ("SELECT n.tenant_id, n.deal_id FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id "
             f"AND o.id = n.id WHERE {POINTER_KEYS} UNION SELECT o.tenant_id, o.deal_id FROM new_rows n "
             f"JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id WHERE {POINTER_KEYS}")
    op.execute(f"""
        CREATE FUNCTION deal_stays_funnel() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {previous('SELECT tenant_id, deal_id FROM new_rows')};
                {upsert(stays('new_rows', 'deals', ''))};
            ELSIF TG_OP = 'UPDATE' THEN
                IF EXISTS ({moved}) THEN
                    {previous(moved)};
                END IF;
                IF EXISTS {attribution.changed("n", ROLLUP_KEYS)} THEN
                    {upsert(stays(attribution.changed("n", ROLLUP_KEYS), 'deals', '') + ' UNION ALL '
                            + stays(attribution.changed("o", ROLLUP_KEYS), 'deals', '-'))};
                END IF;
            ELSE
                {previous('SELECT tenant_id, deal_id FROM old_rows')};
                {upsert(stays('old_rows', 'deals', '-'))};
            END IF;
            RETURN NULL;
        END $$""")
    attribution.statement_triggers("deal_stays_funnel", "deal_stage_history", ("INSERT", "UPDATE", "DELETE"))
    op.execute(f"""
        CREATE FUNCTION deal_funnel_trash() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS {attribution.changed("n", TRASH_KEYS)} THEN
                {upsert(stays('deal_stage_history', attribution.changed("n", TRASH_KEYS), '') + ' UNION ALL '
                        + stays('deal_stage_history', attribution.changed("o", TRASH_KEYS), '-'))};
            END IF;
            RETURN NULL;
        END $$""")
    attribution.statement_triggers("deal_funnel_trash", "deals", ("UPDATE",))
    # A live deal deleted outright: its stays go with it by cascade, after this, unseen by their trigger.
    op.execute(f"""
        CREATE FUNCTION deal_funnel_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT FROM tenants WHERE id = OLD.tenant_id) THEN
                {upsert(stays('deal_stage_history', '(SELECT OLD.*)', '-'))};
            END IF;
            RETURN OLD;
        END $$""")
    op.execute("""CREATE TRIGGER deal_funnel_delete BEFORE DELETE ON deals FOR EACH ROW
                  WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION deal_funnel_delete()""")
    op.execute("""
        CREATE FUNCTION crm_kpi_stays_time_zone() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM crm_kpi_stays_rebuild(NEW.id);
            RETURN NULL;
        END $$""")
    op.execute("""CREATE TRIGGER kpi_stays_time_zone AFTER UPDATE OF time_zone ON tenants FOR EACH ROW
                  WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone) EXECUTE FUNCTION crm_kpi_stays_time_zone()""")

    # The backfill, every tenant (FORCE lifted for this transaction only; the stays' own triggers off), then the
    # indexes: the repeats of a period, and a bucket's ended stays of a stage in entry order (the median).
    tables = ("deal_stage_history", "deals", "tenants", TABLE)
    for table in tables:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE deal_stage_history DISABLE TRIGGER USER")
    op.execute("SELECT crm_kpi_stay_repeats_rebuild(NULL)")
    op.execute("SELECT crm_kpi_stays_rebuild(NULL)")
    op.execute("ALTER TABLE deal_stage_history ENABLE TRIGGER USER")
    for table in tables:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute("""CREATE INDEX deal_stage_history_stage_repeat_idx ON deal_stage_history
                  (tenant_id, pipeline_id, prev_stage_at) INCLUDE (entered_at, deal_id, stage_id)
                  WHERE prev_stage_at IS NOT NULL""")
    op.execute("""CREATE INDEX deal_stage_history_duration_idx ON deal_stage_history
                  (tenant_id, pipeline_id, stage_id, crm_stay_bucket(entered_at, left_at), entered_at)
                  INCLUDE (left_at, deal_id)
                  WHERE left_at IS NOT NULL""")


def downgrade() -> None:
    op.execute("DROP INDEX deal_stage_history_duration_idx")
    op.execute("DROP INDEX deal_stage_history_stage_repeat_idx")
    op.execute("DROP TRIGGER kpi_stays_time_zone ON tenants")
    op.execute("DROP FUNCTION crm_kpi_stays_time_zone()")
    op.execute("DROP TRIGGER deal_funnel_delete ON deals")
    op.execute("DROP FUNCTION deal_funnel_delete()")
    op.execute("DROP TRIGGER deal_funnel_trash_update ON deals")
    op.execute("DROP FUNCTION deal_funnel_trash()")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER deal_stays_funnel_{event} ON deal_stage_history")
    op.execute("DROP FUNCTION deal_stays_funnel()")
    op.execute("DROP FUNCTION crm_kpi_stay_repeats_rebuild(uuid)")
    op.execute("DROP FUNCTION crm_kpi_stays_rebuild(uuid)")
    op.execute(f"DROP TABLE {TABLE}")
    op.execute("ALTER TABLE deal_stage_history DROP COLUMN prev_stage_at")
    op.execute("DROP FUNCTION crm_stay_bucket(timestamptz, timestamptz)")
