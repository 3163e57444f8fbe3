"""The read path: GETs of one record served on raw asyncpg connections, two round trips per request.

A read by id through the unit of work costs four round trips (BEGIN, authenticate and set the
tenant, SELECT, COMMIT), FastAPI dependencies and SQLAlchemy's async bridge on each of them: about
1 ms of the app's CPU, five times the bare handler's (bench/RESULTS.md). Here the same request is:

1. `authenticate` on a connection of the app's `ReadPool`: `crm_authenticate()` finds the key, and
   the same statement sets `app.tenant_id` for the connection's session (not a transaction: there
   is none). Every use of a read connection starts with it, so a connection never carries a
   previous request's tenant into a statement.
2. The record's SELECT, with `tenant_id = $1` written out beside row-level security: even a tenant
   setting that were somehow stale could only make the row invisible (404), never show another
   tenant's row.

No transaction: a single SELECT reads one consistent snapshot on its own. Revocation stays
immediate (the key is looked up on every request). Rows become plain objects carrying the model's
Python properties (`row_class`), so the domain's own representation functions build the output.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import asyncpg
from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import Float, Numeric, inspect
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url

from crm_api.auth.principal import AUTHENTICATE_SQL, Principal, authenticated_principal, token_hash
from crm_api.kit.concurrency import etag
from crm_api.kit.errors import Forbidden, NotFound

_DIALECT = PGDialect_asyncpg()
_QUOTE = _DIALECT.identifier_preparer.quote

# The app's authentication statement, with the tenant set for the connection's session.
AUTHENTICATE = AUTHENTICATE_SQL.format(local="false", hash="$1")


async def _init_connection(connection: asyncpg.Connection) -> None:
    # As SQLAlchemy's asyncpg dialect does: json and jsonb arrive decoded.
    for name in ("json", "jsonb"):
        await connection.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _reset_connection(connection: asyncpg.Connection) -> None:
    """Back into the pool: nothing to undo (no transaction is opened here; the next user sets its tenant)."""
    if connection.is_in_transaction():  # only after a bug; never hand an open transaction on
        await connection.execute("ROLLBACK")


class ReadPool:
    """The app's asyncpg pool for the read path, as the app role (row-level security applies)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, app_url: str, size: int) -> ReadPool:
        url = make_url(app_url).set(drivername="postgresql")
        pool = await asyncpg.create_pool(url.render_as_string(hide_password=False), min_size=1, max_size=size,
                                         init=_init_connection, reset=_reset_connection)
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def authenticated(self, request: Request, scopes: Sequence[str]) -> AsyncIterator[
            tuple[Principal, asyncpg.Connection]]:
        """A connection with the tenant of the request's API key set, and its principal.

        401 without a valid key, 403 unless it holds one of `scopes`."""
        hashed = token_hash(request.headers.get("authorization"))
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(AUTHENTICATE, hashed)
            principal = authenticated_principal(row)
            if not any(principal.allows(s) for s in scopes):
                raise Forbidden(f"This endpoint needs the `{'` or `'.join(scopes)}` scope")
            request.state.principal = principal
            yield principal, connection


@cache
def row_class(model: type) -> type:
    """A plain class with the Python properties of `model` (such as `address`) and none of the ORM's
    instrumentation: what a row read here becomes, for the domain's representation to read."""
    namespace: dict[str, Any] = {"__doc__": f"A {model.__name__} row read without the ORM."}
    for klass in reversed(model.__mro__):
        namespace.update({name: value for name, value in vars(klass).items() if isinstance(value, property)})
    return type(f"{model.__name__}Row", (), namespace)


@dataclass(frozen=True)
class ByIdRead:
    """The by-id SELECT of a model's loaded columns and how its values become the model's."""

    sql: str
    cls: type
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]

    def instance(self, row: asyncpg.Record) -> Any:
        record = self.cls()
        values = record.__dict__
        values.update(row.items())
        for name, process in self.processors:
            values[name] = process(values[name])
        return record


def _type_oid(type_: Any) -> int | None:
    """The PostgreSQL type a result processor is told it reads (numeric ones need it: asyncpg returns
    Decimal for numeric and float for double precision, which the processors then convert or keep)."""
    if isinstance(type_, Float):
        return 701  # float8
    if isinstance(type_, Numeric):
        return 1700  # numeric
    return None


@cache
def by_id_read(model: type) -> ByIdRead:
    """The live record of `model` with id $2 in tenant $1: the columns the ORM loads (not the deferred)."""
    mapper: Any = inspect(model)
    columns, processors = [], []
    for attr in mapper.column_attrs:
        if attr.deferred:
            continue
        column = attr.columns[0]
        columns.append(f"{_QUOTE(column.name)} AS {_QUOTE(attr.key)}")
        process = column.type.dialect_impl(_DIALECT).result_processor(_DIALECT, _type_oid(column.type))
        if process is not None:
            processors.append((attr.key, process))
    table = _QUOTE(mapper.local_table.name)
    sql = (f"SELECT {', '.join(columns)} FROM {table} "
           "WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
    return ByIdRead(sql, row_class(model), tuple(processors))


def json_response(model: BaseModel, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A model as the response body, serialized once by pydantic-core (FastAPI's response_model
    path would dump, validate again and encode it: about as much CPU as the rest of a read)."""
    return Response(model.model_dump_json(by_alias=True), status_code=status_code, headers=headers,
                    media_type="application/json")


async def get_response(request: Request, scopes: Sequence[str], model: type, object_type: str,
                       record_id: uuid.UUID, represent: Callable[[Any], BaseModel]) -> Response:
    """GET of one live record: its representation with its ETag; 404 when absent or another tenant's."""
    read = by_id_read(model)
    pool: ReadPool = request.app.state.reads
    async with pool.authenticated(request, scopes) as (principal, connection):
        row = await connection.fetchrow(read.sql, principal.tenant_id, record_id)
    if row is None:
        raise NotFound(f"No {object_type} {record_id}")
    out = represent(read.instance(row))
    return json_response(out, headers={"ETag": etag(out.version)})  # type: ignore[attr-defined]

