"""List parameters, filters and sorts: one mechanism for every list endpoint."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func
from sqlalchemy.sql.elements import ColumnElement

from crm_api.kit.errors import ValidationFailed
from crm_api.kit.pagination import SortKey

Filter = Callable[[Any], ColumnElement[bool]]
CUSTOM_FIELD_PREFIX = "custom_fields."


class ListParams(BaseModel):
    """limit, cursor and sort; resources subclass it with their filters (all optional)."""

    model_config = ConfigDict(extra="ignore")
    # Lists of records that carry custom fields also accept `custom_fields.<key>=value`.
    accepts_custom_field_filters: ClassVar[bool] = False

    limit: int = Field(50, ge=1, le=200, description="Page size, 1 to 200.")
    cursor: str | None = Field(None, description="Opaque cursor from a previous page's next_cursor.")
    sort: str | None = Field(None, description="A sortable field, `-` prefix for descending.")


class TimestampRangeParams(ListParams):
    """created/updated ranges every record list offers."""

    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None


class FollowUpParams(TimestampRangeParams):
    """Filters on the follow-up times records carry (kept current by activities)."""

    last_activity_before: datetime | None = None
    last_activity_after: datetime | None = None
    next_activity_before: datetime | None = None
    has_next_activity: bool | None = None


def follow_up_filters(model: Any) -> dict[str, Filter]:
    """Filters of FollowUpParams for a model with last/next_activity_at."""
    return {
        # Never contacted counts as "not since": a record without activity is before any date.
        "last_activity_before": lambda v: (model.last_activity_at < v) | model.last_activity_at.is_(None),
        "last_activity_after": gte(model.last_activity_at),
        "next_activity_before": lt(model.next_activity_at),
        "has_next_activity": lambda v: model.next_activity_at.is_not(None) if v else model.next_activity_at.is_(None),
    }


def eq(column: Any) -> Filter:
    return lambda value: column == value


def ieq(column: Any) -> Filter:
    """Case-insensitive equality. lower(column) is not leakproof: under row-level security it never
    runs in an index, so large tables filter on a stored key instead (`key_eq`)."""
    return lambda value: func.lower(column) == value.lower()


def key_eq(key: Any) -> Filter:
    """Equality on a stored lower-cased key (`lower(column)`, computed by PostgreSQL) with lower(value)."""
    return lambda value: key == func.lower(value)


def gte(column: Any) -> Filter:
    return lambda value: column >= value


def lt(column: Any) -> Filter:
    return lambda value: column < value


def timestamp_filters(model: Any) -> dict[str, Filter]:
    """The created/updated range filters of a record model."""
    return {
        "created_after": gte(model.created_at), "created_before": lt(model.created_at),
        "updated_after": gte(model.updated_at), "updated_before": lt(model.updated_at),
    }


def given_filters(params: BaseModel, filters: Mapping[str, Filter]) -> dict[str, Any]:
    """The filter parameters that were given, with their values."""
    given = params.model_dump(exclude_none=True, exclude={"limit", "cursor", "sort", "q"})
    return {name: value for name, value in given.items() if name in filters}


def apply_filters(stmt: Select[Any], params: BaseModel, filters: Mapping[str, Filter]) -> Select[Any]:
    """Add a WHERE clause for every filter parameter that was given."""
    for name, value in given_filters(params, filters).items():
        stmt = stmt.where(filters[name](value))
    return stmt


def resolve_sort(sort: str | None, sortable: Mapping[str, Any], default: str = "-created_at") -> SortKey:
    """The SortKey for a `sort` parameter; 422 naming the sortable fields otherwise."""
    name = sort or default
    field = name.removeprefix("-")
    if field not in sortable:
        raise ValidationFailed.field("sort", f"must be one of {', '.join(sorted(sortable))}, `-` for descending")
    return SortKey(name, ((sortable[field], name.startswith("-")),))


def custom_field_params(query: Mapping[str, str]) -> dict[str, str]:
    """The `custom_fields.<key>=value` filters of a query string."""
    return {k[len(CUSTOM_FIELD_PREFIX):]: v for k, v in query.items() if k.startswith(CUSTOM_FIELD_PREFIX)}
