"""proposals_sent from a daily rollup: proposal-stage entries per tenant-local day and deal key (kind 'proposal'
of deal_day_totals), corrected for deals that entered a proposal stage more than once in a period.

proposals_sent counts each deal once: the deals (live, by their current owner, pipeline, source, campaign; the
rollup serves all but source and campaign, which read the stays and deals as before)
with at least one entry into an is_proposal stage in the period. At 1M deals a year of entries is 290,000
index entries and their distinct count (214 ms), and a quarter by owner joined every entry to its deal
(298 ms); bench/RESULTS.md. Distinct deals over a bucket = entries in the bucket - entries whose previous
proposal entry of the same deal is in the same bucket (a deal's entries in a bucket are consecutive, so each
run of k entries counts k - (k - 1) = 1). So:

- `deal_stage_history.prev_proposal_at`: on a proposal stay, the entered_at of the deal's previous proposal
  stay (by entered_at, id), else NULL; kept by statement-level triggers for the deals whose stays changed,
  and for the whole tenant when a stage's is_proposal changes. Repeats are rare: a partial index finds them.
- deal_day_totals kind 'proposal' (currency ''): count of proposal stays of live deals per local day of
  entered_at and the deal's current keys. Its writers: stays added, removed or changed (with the deal's
  current pipeline and owner); deals whose keys or trash state changed (their stays under the old and the new keys); a
  live deal deleted outright (a row trigger before the delete, while its stays still exist: the cascade
  removes them after); a stage's is_proposal or the tenant's time zone changing (the tenant's proposal rows
  rebuilt). All in the writing transaction.

Revision ID: 20261126_0704
Revises: 20261126_0703
Create Date: 2026-11-26
"""

from alembic import op

revision = "20261126_0704"
down_revision = "20261126_0703"
branch_labels = None
depends_on = None

SHARD = "pg_backend_pid() % 8"
KEYS = "pipeline_id, owner_id"


def upsert(rows: str, shard: str = SHARD) -> str:
    """Add `rows` (tenant_id, day, KEYS, n) to the proposal rows of deal_day_totals."""
    return f"""
        INSERT INTO deal_day_totals AS t (tenant_id, kind, day, {KEYS}, currency, shard, count, flagged, amount_sum,
                                          amount_count, cycle_seconds)
        SELECT tenant_id, 'proposal', day, {KEYS}, '', {shard}, sum(n), 0, 0, 0, 0
        FROM ({rows}) AS delta
        GROUP BY tenant_id, day, {KEYS} HAVING sum(n) <> 0
        ORDER BY tenant_id, day, {KEYS}
        ON CONFLICT (tenant_id, kind, day, {KEYS}, currency, shard) DO UPDATE SET count = t.count + excluded.count"""


def entries(stays: str, deals: str, sign: str) -> str:
    """(tenant_id, day, KEYS, n): the proposal stays of `stays` under the keys of the live deals of `deals`."""
    return f"""
        SELECT h.tenant_id, (h.entered_at AT TIME ZONE z.time_zone)::date AS day, d.pipeline_id, d.owner_id,
               {sign}1 AS n
        FROM {stays} h
        JOIN pipeline_stages s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id AND s.is_proposal
        JOIN {deals} d ON d.tenant_id = h.tenant_id AND d.id = h.deal_id AND d.deleted_at IS NULL
        JOIN tenants z ON z.id = h.tenant_id"""


PREVIOUS = """(
    SELECT max(l.entered_at) FROM deal_stage_history l
    JOIN pipeline_stages ls ON ls.tenant_id = l.tenant_id AND ls.id = l.stage_id AND ls.is_proposal
    WHERE l.tenant_id = h.tenant_id AND l.deal_id = h.deal_id AND (l.entered_at, l.id) < (h.entered_at, h.id))"""


def previous(deals: str) -> str:
    """Set prev_proposal_at right on every stay of the (tenant_id, deal_id) pairs that `deals` selects."""
    return f"""
        UPDATE deal_stage_history t SET prev_proposal_at = x.prev
        FROM (SELECT h.tenant_id, h.id, CASE WHEN s.is_proposal THEN {PREVIOUS} END AS prev
              FROM deal_stage_history h JOIN pipeline_stages s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id
              WHERE (h.tenant_id, h.deal_id) IN ({deals})) x
        WHERE t.tenant_id = x.tenant_id AND t.id = x.id AND t.prev_proposal_at IS DISTINCT FROM x.prev"""


