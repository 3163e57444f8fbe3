"""Generic record persistence: get, list, create, update, trash and restore, each writing its event.

Domain services supply what differs (validation, references, representation); this module does
what every record shares: tenant scoping, versions, If-Match, the trash, unique conflicts and the
outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, bindparam, inspect, select
from sqlalchemy.exc import IntegrityError

from crm_api.kit.clock import utcnow
from crm_api.kit.concurrency import check_version
from crm_api.kit.errors import NotFound, ValidationFailed
from crm_api.kit.events import changed_fields
from crm_api.kit.filtering import Filter, ListParams, apply_filters, resolve_sort
from crm_api.kit.pagination import SortKey, paginate
from crm_api.kit.record_values import plan_for_values
from crm_api.kit.rows import row_shape
from crm_api.kit.search import TermIndex
from crm_api.kit.uow import UnitOfWork

M = TypeVar("M")
Out = TypeVar("Out", bound=BaseModel)
# Maps a violated unique constraint to the error to raise (it may query, e.g. for existing_id).
ConflictHandler = Callable[[str, Any], Awaitable[Exception | None]]


@dataclass
class RecordType(Generic[M]):
    """What the generic operations need to know about one kind of record."""

    model: type[M]
    object_type: str  # singular, as in event types: "contact"
    filters: Mapping[str, Filter] = field(default_factory=dict)
    sorts: Mapping[str, Any] = field(default_factory=dict)
    default_sort: str = "-created_at"
    # The search-term index `q` reads (kit/search.py), for records that have one.
    search: TermIndex | None = None


@cache
def _find_statement(model: Any, for_update: bool) -> Select[Any]:
    """The by-id SELECT of a live record, built once per model: building and hashing a statement on
    every request cost about as much CPU as running it (the SQL sent is the same)."""
    stmt = select(model).where(model.tenant_id == bindparam("tenant_id"), model.deleted_at.is_(None),
                               model.id == bindparam("record_id"))
    return stmt.with_for_update() if for_update else stmt


class Records(Generic[M]):
    """Tenant-scoped access to one record type inside a unit of work."""

    def __init__(self, uow: UnitOfWork, kind: RecordType[M],
                 on_conflict: ConflictHandler | None = None) -> None:
        assert uow.tenant_id is not None
        self.uow = uow
        self.session = uow.session
        self.tenant_id: uuid.UUID = uow.tenant_id
        self.kind = kind
        self.model: Any = kind.model
        self.on_conflict = on_conflict

    def select(self, *, include_deleted: bool = False) -> Select[Any]:
        """SELECT of this tenant's live records."""
        stmt = select(self.model).where(self.model.tenant_id == self.tenant_id)
        if not include_deleted:
            stmt = stmt.where(self.model.deleted_at.is_(None))
        return stmt

    async def find(self, record_id: uuid.UUID, *, for_update: bool = False) -> M | None:
        """A live record, or None."""
        stmt = _find_statement(self.model, for_update)
        params = {"tenant_id": self.tenant_id, "record_id": record_id}
        return (await self.session.execute(stmt, params)).scalar_one_or_none()

    async def get(self, record_id: uuid.UUID, *, for_update: bool = False) -> M:
        """A live record; 404 when it does not exist, is trashed, or is another tenant's."""
        record = await self.find(record_id, for_update=for_update)
        if record is None:
            raise NotFound(f"No {self.kind.object_type} {record_id}")
        return record

    async def exists(self, record_id: uuid.UUID) -> bool:
        stmt = select(self.model.id).where(self.model.tenant_id == self.tenant_id, self.model.id == record_id,
                                           self.model.deleted_at.is_(None))
        return (await self.session.execute(stmt)).first() is not None

    async def require_reference(self, field_name: str, record_id: uuid.UUID | None) -> None:
        """422 when a referenced record of this type does not exist for the tenant."""
        if record_id is not None and not await self.exists(record_id):
            raise ValidationFailed.field(field_name, f"no {self.kind.object_type} {record_id}")

    async def list(self, params: ListParams, conditions: list[Any] | None = None,
                   sort: SortKey | None = None) -> tuple[list[M], str | None]:
        """One page of records matching the filters in `params` and any extra conditions, as plain
        objects (kit/rows.py: read-only, for representing)."""
        stmt = apply_filters(self.select(), params, self.kind.filters)
        for condition in conditions or []:
            stmt = stmt.where(condition)
        sort = sort or resolve_sort(params.sort, self.kind.sorts, self.kind.default_sort)
        await plan_for_values(self.session, stmt)
        shape = row_shape(self.model)
        return await paginate(self.session, stmt.with_only_columns(*shape.columns), sort, self.model.id,
                              params.limit, params.cursor, shape)

    @asynccontextmanager
    async def changing(self, record: Any) -> AsyncIterator[None]:
        """Change `record` in the block; flush it in a savepoint, a unique violation becoming the domain's error.

        The changes must be made inside the block: begin_nested() flushes what is pending before its
        SAVEPOINT, so a violation by earlier changes would fail the whole transaction.
        """
        values: Any = record
        try:
            async with self.session.begin_nested():
                yield
                # The savepoint's rollback expires the record: the conflict handler reads this copy.
                state = inspect(record)
                values = SimpleNamespace(**{a.key: state.dict.get(a.key) for a in state.mapper.column_attrs})
                await self.session.flush()
        except IntegrityError as exc:
            constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
            error = await self.on_conflict(constraint or "", values) if self.on_conflict else None
            if error is not None:
                raise error from exc
            raise

    async def create(self, record: M, represent: Callable[[M], Out]) -> Out:
        """Insert a record and write `<type>.created`."""
        record.tenant_id = self.tenant_id  # type: ignore[attr-defined]
        async with self.changing(record):
            self.session.add(record)
        out = represent(record)
        self.uow.outbox.add(f"{self.kind.object_type}.created", self.kind.object_type,
                            record.id, out.model_dump(mode="json"))  # type: ignore[attr-defined]
        return out

    async def update(self, record: M, changes: Mapping[str, Any], expected_version: int | None,
                     represent: Callable[[M], Out], before: dict[str, Any] | None = None) -> Out:
        """Apply column changes to a locked record; write `<type>.updated` with previous values.

        `before` is the representation to diff against when the caller changed the record already.
        """
        check_version(expected_version, record.version)  # type: ignore[attr-defined]
        if before is None:
            before = represent(record).model_dump(mode="json")
        async with self.changing(record):
            for name, value in changes.items():
                setattr(record, name, value)
            after = represent(record)
            previous = changed_fields(before, after.model_dump(mode="json"))
            if not previous:
                return represent(record)
            record.version += 1  # type: ignore[attr-defined]
            record.updated_at = utcnow()  # type: ignore[attr-defined]
        out = represent(record)
        self.uow.outbox.add(f"{self.kind.object_type}.updated", self.kind.object_type, record.id,  # type: ignore[attr-defined]
                            out.model_dump(mode="json"), previous)
        return out

    async def trash(self, record: M, expected_version: int | None, represent: Callable[[M], Out]) -> None:
        """Move a record to the trash; write `<type>.deleted`."""
        check_version(expected_version, record.version)  # type: ignore[attr-defined]
        now = utcnow()
        record.deleted_at = now  # type: ignore[attr-defined]
        record.updated_at = now  # type: ignore[attr-defined]
        record.version += 1  # type: ignore[attr-defined]
        await self.session.flush()
        self.uow.outbox.add(f"{self.kind.object_type}.deleted", self.kind.object_type, record.id,  # type: ignore[attr-defined]
                            represent(record).model_dump(mode="json"))

    async def restore(self, record_id: uuid.UUID, represent: Callable[[M], Out]) -> Out:
        """Bring a record back from the trash; write `<type>.restored`. 404 past retention."""
        stmt = (self.select(include_deleted=True)
                .where(self.model.id == record_id, self.model.deleted_at.is_not(None),
                       self.model.deleted_at > utcnow() - timedelta(days=self.uow.settings.trash_retention_days))
                .with_for_update())
        record = (await self.session.execute(stmt)).scalar_one_or_none()
        if record is None:
            raise NotFound(f"No {self.kind.object_type} {record_id} in the trash")
        async with self.changing(record):
            record.deleted_at = None
            record.updated_at = utcnow()
            record.version += 1
        out = represent(record)
        self.uow.outbox.add(f"{self.kind.object_type}.restored", self.kind.object_type, record.id,
                            out.model_dump(mode="json"))
        return out
