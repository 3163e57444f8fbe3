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

from dataclasses import dataclass, field
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
# A deal's events (created, won, lost) as deal_day_totals counts them: its FROM and LATERAL, reused.
EVENTS = base.DEALS.rows[base.DEALS.rows.index("    FROM {rows} r"):base.DEALS.rows.index("    WHERE r.deleted_at")]
# The attributes a deal is counted under: name -> the deal's column, or None for a row with no value (later
# migrations add some).
ATTRIBUTES: dict[str, str | None] = {"source": "source", "campaign": "campaign_id"}


def lateral(attributes: dict[str, str | None], d: str) -> str:
    """One row (attribute, value) per attribute of the deal `d`."""
    values = ", ".join(f"('{name}', {'NULL' if column is None else f'{d}.{column}'}::text)"
                       for name, column in attributes.items())
    return f"CROSS JOIN LATERAL (VALUES {values}) AS a (attribute, value)"


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


def unforced(tables: tuple[str, ...], *statements: str) -> None:
    """Run `statements` over every tenant's rows (a backfill as the owner): FORCE ROW LEVEL SECURITY lifted from
    `tables` for these statements, in this transaction only."""
    for table in tables:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    for statement in statements:
        op.execute(statement)
    for table in tables:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


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


@dataclass(frozen=True)
class Attribution:
    """A rollup of deal events counted once per attribute of the deal (`attributes`: name -> the deal's column,
    or None for a row with no value), in `table`; its functions and triggers are named after `name`. With
    `scopes` (name -> the deal's column), once per scope instead: under (scope, the deal's value of it, its
    pipeline, attribute, value), a deal with no value of a scope not under that scope. (Every scoped row
    carries the pipeline, so that rows of an owner also answer for one of the owner's pipelines.)"""

    attributes: dict[str, str | None]
    table: str = TABLE
    name: str = "attribution"
    scopes: dict[str, str] = field(default_factory=dict)

    @property
    def keys(self) -> str:
        """The key columns after kind and day (those the proposal upserts name)."""
        return f"scope, scope_id, pipeline_id, {KEYS}" if self.scopes else KEYS

    @property
    def order(self) -> str:
        """Every key column in index order: a scoped request reads one scope's value and attribute."""
        return ("kind, scope, scope_id, attribute, day, value, currency, pipeline_id" if self.scopes
                else f"kind, day, {KEYS}, currency")

    @property
    def scope_columns(self) -> str:
        """The scope's key columns as the lateral names them, in a select list."""
        return "f.scope, f.scope_id, f.pipeline_id, " if self.scopes else ""

    def lateral(self, d: str) -> str:
        """The key rows (keys) the deal `d` is counted under."""
        if not self.scopes:
            return lateral(self.attributes, d)
        scopes = ", ".join(f"('{name}', {d}.{column}, {d}.pipeline_id)" for name, column in self.scopes.items())
        return (f"CROSS JOIN LATERAL (SELECT * FROM (VALUES {scopes}) AS f (scope, scope_id, pipeline_id) "
                f"WHERE f.scope_id IS NOT NULL) AS f {lateral(self.attributes, d)}")

    def rollup(self) -> base.Rollup:
        return base.Rollup(self.table, "deals", self.order, base.DEALS.sums, f"""
    SELECT r.tenant_id, e.kind, (e.at AT TIME ZONE z.time_zone)::date AS day, {self.scope_columns}a.attribute,
           a.value,
           coalesce(r.currency, '') AS currency, {{sign}}1 AS count, {{sign}}e.flagged AS flagged,
           {{sign}}e.amount AS amount_sum, {{sign}}e.priced AS amount_count, {{sign}}e.cycle AS cycle_seconds
{EVENTS}    {self.lateral("r")}
    WHERE r.deleted_at IS NULL AND e.at IS NOT NULL""")

    def upsert(self, rows: str, shard: str = proposals.SHARD) -> str:
        """Add `rows` (tenant_id, day, keys, n) to the proposal rows of the rollup."""
        keys = self.keys
        # In the index's order, as the other upserts of the table lock rows (a proposal's kind and currency are
        # constant).
        ordered = ", ".join(c for c in self.order.split(", ") if c not in ("kind", "currency"))
        return f"""
        INSERT INTO {self.table} AS t (tenant_id, kind, day, {keys}, currency, shard, count, flagged, amount_sum,
                                  amount_count, cycle_seconds)
        SELECT tenant_id, 'proposal', day, {keys}, '', {shard}, sum(n), 0, 0, 0, 0
        FROM ({rows}) AS delta
        GROUP BY tenant_id, day, {keys} HAVING sum(n) <> 0
        ORDER BY tenant_id, {ordered}
        ON CONFLICT (tenant_id, kind, day, {keys}, currency, shard) DO UPDATE SET count = t.count + excluded.count"""

    def entries(self, stays: str, deals: str, sign: str, stages: str = "pipeline_stages",
                proposal: str = "s.is_proposal") -> str:
        """(tenant_id, day, keys, n): the proposal stays of `stays` under every key row of the live deals of
        `deals`; `stages` and `proposal` name where a stage's flag is read (a flipped stage: its new flag)."""
        return f"""
        SELECT h.tenant_id, (h.entered_at AT TIME ZONE z.time_zone)::date AS day,
               {self.scope_columns}a.attribute, a.value, {sign}1 AS n
        FROM {stays} h
        JOIN {stages} s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id AND {proposal}
        JOIN {deals} d ON d.tenant_id = h.tenant_id AND d.id = h.deal_id AND d.deleted_at IS NULL
        JOIN tenants z ON z.id = h.tenant_id
        {self.lateral("d")}"""

    def deal_keys(self) -> str:
        """An updated deal's scopes, attributes or trash state changed (n: new row, o: old row)."""
        columns = [*self.scopes.values(), *(c for c in self.attributes.values() if c is not None)]
        return " OR ".join([*(f"n.{c} IS DISTINCT FROM o.{c}" for c in columns),
                            "(n.deleted_at IS NULL) <> (o.deleted_at IS NULL)"])

    def create(self) -> None:
        """The rollup: table, triggers, rebuild, backfill."""
        def stays(rows: str, deals: str, sign: str, **flag: str) -> str:
            return self.entries(rows, deals, sign, **flag)

        base.create_rollup(self.rollup())
        create_rebuild(self.name, f"""
                {base.rebuild_sql(self.rollup())}
                {self.upsert(stays(
                    "(SELECT * FROM deal_stage_history h WHERE tenant IS NULL OR h.tenant_id = tenant)", "deals", ""),
                    "0")};""")
        moved = changed("n", proposals.STAY_KEYS)
        op.execute(f"""
            CREATE FUNCTION deal_stays_{self.name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    {self.upsert(stays('new_rows', 'deals', ''))};
                ELSIF TG_OP = 'UPDATE' THEN
                    -- Updates of other columns (left_at, the flags other triggers set) change nothing here.
                    {self.upsert(stays(moved, 'deals', '') + ' UNION ALL '
                              + stays(changed("o", proposals.STAY_KEYS), 'deals', '-'))};
                ELSE
                    {self.upsert(stays('old_rows', 'deals', '-'))};
                END IF;
                RETURN NULL;
            END $$""")
        statement_triggers(f"deal_stays_{self.name}", "deal_stage_history", ("INSERT", "UPDATE", "DELETE"))
        rekeyed = changed("n", self.deal_keys())
        op.execute(f"""
            CREATE FUNCTION deal_{self.name}_rekey() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    {self.upsert(stays('deal_stage_history', 'new_rows', ''))};
                ELSIF EXISTS {rekeyed} THEN
                    {self.upsert(stays('deal_stage_history', rekeyed, '') + ' UNION ALL '
                              + stays('deal_stage_history', changed("o", self.deal_keys()), '-'))};
                END IF;
                RETURN NULL;
            END $$""")
        statement_triggers(f"deal_{self.name}_rekey", "deals", ("INSERT", "UPDATE"))
        deal_delete_trigger(f"deal_{self.name}_delete",
                            self.upsert(stays('deal_stage_history', '(SELECT OLD.*)', '-')))
        # A stage's is_proposal flipped: its stays add (flag on) or remove (flag off) their entries.
        flipped = stays("deal_stage_history", "deals", "CASE WHEN s.is_proposal THEN 1 ELSE -1 END * ",
                        stages=f"({flag.FLIPPED})", proposal="true")
        op.execute(f"""
            CREATE FUNCTION deal_{self.name}_stages() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS ({flag.FLIPPED}) THEN
                    {self.upsert(flipped)};
                END IF;
                RETURN NULL;
            END $$""")
        op.execute(f"""CREATE TRIGGER deal_{self.name}_stages AFTER UPDATE ON pipeline_stages
                      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                      FOR EACH STATEMENT EXECUTE FUNCTION deal_{self.name}_stages()""")

        # The backfill, every tenant.
        unforced(("deal_stage_history", "pipeline_stages", "deals", "tenants", self.table),
                 f"SELECT crm_kpi_{self.name}_rebuild(NULL)")

    def drop(self) -> None:
        drop_rebuild(self.name)
        op.execute(f"DROP TRIGGER deal_{self.name}_stages ON pipeline_stages")
        op.execute(f"DROP FUNCTION deal_{self.name}_stages()")
        drop_deal_delete_trigger(f"deal_{self.name}_delete")
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER deal_{self.name}_rekey_{event} ON deals")
        op.execute(f"DROP FUNCTION deal_{self.name}_rekey()")
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER deal_stays_{self.name}_{event} ON deal_stage_history")
        op.execute(f"DROP FUNCTION deal_stays_{self.name}()")
        base.drop_rollup(self.rollup())


def upgrade() -> None:
    create(ATTRIBUTES)


def downgrade() -> None:
    drop(ATTRIBUTES)


def create(attributes: dict[str, str | None]) -> None:
    Attribution(attributes).create()


def drop(attributes: dict[str, str | None]) -> None:
    Attribution(attributes).drop()
