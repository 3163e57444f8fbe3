"""Sales grouped by lead source or campaign from a daily rollup: `deal_attribution_day_totals`.

deal_day_totals (20261126_0703) is keyed by local day, pipeline, owner and currency; with source and campaign
in that key nearly every deal was its own row. Grouped by source over a year, /v1/kpis/sales read the deals
and stage stays themselves: 646 ms at 1M deals (bench/RESULTS.md), of which 462 ms hash-joined a year's
proposal-stage entries with all deals for the deal's source, and 144 ms counted 500,000 created deals.

This rollup holds the same numbers keyed by one attribute at a time: each deal event is counted twice, once
under ('source', the deal's source) and once under ('campaign', its campaign id as text), so a day has at
most (sources + campaigns) x currencies rows per kind. Kinds as in deal_day_totals: 'created', 'won', 'lost'
(kept by the triggers of 20261126_0701's Rollup) and 'proposal' (entries into is_proposal stages of live
deals under the deal's current source and campaign, currency ''), kept by triggers like those of
20261126_0704/0705: stays added, moved or removed; deals whose source, campaign or trash state changed; a
live deal deleted outright; a stage's is_proposal flipped; and the tenant's time zone changed (this
rollup's own rebuild, so it does not depend on the order of the other rebuild triggers). Requests with an
owner or pipeline filter read the base tables, as before.

Revision ID: 20261127_0801
Revises: 20261126_0707
Create Date: 2026-11-27
"""

from types import ModuleType

from alembic import op

from crm_api.migrate import migration_module

revision = "20261127_0801"
down_revision = "20261126_0707"
branch_labels = None
depends_on = None

base = migration_module("2026_11_26_0701_kpi_day_totals.py")
proposals = migration_module("2026_11_26_0704_proposal_days.py")
flag = migration_module("2026_11_26_0705_proposal_stage_flag.py")
base.COLUMNS.update(attribute="varchar(8) NOT NULL", value="varchar(100)")
TABLE = "deal_attribution_day_totals"
KEYS = "attribute, value"
# The attributes a deal is counted under: name -> the deal's column, or None for a row with no value (later
# migrations add some).
ATTRIBUTES: dict[str, str | None] = {"source": "source", "campaign": "campaign_id"}


def lateral(attributes: dict[str, str | None], d: str) -> str:
    """One row (attribute, value) per attribute of the deal `d`."""
    values = ", ".join(f"('{name}', {'NULL' if column is None else f'{d}.{column}'}::text)"
                       for name, column in attributes.items())
    return f"CROSS JOIN LATERAL (VALUES {values}) AS a (attribute, value)"


def rollup(attributes: dict[str, str | None]) -> base.Rollup:
    return base.Rollup(TABLE, "deals", f"kind, day, {KEYS}, currency", base.DEALS.sums, f"""
    SELECT r.tenant_id, e.kind, (e.at AT TIME ZONE z.time_zone)::date AS day, a.attribute, a.value,
           coalesce(r.currency, '') AS currency, {{sign}}1 AS count, {{sign}}e.flagged AS flagged,
           {{sign}}e.amount AS amount_sum, {{sign}}e.priced AS amount_count, {{sign}}e.cycle AS cycle_seconds
    FROM {{rows}} r JOIN tenants z ON z.id = r.tenant_id
    CROSS JOIN LATERAL (VALUES
        ('created', r.created_at, (r.status = 'won')::int, 0::numeric, 0, 0::numeric),
        ('won', CASE WHEN r.status = 'won' THEN r.won_at END, r.is_renewal::int, coalesce(r.amount, 0),
         (r.amount IS NOT NULL)::int, extract(epoch FROM r.won_at - r.created_at)),
        ('lost', CASE WHEN r.status = 'lost' THEN r.lost_at END, r.is_renewal::int, 0::numeric, 0, 0::numeric)
    ) AS e (kind, at, flagged, amount, priced, cycle)
    {lateral(attributes, "r")}
    WHERE r.deleted_at IS NULL AND e.at IS NOT NULL""")


