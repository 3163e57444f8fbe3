"""Keyset (cursor) pagination: opaque cursors, stable order, never OFFSET."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, and_, or_, tuple_
from sqlalchemy.sql.elements import ColumnElement

from crm_api.kit.errors import ValidationFailed
from crm_api.kit.rows import RowShape

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    data: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class SortKey:
    """An ordering: expressions with their directions; the record id always breaks ties."""

    name: str
    columns: tuple[tuple[ColumnElement[Any], bool], ...]  # (expression, descending)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, date):
        return {"D": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "t" in value:
            return datetime.fromisoformat(value["t"])
        if "u" in value:
            return uuid.UUID(value["u"])
        if "d" in value:
            return Decimal(value["d"])
        if "D" in value:
            return date.fromisoformat(value["D"])
    return value


def encode_cursor(sort_name: str, values: list[Any]) -> str:
    """An opaque cursor after the row with these sort values."""
    raw = json.dumps([sort_name, [_encode_value(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort_name: str, arity: int) -> list[Any]:
    """The sort values a cursor holds; 422 when it is malformed or from another sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, values = json.loads(raw)
        decoded = [_decode_value(v) for v in values]
    except (ValueError, TypeError) as exc:
        raise ValidationFailed.field("cursor", "is not a cursor this API gave out") from exc
    if name != sort_name or len(decoded) != arity:
        raise ValidationFailed.field("cursor", "belongs to another sort order")
    return decoded


def after_cursor(columns: list[tuple[ColumnElement[Any], bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the cursor position in the given order."""
    if len({desc for _, desc in columns}) == 1:
        left = tuple_(*[c for c, _ in columns])
        right = tuple_(*values)
        return left < right if columns[0][1] else left > right
    clauses = []
    for i, (col, desc) in enumerate(columns):
        equal = [c == v for (c, _), v in zip(columns[:i], values[:i], strict=True)]
        clauses.append(and_(*equal, col < values[i] if desc else col > values[i]))
    return or_(*clauses)


def _fits(column: ColumnElement[Any], value: Any) -> bool:
    """Whether a cursor value has the Python type of the sort expression it is compared with."""
    try:
        expected = column.type.python_type
    except NotImplementedError:
        return True
    return value is None or isinstance(value, expected)


async def paginate(session: Any, stmt: Select[Any], sort: SortKey, id_column: ColumnElement[Any],
                   limit: int, cursor: str | None, shape: RowShape | None = None) -> tuple[list[Any], str | None]:
    """Run `stmt` ordered by `sort` and the id, one page after `cursor`; returns rows and next cursor.

    The rows are the statement's first column, or with `shape` (its columns selected), plain records."""
    last_desc = sort.columns[-1][1] if sort.columns else True
    columns = [*sort.columns, (id_column, last_desc)]
    if cursor:
        values = decode_cursor(cursor, sort.name, len(columns))
        # A tampered cursor must be a 422, not a database error on a mistyped comparison.
        if not all(_fits(c, v) for (c, _), v in zip(columns, values, strict=True)):
            raise ValidationFailed.field("cursor", "is not a cursor this API gave out")
        stmt = stmt.where(after_cursor(columns, values))
    keys = [c.label(f"_k{i}") for i, (c, _) in enumerate(columns)]
    stmt = stmt.add_columns(*keys).order_by(*[c.desc() if d else c.asc() for c, d in columns]).limit(limit + 1)
    rows = (await session.execute(stmt)).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(sort.name, [last[-len(keys) + i] for i in range(len(keys))])
    return (shape.rows(rows) if shape is not None else [r[0] for r in rows]), next_cursor
