"""Filters on custom-field values and array members through `record_values` (leakproof `=` under RLS).

The table is kept by database triggers (migration 20261125_0302); this module turns a filter value into
the same typed key the triggers store and builds the semi-join. jsonb and array containment cannot use
an index under row-level security; equality on text can.

The best plan depends on the value: a common one walks the list's own index and probes record_values, a
rare one starts from record_values. A prepared statement's generic plan cannot see the value (and after
five runs PostgreSQL may keep the generic plan, made for an average, i.e. rare, value: 450 ms instead of
8 ms for a value 35,000 deals have), so a statement that filters on record_values is planned for its
values (`plan_cache_mode = force_custom_plan` for the rest of the transaction).

A list by created_at joins the rows of an array column's value instead (`array_value_filter`): they carry the record's
created_at, and the index (tenant, type, key, value, created_at, record_id) gives a page of a value in the
list's order, bounded work however many records hold it (migration 20261126_0501).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from functools import cache
from hashlib import md5
from typing import Any

from sqlalchemy import Select, exists, select, text, tuple_
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnElement

from crm_api.kit.pagination import SortKey, decode_cursor
from crm_api.models.record_value import RecordValue

CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
MAX_LENGTH = 200  # longer keys are stored as a 160-character prefix, '#' and their md5 (record_value_key)


def value_key(value: Any) -> str:
    """The stored key of a scalar JSON value: `s:`, `n:` (trailing zeros trimmed) or `b:` and its text."""
    if isinstance(value, bool):
        text = f"b:{'true' if value else 'false'}"
    elif isinstance(value, int | float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        text = "n:" + ("0" if number == 0 else format(number.normalize(), "f"))
    elif isinstance(value, str):
        text = f"s:{value}"
    else:
        raise TypeError(f"no key for {type(value).__name__}")
    if len(text) <= MAX_LENGTH:
        return text
    return f"{text[:160]}#{md5(text.encode()).hexdigest()}"


def has_value(model: Any, object_type: str, key: str, value: Any) -> ColumnElement[bool]:
    """Records of `model` whose `key` (a custom field, or `#<array column>`) holds `value`."""
    return exists(select(RecordValue.record_id).where(
        RecordValue.tenant_id == model.tenant_id, RecordValue.object_type == object_type,
        RecordValue.key == key, RecordValue.value == value_key(value), RecordValue.record_id == model.id))


def in_array(model: Any, object_type: str, column: str) -> Any:
    """A list filter: records whose array `column` (tags, contact_ids) contains the given value."""
    return lambda value: has_value(model, object_type, f"#{column}", str(value))


@cache
def _value_rows(object_type: str, column: str) -> Any:
    """The alias of record_values that `array_value_filter` joins (one per array column: the EXISTS of
    `has_value` on the plain table must not correlate with it)."""
    return RecordValue.__table__.alias(f"{object_type}_{column}_values")


def array_value_filter(model: Any, object_type: str, column: str, value: Any, sort: str | None,
                       cursor: str | None) -> tuple[list[Any], SortKey | None]:
    """Conditions (and the sort to list by) for records whose array `column` holds `value`, in a list in
    `sort` order (None: not a plain list, e.g. a ranked search page).

    By created_at, either way: a join to the value's rows, ordered by their created_at (the record's) and
    record id. The index (tenant, type, key, value, created_at, record_id) then gives the page in the
    list's order, one walk of 51 entries and 51 record lookups however many records hold the value; the
    (key, value, record) row is unique, so each record comes once. The cursor's position is also put on
    the rows (pagination compares the record's own columns, which PostgreSQL does not carry over the
    join to the index). Sorting by the record's created_at instead, with `created_at = rows.created_at`
    in the join, gave the planner the order too, but two equalities in the join made it estimate under
    one row for any value and sort all 293,000 rows of a common tag.

    Other orders: the semi-join of `has_value`.
    """
    if sort not in ("-created_at", "created_at"):
        return [has_value(model, object_type, f"#{column}", str(value))], None
    rows = _value_rows(object_type, column)
    descending = sort.startswith("-")
    conditions = [rows.c.tenant_id == model.tenant_id, rows.c.object_type == object_type,
                  rows.c.key == f"#{column}", rows.c.value == value_key(str(value)), rows.c.record_id == model.id]
    if cursor:
        created_at, record_id = decode_cursor(cursor, sort, 2)
        # A value of another type is left to pagination, which answers it with a 422.
        if isinstance(created_at, datetime) and isinstance(record_id, uuid.UUID):
            position, after = tuple_(rows.c.created_at, rows.c.record_id), tuple_(created_at, record_id)
            conditions.append(position < after if descending else position > after)
    return conditions, SortKey(sort, ((rows.c.created_at, descending),))


def array_value_list_filter(kind: Any, column: str, value: Any, params: Any) -> tuple[list[Any], SortKey | None]:
    """`array_value_filter` for a list of `kind` (a RecordType) with these list parameters: by created_at
    unless the list is a ranked search page (`q` without `sort` on a kind with a search index). Nothing
    when `value` is None. The list's service returns the sort from its `list_conditions`."""
    if value is None:
        return [], None
    ranked = bool(getattr(params, "q", None)) and params.sort is None and kind.search is not None
    sort = None if ranked else params.sort or kind.default_sort
    return array_value_filter(kind.model, kind.object_type, column, value, sort, params.cursor)


def filters_on_values(stmt: Select[Any]) -> bool:
    """Whether the statement reads record_values (a filter made by has_value or array_value_filter)."""
    table = RecordValue.__table__
    return any(element is table or getattr(element, "element", None) is table for element in visitors.iterate(stmt))


async def plan_for_values(session: Any, stmt: Select[Any]) -> None:
    """Have PostgreSQL plan the transaction's statements for their values when `stmt` filters on record_values."""
    if filters_on_values(stmt):
        if hasattr(session, "custom_plans"):  # the read path's session (kit/reads.py): no transaction to SET LOCAL in
            session.custom_plans()
        else:
            await session.execute(CUSTOM_PLANS)
