"""The board's sums kept as a rollup: count, sum and weighted sum of live deals per (pipeline, stage, currency).

`GET /v1/pipelines/{id}/board` summed every deal of the pipeline on each request (400 ms of SQL at 400,000
deals). Statement-level triggers with transition tables apply the net change of each INSERT, UPDATE and
DELETE on deals to `deal_board_totals`, in the same transaction: creates, moves (also between pipelines),
amount and currency changes, trash (`deleted_at` set) and restore, and the re-derived probability when a
stage's probability changes (that UPDATE of deals goes through the same trigger). One aggregate per
statement, so a bulk move or a COPY costs one upsert per key, and an UPDATE that changes nothing on the
board (a title, an activity date) nets to zero and touches no row.

Hot rows: every deal created in a busy stage would update the same row and hold its lock until commit.
Each key is split over 8 `shard` rows and a transaction writes to the shard of its backend
(`pg_backend_pid() % 8`), so concurrent writers rarely meet; readers sum the shards. A shard's own
figures mean nothing (a deal may be added in one shard and removed in another), only the sums over the
shards do. Upserts run in key order, so two transactions never lock two rows in opposite orders.

Currency is '' for deals without an amount (they count, with no sum). Weighted amounts are
`amount * probability / 100` per deal, the very expression the API shows as `weighted_amount`.

Revision ID: 20261125_0301
Revises: 20261124_0702
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0301"
down_revision = "20261124_0702"
branch_labels = None
depends_on = None

SHARDS = 8
KEY = "tenant_id, pipeline_id, stage_id, currency, shard"


def _upsert(source: str, having: str = "") -> str:
    """Add the rows of `source` (tenant_id, pipeline_id, stage_id, currency, n, amount, weighted) per key."""
    return f"""
        INSERT INTO deal_board_totals AS t ({KEY}, count, amount_sum, weighted_sum)
        SELECT tenant_id, pipeline_id, stage_id, currency, pg_backend_pid() % {SHARDS},
               sum(n), coalesce(sum(amount), 0), coalesce(sum(weighted), 0)
        FROM ({source}) AS delta
        GROUP BY tenant_id, pipeline_id, stage_id, currency {having}
        ORDER BY tenant_id, pipeline_id, stage_id, currency
        ON CONFLICT ({KEY}) DO UPDATE SET count = t.count + excluded.count,
            amount_sum = t.amount_sum + excluded.amount_sum, weighted_sum = t.weighted_sum + excluded.weighted_sum"""


def _rows(table: str, sign: str) -> str:
    return f"""
        SELECT tenant_id, pipeline_id, stage_id, coalesce(currency, '') AS currency, {sign}1 AS n,
               {sign}amount AS amount, {sign}(amount * probability / 100) AS weighted
        FROM {table} WHERE deleted_at IS NULL"""


def upgrade() -> None:
    op.execute(f"""
        CREATE TABLE deal_board_totals (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            pipeline_id uuid NOT NULL,
            stage_id uuid NOT NULL,
            currency varchar(3) NOT NULL,
            shard smallint NOT NULL CHECK (shard BETWEEN 0 AND {SHARDS - 1}),
            count bigint NOT NULL,
            amount_sum numeric NOT NULL,
            weighted_sum numeric NOT NULL,
            PRIMARY KEY ({KEY})
        )""")
    having = "HAVING sum(n) <> 0 OR coalesce(sum(amount), 0) <> 0 OR coalesce(sum(weighted), 0) <> 0"
    # A deal deleted with its tenant (ON DELETE CASCADE) must not write totals for the tenant being deleted.
    of_live_tenants = "SELECT * FROM ({}) AS d WHERE EXISTS (SELECT FROM tenants WHERE id = d.tenant_id)"
    op.execute(f"""
        CREATE FUNCTION deal_board_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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
    for event, tables in (("INSERT", "NEW TABLE AS new_rows"), ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                          ("DELETE", "OLD TABLE AS old_rows")):
        op.execute(f"""CREATE TRIGGER deal_board_{event.lower()} AFTER {event} ON deals REFERENCING {tables}
                       FOR EACH STATEMENT EXECUTE FUNCTION deal_board_apply()""")

    # Backfill as the owner: FORCE is lifted for the read so that every tenant's deals are seen
    # (an owner that is not a superuser is otherwise held to the tenant policy).
    op.execute("ALTER TABLE deals NO FORCE ROW LEVEL SECURITY")
    op.execute(f"""
        INSERT INTO deal_board_totals ({KEY}, count, amount_sum, weighted_sum)
        SELECT tenant_id, pipeline_id, stage_id, currency, 0, sum(n), coalesce(sum(amount), 0),
               coalesce(sum(weighted), 0)
        FROM ({_rows('deals', '')}) AS d GROUP BY tenant_id, pipeline_id, stage_id, currency""")
    op.execute("ALTER TABLE deals FORCE ROW LEVEL SECURITY")

    # The board of one owner still aggregates that owner's deals: from this index alone.
    op.execute("""CREATE INDEX deals_owner_board_idx ON deals (tenant_id, owner_id, pipeline_id, stage_id)
                  INCLUDE (currency, amount, probability) WHERE deleted_at IS NULL""")

    op.execute("ALTER TABLE deal_board_totals ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE deal_board_totals FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON deal_board_totals USING (tenant_id = crm_current_tenant())")


def downgrade() -> None:
    op.execute("DROP INDEX deals_owner_board_idx")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER deal_board_{event} ON deals")
    op.execute("DROP FUNCTION deal_board_apply()")
    op.execute("DROP TABLE deal_board_totals")