def upsert(rows: str, shard: str = proposals.SHARD) -> str:
    """Add `rows` (tenant_id, day, KEYS, n) to the proposal rows of the rollup."""
    return f"""
        INSERT INTO {TABLE} AS t (tenant_id, kind, day, {KEYS}, currency, shard, count, flagged, amount_sum,
                                  amount_count, cycle_seconds)
        SELECT tenant_id, 'proposal', day, {KEYS}, '', {shard}, sum(n), 0, 0, 0, 0
        FROM ({rows}) AS delta
        GROUP BY tenant_id, day, {KEYS} HAVING sum(n) <> 0
        ORDER BY tenant_id, day, {KEYS}
        ON CONFLICT (tenant_id, kind, day, {KEYS}, currency, shard) DO UPDATE SET count = t.count + excluded.count"""


def entries(attributes: dict[str, str | None], stays: str, deals: str, sign: str, stages: str = "pipeline_stages",
            proposal: str = "s.is_proposal") -> str:
    """(tenant_id, day, KEYS, n): the proposal stays of `stays` under every attribute of the live deals of
    `deals`; `stages` and `proposal` name where a stage's flag is read (a flipped stage: its new flag)."""
    return f"""
        SELECT h.tenant_id, (h.entered_at AT TIME ZONE z.time_zone)::date AS day, a.attribute, a.value,
               {sign}1 AS n
        FROM {stays} h
        JOIN {stages} s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id AND {proposal}
        JOIN {deals} d ON d.tenant_id = h.tenant_id AND d.id = h.deal_id AND d.deleted_at IS NULL
        JOIN tenants z ON z.id = h.tenant_id
        {lateral(attributes, "d")}"""


def deal_keys(attributes: dict[str, str | None]) -> str:
    """An updated deal's attributes or trash state changed (n: new row, o: old row)."""
    return " OR ".join([*(f"n.{c} IS DISTINCT FROM o.{c}" for c in attributes.values() if c is not None),
                        "(n.deleted_at IS NULL) <> (o.deleted_at IS NULL)"])


def changed(rows: str, keys: str) -> str:
    """The rows of `rows` (n: new, o: old) of an UPDATE whose `keys` changed."""
    return (f"(SELECT {rows}.* FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id "
            f"WHERE {keys})")


def statement_triggers(name: str, table: str, events: tuple[str, ...]) -> None:
    tables = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
              "DELETE": "OLD TABLE AS old_rows"}
    for event in events:
        op.execute(f"""CREATE TRIGGER {name}_{event.lower()} AFTER {event} ON {table} REFERENCING {tables[event]}
                       FOR EACH STATEMENT EXECUTE FUNCTION {name}()""")


def create_rebuild(name: str, body: str) -> None:
    """crm_kpi_<name>_rebuild(tenant): `body` makes a rollup's rows of the tenant (NULL: every tenant) again from
    its records; a trigger on tenants runs it when the tenant's time zone changes (the rows are its local days)."""
    op.execute(f"""
        CREATE FUNCTION crm_kpi_{name}_rebuild(tenant uuid) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            {body}
        END $$""")
    op.execute(f"""
        CREATE FUNCTION crm_kpi_{name}_time_zone() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM crm_kpi_{name}_rebuild(NEW.id);
            RETURN NULL;
        END $$""")
    op.execute(f"""CREATE TRIGGER kpi_{name}_time_zone AFTER UPDATE OF time_zone ON tenants FOR EACH ROW
                   WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone) EXECUTE FUNCTION crm_kpi_{name}_time_zone()""")


def drop_rebuild(name: str) -> None:
    op.execute(f"DROP TRIGGER kpi_{name}_time_zone ON tenants")
    op.execute(f"DROP FUNCTION crm_kpi_{name}_time_zone()")
    op.execute(f"DROP FUNCTION crm_kpi_{name}_rebuild(uuid)")


def create_own_rollup(rollups: ModuleType, r: base.Rollup, name: str) -> None:
    """A rollup with its own time-zone rebuild (create_rebuild), backfilled; `rollups` is the caller's copy of
    migration 20261126_0701 (its COLUMNS name the rollup's key columns)."""
    rollups.create_rollup(r)
    create_rebuild(name, rollups.rebuild_sql(r))
    rollups.backfill(r)


def drop_own_rollup(rollups: ModuleType, r: base.Rollup, name: str) -> None:
    drop_rebuild(name)
    rollups.drop_rollup(r)


