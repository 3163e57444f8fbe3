"""Filters on custom-field values and array members through `record_values` (leakproof `=` under RLS).

The table is kept by database triggers (migration 20261125_0302); this module turns a filter value into
the same typed key the triggers store and builds the semi-join. jsonb and array containment cannot use
an index under row-level security; equality on text can.

The best plan depends on the value: a common one walks the list's own index and probes record_values, a
rare one starts from record_values. A prepared statement's generic plan cannot see the value (and after
five runs PostgreSQL may keep the generic plan, made for an average, i.e. rare, value: 450 ms instead of
8 ms for a value 35,000 deals have), so a statement that filters on record_values is planned for its
values (`plan_cache_mode = force_custom_plan` for the rest of the transaction).
"""

from __future__ import annotations

from decimal import Decimal
from hashlib import md5
from typing import Any

from sqlalchemy import Select, exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnElement

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


def filters_on_values(stmt: Select[Any]) -> bool:
    """Whether the statement reads record_values (a filter made by has_value)."""
    table = RecordValue.__table__
    return any(element is table for element in visitors.iterate(stmt))


async def plan_for_values(session: AsyncSession, stmt: Select[Any]) -> None:
    """Have PostgreSQL plan the transaction's statements for their values when `stmt` filters on record_values."""
    if filters_on_values(stmt):
        await session.execute(CUSTOM_PLANS)
