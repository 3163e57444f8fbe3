"""Daily rollups for the period KPIs of /v1/kpis/sales: calls and meetings per tenant-local day, owner and
type (`activity_day_totals`); deals created, won and lost per local day and deal key (`deal_day_totals`).

Measured at 1M deals / 5M activities (bench/RESULTS.md): a year of calls and meetings is 1,000,000 index
entries (420-550 ms of counting), deals created in a year 500,000 (160-270 ms); a year by month was 1.4 s.
A day's row replaces thousands of index entries, and periods are whole local days of the tenant's time zone,
so the rollups answer any period and any day/week/month bucket exactly.

Kept like deal_open_totals (20261125_0702): statement-level triggers with transition tables add each
statement's net change (new rows minus old rows) in the same transaction, on 8 shard rows per key (the
writer's backend pid picks one), upserting in key order; deletes with the tenant write nothing. A row's
local day is taken in the tenant's time zone at write time; a change of `tenants.time_zone` rebuilds that
tenant's rows in the same transaction (trigger on tenants), so the rollup's days are always the tenant's
current local days. Requests in another zone (a user's digest) read the base tables.

activity_day_totals: type 'call' by occurred_at, 'meeting' by starts_at, live (not trashed) activities.
deal_day_totals, per live deal: kind 'created' on its created_at day (`flagged` = it is won now); 'won' on
its won_at day when won (`flagged` = renewal; amount sum and count of amounts, seconds from created to
won); 'lost' on its lost_at day when lost (`flagged` = renewal). currency is '' for a deal without one.

Revision ID: 20261126_0701
Revises: 20261125_0204
Create Date: 2026-11-26
"""

from alembic import op

revision = "20261126_0701"
down_revision = "20261125_0204"
branch_labels = None
depends_on = None

SHARDS = 8


class Rollup:
    """One rollup table: its key columns, summed columns and the rows a table of `source` contributes."""

    def __init__(self, table: str, source: str, keys: str, sums: dict[str, str], rows: str) -> None:
        self.table, self.source, self.keys, self.sums, self.rows = table, source, keys, sums, rows

    def contributions(self, rows: str, sign: str) -> str:
        """SELECT keys, summed values (times sign) of the rows of `rows`, in their tenant's time zone."""
        return self.rows.format(rows=rows, sign=sign)

    def upsert(self, source: str, shard: str, having: bool = False) -> str:
        names = ", ".join(self.sums)
        sums = ", ".join(f"coalesce(sum({c}), 0)" for c in self.sums)
        update = ", ".join(f"{c} = t.{c} + excluded.{c}" for c in self.sums)
        nonzero = ("HAVING " + " OR ".join(f"coalesce(sum({c}), 0) <> 0" for c in self.sums)) if having else ""
        return f"""
            INSERT INTO {self.table} AS t (tenant_id, {self.keys}, shard, {names})
            SELECT tenant_id, {self.keys}, {shard}, {sums}
            FROM ({source}) AS delta
            GROUP BY tenant_id, {self.keys} {nonzero}
            ORDER BY tenant_id, {self.keys}
            ON CONFLICT (tenant_id, {self.keys}, shard) DO UPDATE SET {update}"""


LOCAL_DAY = "({ts} AT TIME ZONE z.time_zone)::date"
ACTIVITIES = Rollup("activity_day_totals", "activities", "day, type, owner_id", {"count": "bigint"}, f"""
    SELECT r.tenant_id, {LOCAL_DAY.format(ts="x.at")} AS day, r.type, r.owner_id, {{sign}}1 AS count
    FROM {{rows}} r JOIN tenants z ON z.id = r.tenant_id
    CROSS JOIN LATERAL (SELECT CASE r.type WHEN 'call' THEN r.occurred_at ELSE r.starts_at END AS at) x
    WHERE r.deleted_at IS NULL AND r.type IN ('call', 'meeting') AND x.at IS NOT NULL""")
DEALS = Rollup("deal_day_totals", "deals", "kind, day, pipeline_id, owner_id, source, campaign_id, currency",
               {"count": "bigint", "flagged": "bigint", "amount_sum": "numeric", "amount_count": "bigint",
                "cycle_seconds": "numeric"}, f"""
    SELECT r.tenant_id, e.kind, {LOCAL_DAY.format(ts="e.at")} AS day, r.pipeline_id, r.owner_id, r.source,
           r.campaign_id, coalesce(r.currency, '') AS currency, {{sign}}1 AS count, {{sign}}e.flagged AS flagged,
           {{sign}}e.amount AS amount_sum, {{sign}}e.priced AS amount_count, {{sign}}e.cycle AS cycle_seconds
    FROM {{rows}} r JOIN tenants z ON z.id = r.tenant_id
    CROSS JOIN LATERAL (VALUES
        ('created', r.created_at, (r.status = 'won')::int, 0::numeric, 0, 0::numeric),
        ('won', CASE WHEN r.status = 'won' THEN r.won_at END, r.is_renewal::int, coalesce(r.amount, 0),
         (r.amount IS NOT NULL)::int, extract(epoch FROM r.won_at - r.created_at)),
        ('lost', CASE WHEN r.status = 'lost' THEN r.lost_at END, r.is_renewal::int, 0::numeric, 0, 0::numeric)
    ) AS e (kind, at, flagged, amount, priced, cycle)
    WHERE r.deleted_at IS NULL AND e.at IS NOT NULL""")
