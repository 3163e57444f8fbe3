"""Open deals kept as a rollup for the KPI snapshot: count, sum and weighted sum per (pipeline, owner, source,
campaign, currency).

`open_deals`, `open_pipeline_value` and `weighted_pipeline_value` of /v1/kpis/sales summed every open deal
of the tenant on each request: 650,000 deals at 1M deals, 0.6-0.9 s as an index-only scan (bench/RESULTS.md).
The KPIs filter and group the snapshot by owner, pipeline, source and campaign, which the board's rollup
(deal_board_totals, per stage) does not carry, so this is a rollup of its own, kept the same way:
statement-level triggers with transition tables apply each statement's net change in the same
transaction, on 8 shard rows per key (the writer's backend pid picks the shard, so concurrent writers
rarely wait on one row), upserts in key order (no deadlock between two writers), and deletes with the
tenant write nothing. NULL keys are real NULLs (the unique index treats them as equal).

Revision ID: 20261125_0702
Revises: 20261125_0701
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0702"
down_revision = "20261125_0701"
branch_labels = None
depends_on = None

SHARDS = 8
DIMENSIONS = "tenant_id, pipeline_id, owner_id, source, campaign_id, currency"


def _upsert(source: str, having: str = "") -> str:
    """Add the rows of `source` (DIMENSIONS, n, amount, weighted) per key."""
    return f"""
        INSERT INTO deal_open_totals AS t ({DIMENSIONS}, shard, count, amount_sum, weighted_sum)
        SELECT {DIMENSIONS}, pg_backend_pid() % {SHARDS}, sum(n), coalesce(sum(amount), 0), coalesce(sum(weighted), 0)
        FROM ({source}) AS delta
        GROUP BY {DIMENSIONS} {having}
        ORDER BY {DIMENSIONS}
        ON CONFLICT ({DIMENSIONS}, shard) DO UPDATE SET count = t.count + excluded.count,
            amount_sum = t.amount_sum + excluded.amount_sum, weighted_sum = t.weighted_sum + excluded.weighted_sum"""


def _rows(table: str, sign: str) -> str:
    return f"""
        SELECT tenant_id, pipeline_id, owner_id, source, campaign_id, coalesce(currency, '') AS currency,
               {sign}1 AS n, {sign}amount AS amount, {sign}(amount * probability / 100) AS weighted
        FROM {table} WHERE deleted_at IS NULL AND status = 'open'"""


def upgrade() -> None:
    op.execute(f"""
        CREATE TABLE deal_open_totals (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            pipeline_id uuid NOT NULL,
            owner_id uuid,
            source varchar(100),
            campaign_id uuid,
            currency varchar(3) NOT NULL,
            shard smallint NOT NULL CHECK (shard BETWEEN 0 AND {SHARDS - 1}),
            count bigint NOT NULL,
            amount_sum numeric NOT NULL,
            weighted_sum numeric NOT NULL
        )""")
    op.execute(f"CREATE UNIQUE INDEX deal_open_totals_key ON deal_open_totals ({DIMENSIONS}, shard) NULLS NOT DISTINCT")
    having = "HAVING sum(n) <> 0 OR coalesce(sum(amount), 0) <> 0 OR coalesce(sum(weighted), 0) <> 0"
    of_live_tenants = "SELECT * FROM ({}) AS d WHERE EXISTS (SELECT FROM tenants WHERE id = d.tenant_id)"
    op.execute(f"""
        CREATE FUNCTION deal_open_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {_upsert(_rows('new_rows', ''))};
            ELSIF TG_OP = 'UPDATE' THEN
                {_upsert(_rows('new_rows', '') + ' UNION ALL ' + _rows('old_rows', '-'), having)};
            ELSE
                {_upsert(of_live_tenants.format(_rows('old_rows', '-')))};
            END IF;
            RETURN NULL;
        END $$""")
    for event, tables in (("INSERT", "NEW TABLE AS new_rows"),
                          ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows")):
        op.execute(f"""CREATE TRIGGER deal_open_{event.lower()} AFTER {event} ON deals REFERENCING {tables}
                       FOR EACH STATEMENT EXECUTE FUNCTION deal_open_apply()""")

    op.execute("ALTER TABLE deals NO FORCE ROW LEVEL SECURITY")
    op.execute(f"""
        INSERT INTO deal_open_totals ({DIMENSIONS}, shard, count, amount_sum, weighted_sum)
        SELECT {DIMENSIONS}, 0, sum(n), coalesce(sum(amount), 0), coalesce(sum(weighted), 0)
        FROM ({_rows('deals', '')}) AS d GROUP BY {DIMENSIONS}""")
    op.execute("ALTER TABLE deals FORCE ROW LEVEL SECURITY")

    op.execute("ALTER TABLE deal_open_totals ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE deal_open_totals FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON deal_open_totals USING (tenant_id = crm_current_tenant())")


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER deal_open_{event} ON deals")
    op.execute("DROP FUNCTION deal_open_apply()")
    op.execute("DROP TABLE deal_open_totals")
