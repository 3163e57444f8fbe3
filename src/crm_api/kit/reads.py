"""The read path: lists and GETs of one record on raw asyncpg connections, without a unit of work.

A read by id through the unit of work costs four round trips (BEGIN, authenticate and set the
tenant, SELECT, COMMIT), FastAPI dependencies and SQLAlchemy's async bridge on each of them: about
1 ms of the app's CPU, five times the bare handler's (bench/RESULTS.md). Here a request is:

1. `authenticate` on a connection of the app's `ReadPool`: `crm_authenticate()` finds the key, and
   the same statement sets `app.tenant_id` for the connection's session (not a transaction: there
   is none). Every use of a read connection starts with it, so a connection never carries a
   previous request's tenant into a statement.
2. Its SELECTs. A GET by id is one, with `tenant_id = $1` written out beside row-level security:
   even a tenant setting that were somehow stale could only make the row invisible (404), never
   show another tenant's row. A list runs the service's own `list` on a `ReadSession`.

No transaction: each SELECT reads a consistent snapshot of its own, as under READ COMMITTED.
Revocation stays immediate (the key is looked up on every request). Rows become plain objects
carrying the model's Python properties (kit/rows.py), so the domain's own representation
functions build the output. docs/architecture.md ("The request path") has the measurements.
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
from sqlalchemy import Executable, Select, bindparam, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Mapper
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from crm_api.auth.principal import (
    AUTHENTICATE_SQL,
    Principal,
    authenticated_principal,
    require_scope,
    token_hash,
)
from crm_api.kit.concurrency import etag
from crm_api.kit.errors import NotFound
from crm_api.kit.rows import DIALECT, RowShape, row_shape

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
                                         init=_init_connection, reset=_reset_connection,
                                         record_class=_Record,
                                         # Read-only at the server: a write sent here by mistake fails.
                                         server_settings={"default_transaction_read_only": "on"})
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
            require_scope(principal, scopes)
            request.state.principal = principal
            yield principal, connection

    @asynccontextmanager
    async def unit(self, request: Request, scopes: Sequence[str]) -> AsyncIterator[ReadUnit]:
        """A ReadUnit for the request's principal (401/403 as `authenticated`)."""
        async with self.authenticated(request, scopes) as (principal, connection):
            yield ReadUnit(ReadSession(connection), principal.tenant_id, principal.actor,
                           request.app.state.settings)


@dataclass(frozen=True)
class ByIdRead:
    """The by-id SELECT of a model's loaded columns, and the shape of its row."""

    sql: str
    shape: RowShape


@cache
def by_id_read(model: type) -> ByIdRead:
    """The live record of `model` with id $2 in tenant $1."""
    shape = row_shape(model)
    table: Any = inspect(model).local_table
    compiled = select(*shape.columns).where(table.c.tenant_id == bindparam("t"), table.c.id == bindparam("i"),
                                           table.c.deleted_at.is_(None)).compile(dialect=DIALECT)
    assert compiled.positiontup == ["t", "i"], compiled.positiontup
    return ByIdRead(str(compiled), shape)