ROLLUPS = (ACTIVITIES, DEALS)
COLUMNS = {"day": "date NOT NULL", "type": "varchar(16) NOT NULL", "owner_id": "uuid", "kind": "varchar(8) NOT NULL",
           "pipeline_id": "uuid NOT NULL", "source": "varchar(100)", "campaign_id": "uuid",
           "currency": "varchar(3) NOT NULL", "channel": "varchar(16) NOT NULL"}
SHARD = f"pg_backend_pid() % {SHARDS}"


def create_rollup(r: Rollup) -> None:
    """The table, its triggers on the source table and row-level security."""
    keys = ", ".join(f"{k} {COLUMNS[k]}" for k in r.keys.split(", "))
    sums = ", ".join(f"{c} {kind} NOT NULL" for c, kind in r.sums.items())
    op.execute(f"""
        CREATE TABLE {r.table} (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, {keys},
            shard smallint NOT NULL CHECK (shard BETWEEN 0 AND {SHARDS - 1}), {sums})""")
    op.execute(f"CREATE UNIQUE INDEX {r.table}_key ON {r.table} (tenant_id, {r.keys}, shard) NULLS NOT DISTINCT")
    of_live_tenants = "SELECT * FROM ({}) AS d WHERE EXISTS (SELECT FROM tenants WHERE id = d.tenant_id)"
    changed = r.contributions("new_rows", "") + " UNION ALL " + r.contributions("old_rows", "-")
    op.execute(f"""
        CREATE FUNCTION {r.table}_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {r.upsert(r.contributions('new_rows', ''), SHARD)};
            ELSIF TG_OP = 'UPDATE' THEN
                {r.upsert(changed, SHARD, having=True)};
            ELSE
                {r.upsert(of_live_tenants.format(r.contributions('old_rows', '-')), SHARD)};
            END IF;
            RETURN NULL;
        END $$""")
    for event, tables in (("INSERT", "NEW TABLE AS new_rows"),
                          ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                          ("DELETE", "OLD TABLE AS old_rows")):
        op.execute(f"""CREATE TRIGGER {r.table}_{event.lower()} AFTER {event} ON {r.source}
                       REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {r.table}_apply()""")
    op.execute(f"ALTER TABLE {r.table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {r.table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {r.table} USING (tenant_id = crm_current_tenant())")


def drop_rollup(r: Rollup) -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER {r.table}_{event} ON {r.source}")
    op.execute(f"DROP FUNCTION {r.table}_apply()")
    op.execute(f"DROP TABLE {r.table}")


def rebuild_sql(r: Rollup) -> str:
    """A tenant's rows again from its records, in its (current) time zone; `tenant` NULL: every tenant."""
    return f"""
        DELETE FROM {r.table} WHERE tenant IS NULL OR tenant_id = tenant;
        {r.upsert(r.contributions(f"(SELECT * FROM {r.source} WHERE tenant IS NULL OR tenant_id = tenant)", ""),
                  "0")};"""


def backfill(r: Rollup) -> None:
    """Every tenant's rows of an empty rollup from the records (FORCE lifted for this transaction only)."""
    tables = (r.source, "tenants", r.table)
    for table in tables:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    for statement in rebuild_sql(r).replace("tenant IS NULL OR tenant_id = tenant", "true").split(";"):
        if statement.strip():
            op.execute(statement)
    for table in tables:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def create_rebuild(rollups: tuple[Rollup, ...]) -> None:
    op.execute(f"""
        CREATE OR REPLACE FUNCTION crm_kpi_days_rebuild(tenant uuid) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            {"".join(rebuild_sql(r) for r in rollups)}
        END $$""")


def upgrade() -> None:
    for r in ROLLUPS:
        create_rollup(r)
    create_rebuild(ROLLUPS)
    op.execute("""
        CREATE FUNCTION crm_kpi_days_time_zone() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM crm_kpi_days_rebuild(NEW.id);
            RETURN NULL;
        END $$""")
    op.execute("""CREATE TRIGGER kpi_days_time_zone AFTER UPDATE OF time_zone ON tenants FOR EACH ROW
                  WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone) EXECUTE FUNCTION crm_kpi_days_time_zone()""")

    # The backfill reads every tenant's rows (FORCE lifted for this transaction only).
    tables = ("activities", "deals", "tenants", *(r.table for r in ROLLUPS))
    for table in tables:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("SELECT crm_kpi_days_rebuild(NULL)")
    for table in tables:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.execute("DROP TRIGGER kpi_days_time_zone ON tenants")
    op.execute("DROP FUNCTION crm_kpi_days_time_zone()")
    op.execute("DROP FUNCTION crm_kpi_days_rebuild(uuid)")
    for r in reversed(ROLLUPS):
        drop_rollup(r)