def deal_delete_trigger(name: str, statement: str) -> None:
    """A live deal deleted outright: its stays go with it by cascade, after this and unseen by their statement
    triggers, so a row trigger before the delete runs `statement` (on `OLD`) while they still exist."""
    op.execute(f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT FROM tenants WHERE id = OLD.tenant_id) THEN
                {statement};
            END IF;
            RETURN OLD;
        END $$""")
    op.execute(f"""CREATE TRIGGER {name} BEFORE DELETE ON deals FOR EACH ROW
                  WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION {name}()""")


def drop_deal_delete_trigger(name: str) -> None:
    op.execute(f"DROP TRIGGER {name} ON deals")
    op.execute(f"DROP FUNCTION {name}()")


def upgrade() -> None:
    create(ATTRIBUTES)


def downgrade() -> None:
    drop(ATTRIBUTES)


def create(attributes: dict[str, str | None]) -> None:
    """The rollup under these attributes: table, triggers, rebuild, backfill."""
    def stays(rows: str, deals: str, sign: str, **flag: str) -> str:
        return entries(attributes, rows, deals, sign, **flag)

    base.create_rollup(rollup(attributes))
    create_rebuild("attribution", f"""
            {base.rebuild_sql(rollup(attributes))}
            {upsert(stays("(SELECT * FROM deal_stage_history h WHERE tenant IS NULL OR h.tenant_id = tenant)",
                          "deals", ""), "0")};""")
    moved = changed("n", proposals.STAY_KEYS)
    op.execute(f"""
        CREATE FUNCTION deal_stays_attribution() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {upsert(stays('new_rows', 'deals', ''))};
            ELSIF TG_OP = 'UPDATE' THEN
                -- Updates of other columns (left_at, the flags other triggers set) change nothing here.
                {upsert(stays(moved, 'deals', '') + ' UNION ALL '
                        + stays(changed("o", proposals.STAY_KEYS), 'deals', '-'))};
            ELSE
                {upsert(stays('old_rows', 'deals', '-'))};
            END IF;
            RETURN NULL;
        END $$""")
    statement_triggers("deal_stays_attribution", "deal_stage_history", ("INSERT", "UPDATE", "DELETE"))
    rekeyed = changed("n", deal_keys(attributes))
    op.execute(f"""
        CREATE FUNCTION deal_attribution_rekey() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {upsert(stays('deal_stage_history', 'new_rows', ''))};
            ELSIF EXISTS {rekeyed} THEN
                {upsert(stays('deal_stage_history', rekeyed, '') + ' UNION ALL '
                        + stays('deal_stage_history', changed("o", deal_keys(attributes)), '-'))};
            END IF;
            RETURN NULL;
        END $$""")
    statement_triggers("deal_attribution_rekey", "deals", ("INSERT", "UPDATE"))
    deal_delete_trigger("deal_attribution_delete", upsert(stays('deal_stage_history', '(SELECT OLD.*)', '-')))
    # A stage's is_proposal flipped: its stays add (flag on) or remove (flag off) their entries.
    flipped = stays("deal_stage_history", "deals", "CASE WHEN s.is_proposal THEN 1 ELSE -1 END * ",
                    stages=f"({flag.FLIPPED})", proposal="true")
    op.execute(f"""
        CREATE FUNCTION deal_attribution_stages() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS ({flag.FLIPPED}) THEN
                {upsert(flipped)};
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("""CREATE TRIGGER deal_attribution_stages AFTER UPDATE ON pipeline_stages
                  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION deal_attribution_stages()""")

    # The backfill, every tenant (FORCE lifted for this transaction only).
    tables = ("deal_stage_history", "pipeline_stages", "deals", "tenants", TABLE)
    for table in tables:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("SELECT crm_kpi_attribution_rebuild(NULL)")
    for table in tables:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def drop(attributes: dict[str, str | None]) -> None:
    drop_rebuild("attribution")
    op.execute("DROP TRIGGER deal_attribution_stages ON pipeline_stages")
    op.execute("DROP FUNCTION deal_attribution_stages()")
    drop_deal_delete_trigger("deal_attribution_delete")
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER deal_attribution_rekey_{event} ON deals")
    op.execute("DROP FUNCTION deal_attribution_rekey()")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER deal_stays_attribution_{event} ON deal_stage_history")
    op.execute("DROP FUNCTION deal_stays_attribution()")
    base.drop_rollup(rollup(attributes))
