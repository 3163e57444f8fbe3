"""Compaction of the KPI rollups: each key's shard rows merged into one, and keys whose sums are all zero dropped.

The rollups (deal_day_totals, deal_attribution_day_totals, deal_stay_day_totals, case_service_day_totals and the
others: every table with a `shard` column) are kept by triggers that add each statement's change to one of 8
shard rows per key, picked by the writer's backend pid, so that concurrent writers of the same key do not queue
on one row. Over time a busy key holds up to 8 rows, and keys whose records moved away hold rows of zeros: a
request reads every one of them. The benchmark's rollups are built by rebuilds, one row per key; this job keeps
a production tenant's rollups that way, once an hour.

Which tables and columns: read from the catalog, so that a new rollup is compacted without being listed here.
A rollup is a table with a unique index whose last column is `shard`: its other columns are the key, the
table's remaining columns the sums.

Per tenant and table, one short transaction: rows of shards 1-7 are deleted and their sums added to shard 0,
then shard-0 rows of zeros deleted. Writers are never made to wait or fail: rows a writer holds are skipped
(SKIP LOCKED; they are compacted next time), and waiting for a shard-0 row a writer holds is bounded by a lock
timeout, after which that table is left for the next run. Readers see a table before or after a compaction,
never between (one transaction).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from crm_api.config import get_settings
from crm_api.kit.uow import UnitOfWork
from crm_api.maintenance.jobs import tenant_ids

log = logging.getLogger(__name__)

ROLLUPS = text("""
    SELECT c.relname AS name,
           (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k (num, n)
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num WHERE a.attname <> 'shard') AS keys,
           (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              AND a.attnum <> ALL (i.indkey::int2[])) AS sums
    FROM pg_class c
    JOIN pg_index i ON i.indrelid = c.oid AND i.indisunique
    JOIN pg_attribute s ON s.attrelid = c.oid AND s.attname = 'shard' AND s.attnum = i.indkey[i.indnkeyatts - 1]
    WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
    ORDER BY c.relname""")
# Waiting longer than this for a row a writer holds gives the table up until the next run.
LOCK_TIMEOUT = "200ms"


@dataclass(frozen=True)
class Rollup:
    """A rollup table: its key columns (tenant_id first, shard left out) and summed columns."""

    name: str
    keys: tuple[str, ...]
    sums: tuple[str, ...]

    def merge(self) -> str:
        """Rows of shards 1-7 of the tenant, those no writer holds, added to shard 0; returns how many rows went
        (`moved`) and how many shard-0 rows were new (`added`: xmax is 0 on a row inserted, not updated)."""
        keys, sums = ", ".join(self.keys), ", ".join(self.sums)
        return f"""
            WITH moved AS (
                DELETE FROM {self.name} WHERE ctid = ANY (ARRAY(
                    SELECT ctid FROM {self.name} WHERE tenant_id = :t AND shard <> 0
                    ORDER BY {keys}, shard FOR UPDATE SKIP LOCKED))
                RETURNING *),
            merged AS (
                INSERT INTO {self.name} AS t ({keys}, shard, {sums})
                SELECT {keys}, 0, {", ".join(f"sum({c})" for c in self.sums)} FROM moved
                GROUP BY {keys} HAVING {" OR ".join(f"sum({c}) <> 0" for c in self.sums)}
                ORDER BY {keys}
                ON CONFLICT ({keys}, shard) DO UPDATE SET {", ".join(f"{c} = t.{c} + excluded.{c}" for c in self.sums)}
                RETURNING t.xmax = 0 AS added)
            SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM merged WHERE added) AS added"""

    def prune(self) -> str:
        """The tenant's shard-0 rows whose sums are all zero, those no writer holds, deleted."""
        return f"""
            DELETE FROM {self.name} WHERE ctid = ANY (ARRAY(
                SELECT ctid FROM {self.name}
                WHERE tenant_id = :t AND shard = 0 AND {" AND ".join(f"{c} = 0" for c in self.sums)}
                FOR UPDATE SKIP LOCKED))"""


async def rollups(sessionmaker: Any) -> list[Rollup]:
    async with sessionmaker() as session:
        return [Rollup(r.name, tuple(r.keys), tuple(r.sums)) for r in (await session.execute(ROLLUPS)).all()]


async def compact_tenant(ctx: dict[str, Any], tenant_id: Any, tables: list[Rollup] | None = None) -> int:
    """Compact one tenant's rollups, one transaction per table; returns the rows removed."""
    settings = ctx.get("settings") or get_settings()
    removed = 0
    for rollup in tables if tables is not None else await rollups(ctx["sessionmaker"]):
        try:
            async with UnitOfWork(ctx["sessionmaker"], settings=settings) as uow:
                await uow.set_tenant(tenant_id)
                session = uow.session
                await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                merged = (await session.execute(text(rollup.merge()), {"t": tenant_id})).one()
                pruned = await session.execute(text(rollup.prune()), {"t": tenant_id})
                removed += merged.moved - merged.added + (pruned.rowcount or 0)  # type: ignore[attr-defined]
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != "55P03":  # lock_not_available: next time
                raise
            log.info("rollup %s of tenant %s left for the next compaction: a writer holds its rows",
                     rollup.name, tenant_id)
    return removed


async def compact_rollups(ctx: dict[str, Any]) -> int:
    """The cron job: every tenant's rollups; returns the rows removed."""
    tables = await rollups(ctx["sessionmaker"])
    total = 0
    for tenant_id in await tenant_ids(ctx):
        total += await compact_tenant(ctx, tenant_id, tables)
    if total:
        log.info("compacted the KPI rollups: %d rows fewer", total)
    return total
