"""Records read as plain objects: the columns the ORM would load, without the ORM.

A list page of 50 contacts loaded as ORM instances spent about as much CPU building and reading the
instances (identity map, instrumented attributes) as on everything else of the request; the
representation functions only read attributes. A `RowShape` selects a model's loaded columns
(not the deferred ones) and makes each row an instance of `row_class(model)`: a plain class with
the model's Python properties (such as `address`), its values in `__dict__`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Float, Numeric, inspect
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

DIALECT = PGDialect_asyncpg()
# Execution options of a statement built once and executed many times with other values (the read
# path keeps its compiled form by identity: no cache key to compute per execution).
REUSABLE = {"crm_reusable": True}


@cache
def row_class(model: type) -> type:
    """A plain class with the Python properties of `model` and none of the ORM's instrumentation."""
    namespace: dict[str, Any] = {"__doc__": f"A {model.__name__} row read without the ORM."}
    for klass in reversed(model.__mro__):
        namespace.update({name: value for name, value in vars(klass).items() if isinstance(value, property)})
    return type(f"{model.__name__}Row", (), namespace)


def _type_oid(type_: Any) -> int | None:
    """The PostgreSQL type a result processor is told it reads (numeric ones need it: asyncpg returns
    Decimal for numeric and float for double precision, which the processors then convert or keep)."""
    if isinstance(type_, Float):
        return 701  # float8
    if isinstance(type_, Numeric):
        return 1700  # numeric
    return None


@dataclass(frozen=True)
class RowShape:
    """The loaded columns of a model, in order, and how a row of them becomes a plain object."""

    cls: type
    names: tuple[str, ...]  # attribute keys, in column order
    columns: tuple[Any, ...]  # the model's columns, labelled with the attribute keys
    # For rows read by asyncpg itself: the values SQLAlchemy's result processing would convert.
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]

    def from_values(self, values: Iterable[Any]) -> Any:
        """A row whose values SQLAlchemy already converted (a Core result), in column order."""
        record = self.cls()
        record.__dict__.update(zip(self.names, values, strict=False))
        return record

    def from_raw(self, row: Sequence[Any]) -> Any:
        """A row read by asyncpg itself, the shape's columns first."""
        record = self.cls()
        values = record.__dict__
        values.update(zip(self.names, row, strict=False))
        for name, process in self.processors:
            values[name] = process(values[name])
        return record

    def rows(self, results: Sequence[Sequence[Any]]) -> list[Any]:
        width = len(self.names)
        return [self.from_values(row[:width]) for row in results]


@cache
def row_shape(model: type) -> RowShape:
    mapper: Any = inspect(model)
    names, columns, processors = [], [], []
    for attr in mapper.column_attrs:
        if attr.deferred:
            continue
        column = attr.columns[0]
        names.append(attr.key)
        columns.append(column.label(attr.key))
        process = column.type.dialect_impl(DIALECT).result_processor(DIALECT, _type_oid(column.type))
        if process is not None:
            processors.append((attr.key, process))
    return RowShape(row_class(model), tuple(names), tuple(columns), tuple(processors))