STAY_KEYS = ("(n.deal_id, n.stage_id, n.entered_at) IS DISTINCT FROM (o.deal_id, o.stage_id, o.entered_at)")
DEAL_KEYS = ("(n.pipeline_id, n.owner_id, n.deleted_at IS NULL) IS DISTINCT FROM "
             "(o.pipeline_id, o.owner_id, o.deleted_at IS NULL)")


# A stage's is_proposal changed: the tenant's proposal data rebuilt (20261126_0705 narrows this to the stage).
STAGES = """
    CREATE OR REPLACE FUNCTION deal_proposals_stages() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE tenant uuid;
    BEGIN
        FOR tenant IN SELECT DISTINCT n.tenant_id FROM new_rows n JOIN old_rows o
                          ON o.tenant_id = n.tenant_id AND o.id = n.id WHERE n.is_proposal <> o.is_proposal LOOP
            PERFORM crm_kpi_proposals_rebuild(tenant);
        END LOOP;
        RETURN NULL;
    END $$"""


def upgrade() -> None:
    op.execute("ALTER TABLE deal_stage_history ADD COLUMN prev_proposal_at timestamptz")
    # The tenant's prev_proposal_at and proposal rows from scratch (tenant NULL: every tenant); the window
    # runs over the proposal stays only (lag() takes no FILTER), joined back to every stay.
    op.execute("""
        CREATE FUNCTION crm_kpi_proposals_rebuild(tenant uuid) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE deal_stage_history t SET prev_proposal_at = x.prev
            FROM (SELECT h.tenant_id, h.id, p.prev
                  FROM deal_stage_history h
                  LEFT JOIN (SELECT h.tenant_id, h.id, lag(h.entered_at) OVER (
                                 PARTITION BY h.tenant_id, h.deal_id ORDER BY h.entered_at, h.id) AS prev
                             FROM deal_stage_history h
                             JOIN pipeline_stages s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id
                                                   AND s.is_proposal
                             WHERE tenant IS NULL OR h.tenant_id = tenant) p
                         ON p.tenant_id = h.tenant_id AND p.id = h.id
                  WHERE tenant IS NULL OR h.tenant_id = tenant) x
            WHERE t.tenant_id = x.tenant_id AND t.id = x.id AND t.prev_proposal_at IS DISTINCT FROM x.prev;
            DELETE FROM deal_day_totals WHERE kind = 'proposal' AND (tenant IS NULL OR tenant_id = tenant);
            """ + upsert(entries("(SELECT * FROM deal_stage_history h WHERE tenant IS NULL OR h.tenant_id = tenant)",
                                 "deals", ""), "0") + """;
        END $$""")

    changed_stays = f"SELECT n.tenant_id, n.deal_id FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id " \
                    f"AND o.id = n.id WHERE {STAY_KEYS} UNION SELECT o.tenant_id, o.deal_id FROM new_rows n " \
                    f"JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id WHERE {STAY_KEYS}"
    moved = f"""(SELECT n.* FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
                 WHERE {STAY_KEYS})"""
    moved_old = moved.replace("SELECT n.*", "SELECT o.*")
    op.execute(f"""
        CREATE FUNCTION deal_stays_proposals() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {previous('SELECT tenant_id, deal_id FROM new_rows')};
                {upsert(entries('new_rows', 'deals', ''))};
            ELSIF TG_OP = 'UPDATE' THEN
                -- Updates of other columns (left_at, the flags these triggers set) change nothing here.
                IF EXISTS ({changed_stays}) THEN
                    {previous(changed_stays)};
                    {upsert(entries(moved, 'deals', '') + ' UNION ALL ' + entries(moved_old, 'deals', '-'))};
                END IF;
            ELSE
                {previous('SELECT tenant_id, deal_id FROM old_rows')};
                {upsert(entries('old_rows', 'deals', '-'))};
            END IF;
            RETURN NULL;
        END $$""")
    for event, tables in (("INSERT", "NEW TABLE AS new_rows"),
                          ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                          ("DELETE", "OLD TABLE AS old_rows")):
        op.execute(f"""CREATE TRIGGER deal_stays_proposals_{event.lower()} AFTER {event} ON deal_stage_history
                       REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION deal_stays_proposals()""")

    rekeyed = f"""(SELECT n.* FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
                   WHERE {DEAL_KEYS})"""
    op.execute(f"""
        CREATE FUNCTION deal_proposals_rekey() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {upsert(entries('deal_stage_history', 'new_rows', ''))};
            ELSE
                {upsert(entries('deal_stage_history', rekeyed, '') + ' UNION ALL '
                        + entries('deal_stage_history', rekeyed.replace('SELECT n.*', 'SELECT o.*'), '-'))};
            END IF;
            RETURN NULL;
        END $$""")
    for event, tables in (("INSERT", "NEW TABLE AS new_rows"),
                          ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")):
        op.execute(f"""CREATE TRIGGER deal_proposals_{event.lower()} AFTER {event} ON deals
                       REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION deal_proposals_rekey()""")
    # A live deal deleted outright: its stays go with it by cascade, after this, unseen by their trigger.
    old = "(SELECT OLD.*)"
    op.execute(f"""
        CREATE FUNCTION deal_proposals_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT FROM tenants WHERE id = OLD.tenant_id) THEN
                {upsert(entries('deal_stage_history', old, '-'))};
            END IF;
            RETURN OLD;
        END $$""")
    op.execute("""CREATE TRIGGER deal_proposals_delete BEFORE DELETE ON deals FOR EACH ROW
                  WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION deal_proposals_delete()""")
    op.execute(STAGES)
    op.execute("""CREATE TRIGGER deal_proposals_stages AFTER UPDATE ON pipeline_stages
                  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION deal_proposals_stages()""")
    op.execute("""
        CREATE FUNCTION crm_kpi_proposals_time_zone() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM crm_kpi_proposals_rebuild(NEW.id);
            RETURN NULL;
        END $$""")
    op.execute("""CREATE TRIGGER kpi_proposals_time_zone AFTER UPDATE OF time_zone ON tenants FOR EACH ROW
                  WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone) EXECUTE FUNCTION crm_kpi_proposals_time_zone()""")
    op.execute("""CREATE INDEX deal_stage_history_repeat_idx ON deal_stage_history (tenant_id, prev_proposal_at)
                  INCLUDE (entered_at, deal_id) WHERE prev_proposal_at IS NOT NULL""")

    # The backfill, every tenant (FORCE lifted for this transaction only; the stays' own triggers off).
    tables = ("deal_stage_history", "pipeline_stages", "deals", "tenants", "deal_day_totals")
    for table in tables:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE deal_stage_history DISABLE TRIGGER USER")
    op.execute("SELECT crm_kpi_proposals_rebuild(NULL)")
    op.execute("ALTER TABLE deal_stage_history ENABLE TRIGGER USER")
    for table in tables:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.execute("DROP INDEX deal_stage_history_repeat_idx")
    op.execute("DROP TRIGGER kpi_proposals_time_zone ON tenants")
    op.execute("DROP FUNCTION crm_kpi_proposals_time_zone()")
    op.execute("DROP TRIGGER deal_proposals_stages ON pipeline_stages")
    op.execute("DROP FUNCTION deal_proposals_stages()")
    op.execute("DROP TRIGGER deal_proposals_delete ON deals")
    op.execute("DROP FUNCTION deal_proposals_delete()")
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER deal_proposals_{event} ON deals")
    op.execute("DROP FUNCTION deal_proposals_rekey()")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER deal_stays_proposals_{event} ON deal_stage_history")
    op.execute("DROP FUNCTION deal_stays_proposals()")
    op.execute("DROP FUNCTION crm_kpi_proposals_rebuild(uuid)")
    op.execute("DELETE FROM deal_day_totals WHERE kind = 'proposal'")
    op.execute("ALTER TABLE deal_stage_history DROP COLUMN prev_proposal_at")