class _Record(asyncpg.Record):
    """Rows of the read path answer `row.name` as SQLAlchemy rows do (and `row[i]`, `row["name"]`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class ReadResult:
    """What the services read off a result: rows, first/one, scalars."""

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def all(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Any:
        return iter(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise LookupError(f"expected at most one row, got {len(self._rows)}")
        return self.scalar()

    def scalars(self) -> ReadResult:
        return ReadResult([row[0] for row in self._rows])

    def mappings(self) -> ReadResult:
        return ReadResult([dict(row.items()) for row in self._rows])


class ReadSession:
    """The part of AsyncSession that reads use, on a read-path connection (no transaction, the
    tenant set by the authentication): Core statements compiled once per shape with SQLAlchemy's
    own cache key and run by asyncpg; a SELECT of one whole entity (`select(Contact)`) reads the
    entity's loaded columns and yields plain records (kit/rows.py), not ORM instances. Writes, ORM
    identity (`get`, lazy loads) and transactions are not offered: a service that needs them is
    not on the read path."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self._plan_per_statement = False

    def custom_plans(self) -> None:
        """Plan the following statements for their values (kit/record_values.py says why): each is
        prepared anew, and PostgreSQL plans a statement's first executions with their values."""
        self._plan_per_statement = True

    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> ReadResult:
        prepared = _prepare(statement)
        sql, args = prepared.arguments(params)
        if self._plan_per_statement:
            rows = await (await self.connection.prepare(sql)).fetch(*args)
        else:
            rows = await self.connection.fetch(sql, *args)
        shape = prepared.shape
        if shape is not None:
            width = len(shape.names)
            return ReadResult([(shape.from_raw(row), *row[width:]) for row in rows])
        return ReadResult(rows)


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled for asyncpg, and the row shape of the entity it selects."""

    compiled: Any
    # The statement's own bound values, as SQLAlchemy's cache key extracted them (None for a
    # reusable statement: its values all come as parameters).
    extracted: Any
    shape: RowShape | None

    def arguments(self, params: dict[str, Any] | None) -> tuple[str, list[Any]]:
        """The SQL and positional arguments for these parameters."""
        compiled = self.compiled
        values = compiled.construct_params(params, extracted_parameters=self.extracted, _no_postcompile=True)
        if compiled.post_compile_params:  # expanding IN lists: rendered for these values
            state = compiled._process_parameters_for_postcompile(values)
            sql, order, values, processors = state.statement, state.positiontup, state.parameters, state.processors
        else:
            sql, order, processors = compiled.string, compiled.positiontup, compiled._bind_processors
        args = []
        for name in order or ():
            value = values[name]
            process = processors.get(name)
            args.append(process(value) if process is not None and value is not None else value)
        return sql, args


def _entity_shape(statement: Any) -> tuple[RowShape | None, list[Any]]:
    """When `statement` selects one whole mapped entity first (`select(Contact)`, `select(Contact,
    tier)`): its row shape and the other selected expressions.

    Read off the statement's raw columns (`column_descriptions` cost about as much as compiling)."""
    if not isinstance(statement, Select):
        return None, []
    first, *others = statement._raw_columns
    mapper = first._annotations.get("parententity") if isinstance(first, FromClause) else None
    if not isinstance(mapper, Mapper):  # columns, or an aliased entity (not read here)
        return None, []
    if any(isinstance(other, FromClause) and not isinstance(other, ColumnElement) for other in others):
        raise NotImplementedError("the read path reads one entity per statement")
    entity: type = mapper.class_
    return row_shape(entity), others


# SQLAlchemy's compiled cache for the read path's statements, keyed by their cache keys (emptied
# when it outgrows its bound); and statements marked REUSABLE (kit/rows.py), by identity.
_COMPILED: dict[Any, Any] = {}
_COMPILED_MAX = 2000
_REUSED: dict[int, tuple[Any, _Prepared]] = {}


def _prepare(statement: Any) -> _Prepared:
    reusable = isinstance(statement, Executable) and statement.get_execution_options().get("crm_reusable", False)
    if reusable:
        entry = _REUSED.get(id(statement))
        if entry is not None and entry[0] is statement:
            return entry[1]
    shape, extra = _entity_shape(statement)
    selected = statement.with_only_columns(*shape.columns, *extra) if shape is not None else statement
    if reusable:
        prepared = _Prepared(selected.compile(dialect=DIALECT), None, shape)
        _REUSED[id(statement)] = (statement, prepared)  # holds the statement: its id is not reused
        return prepared
    if len(_COMPILED) > _COMPILED_MAX:
        _COMPILED.clear()
    compiled, extracted, _, _ = selected._compile_w_cache(DIALECT, compiled_cache=_COMPILED, column_keys=[])
    return _Prepared(compiled, extracted, shape)


@dataclass
class ReadUnit:
    """What a service reads of its unit of work, on the read path: the tenant, who acts, the
    settings and a ReadSession. Nothing to commit."""

    session: ReadSession
    tenant_id: uuid.UUID
    actor: Any
    settings: Any


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
    out = represent(read.shape.from_raw(row))
    return json_response(out, headers={"ETag": etag(out.version)})  # type: ignore[attr-defined]

