"""A stored `advanced` flag per stage stay for the funnel: the deal later entered a stage of the same pipeline
that is further on (a higher position) and not lost.

/v1/kpis/funnel found it per request with a window function over the pipeline's stays from the window's start
on, in deal and entry order: at 1M deals that sorted 186,000 stays a quarter in the default pipeline
(0.7-1.4 s with the per-stage aggregates, bench/RESULTS.md). Stored, the funnel is one index-only scan of the
period's stays and the per-stage aggregates.

The flag is a function of a deal's stays in a pipeline (their order by entered_at, id) and of the stages'
positions and kinds. Statement-level triggers recompute it for every deal whose stays were inserted,
deleted or changed in deal, pipeline, stage or entered_at, and for every deal with stays in a pipeline
whose stages changed position or kind (a rare admin action; at 1M deals it rewrites flags of a large
pipeline in seconds). The recomputing UPDATE changes only `advanced`, so it does not recurse.

Revision ID: 20261126_0702
Revises: 20261126_0701
Create Date: 2026-11-26
"""

from alembic import op

revision = "20261126_0702"
down_revision = "20261126_0701"
branch_labels = None
depends_on = None

FURTHER = """EXISTS (
    SELECT FROM deal_stage_history l JOIN pipeline_stages ls ON ls.tenant_id = l.tenant_id AND ls.id = l.stage_id
    WHERE l.tenant_id = h.tenant_id AND l.deal_id = h.deal_id AND l.pipeline_id = h.pipeline_id
      AND (l.entered_at, l.id) > (h.entered_at, h.id) AND ls.kind <> 'lost' AND ls.position > s.position)"""


def recompute(deals: str) -> str:
    """Set `advanced` right on every stay of the (tenant_id, deal_id) pairs that `deals` selects."""
    return f"""
        UPDATE deal_stage_history t SET advanced = x.advanced
        FROM (SELECT h.tenant_id, h.id, {FURTHER} AS advanced
              FROM deal_stage_history h JOIN pipeline_stages s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id
              WHERE (h.tenant_id, h.deal_id) IN ({deals})) x
        WHERE t.tenant_id = x.tenant_id AND t.id = x.id AND t.advanced <> x.advanced"""


KEYS = "(n.deal_id, n.pipeline_id, n.stage_id, n.entered_at) IS DISTINCT FROM " \
       "(o.deal_id, o.pipeline_id, o.stage_id, o.entered_at)"


def upgrade() -> None:
    op.execute("ALTER TABLE deal_stage_history ADD COLUMN advanced boolean NOT NULL DEFAULT false")
    op.execute("DROP INDEX deal_stage_history_pipeline_idx")  # built again below, with the flag
    # The backfill: one window pass (what the funnel computed per request), with the table's triggers off.
    op.execute("ALTER TABLE deal_stage_history NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE pipeline_stages NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE deal_stage_history DISABLE TRIGGER USER")
    op.execute("""
        UPDATE deal_stage_history t SET advanced = true
        FROM (SELECT h.tenant_id, h.id, s.position < max(s.position) FILTER (WHERE s.kind <> 'lost') OVER (
                  PARTITION BY h.tenant_id, h.deal_id, h.pipeline_id ORDER BY h.entered_at, h.id
                  ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS advanced
              FROM deal_stage_history h JOIN pipeline_stages s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id) x
        WHERE t.tenant_id = x.tenant_id AND t.id = x.id AND x.advanced""")
    op.execute("ALTER TABLE deal_stage_history ENABLE TRIGGER USER")
    op.execute("ALTER TABLE deal_stage_history FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE pipeline_stages FORCE ROW LEVEL SECURITY")
    # The funnel's index carries the flag instead of the id (which only ordered the window).
    op.execute("""CREATE INDEX deal_stage_history_pipeline_idx ON deal_stage_history
                  (tenant_id, pipeline_id, entered_at) INCLUDE (deal_id, stage_id, left_at, advanced)""")

    changed = f"""SELECT n.tenant_id, n.deal_id FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id
                      AND o.id = n.id WHERE {KEYS}
                  UNION SELECT o.tenant_id, o.deal_id FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id
                      AND o.id = n.id WHERE {KEYS}"""
    op.execute(f"""
        CREATE FUNCTION deal_stays_advance() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {recompute('SELECT tenant_id, deal_id FROM new_rows')};
            ELSIF TG_OP = 'UPDATE' THEN
                -- Its own UPDATE (of `advanced` only) fires this again: nothing changed, nothing to do.
                IF EXISTS ({changed}) THEN
                    {recompute(changed)};
                END IF;
            ELSE
                {recompute('SELECT tenant_id, deal_id FROM old_rows')};
            END IF;
            RETURN NULL;
        END $$""")
    for event, tables in (("INSERT", "NEW TABLE AS new_rows"),
                          ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                          ("DELETE", "OLD TABLE AS old_rows")):
        op.execute(f"""CREATE TRIGGER deal_stays_advance_{event.lower()} AFTER {event} ON deal_stage_history
                       REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION deal_stays_advance()""")
    op.execute(f"""
        CREATE FUNCTION deal_stays_advance_stages() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {recompute('''SELECT DISTINCT h.tenant_id, h.deal_id FROM deal_stage_history h
                          WHERE (h.tenant_id, h.pipeline_id) IN (
                              SELECT n.tenant_id, n.pipeline_id FROM new_rows n JOIN old_rows o
                                ON o.tenant_id = n.tenant_id AND o.id = n.id
                              WHERE (n.position, n.kind) IS DISTINCT FROM (o.position, o.kind))''')};
            RETURN NULL;
        END $$""")
    op.execute("""CREATE TRIGGER deal_stays_advance_stages AFTER UPDATE ON pipeline_stages
                  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION deal_stays_advance_stages()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER deal_stays_advance_stages ON pipeline_stages")
    op.execute("DROP FUNCTION deal_stays_advance_stages()")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER deal_stays_advance_{event} ON deal_stage_history")
    op.execute("DROP FUNCTION deal_stays_advance()")
    op.execute("DROP INDEX deal_stage_history_pipeline_idx")
    op.execute("""CREATE INDEX deal_stage_history_pipeline_idx ON deal_stage_history
                  (tenant_id, pipeline_id, entered_at) INCLUDE (deal_id, stage_id, left_at, id)""")
    op.execute("ALTER TABLE deal_stage_history DROP COLUMN advanced")
