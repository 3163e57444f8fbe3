"""The service every record resource starts from: list, get, create, update, delete, restore.

A domain subclass names its RecordType and representation and overrides the hooks that differ:
`columns` (validate API fields and turn them into column values), `list_conditions` (search and
custom-field filters) and `conflict` (turn a unique violation into a 409 with `existing_id`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from crm_api.kit.errors import ValidationFailed
from crm_api.kit.filtering import apply_filters, given_filters
from crm_api.kit.pagination import SortKey
from crm_api.kit.records import Records, RecordType
from crm_api.kit.uow import UnitOfWork

M = TypeVar("M")
Out = TypeVar("Out", bound=BaseModel)


class RecordService(Generic[M, Out]):
    kind: ClassVar[RecordType[Any]]
    # Fields that may be omitted but never set to null.
    not_null: ClassVar[tuple[str, ...]] = ()

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.records: Records[M] = Records(uow, self.kind, self.conflict)

    # The representation as a function of the record alone, for services whose representation needs
    # nothing else (most): the read path (kit/reads.py) then represents rows without a unit of work.
    view: ClassVar[staticmethod[[Any], Any] | None] = None

    def represent(self, record: M) -> Out:
        """The record as the API shows it."""
        if self.view is None:
            raise NotImplementedError
        return self.view(record)  # type: ignore[no-any-return]

    @classmethod
    def on_read_path(cls) -> bool:
        """Whether the resource's list and GET of one record take the read path (kit/reads.py): a
        plain `get` and a `view`. Its `list` and list hooks then run on a ReadUnit, so they may only
        read (Core or whole-entity SELECTs; no `session.get`, lazy loads or writes)."""
        return cls.view is not None and cls.get is RecordService.get

    async def conflict(self, constraint: str, record: Any) -> Exception | None:
        """The error for a violated unique constraint, or None to let it surface."""
        return None

    async def columns(self, changes: dict[str, Any], current: M | None) -> dict[str, Any]:
        """Column values for the API fields in `changes` (all fields on create, given ones on update)."""
        return changes

    async def list_conditions(self, params: Any, query: Mapping[str, str]) -> tuple[list[Any], SortKey | None]:
        """Extra WHERE conditions (and a sort replacing the requested one) for a list."""
        return [], None

    def _check_not_null(self, changes: Mapping[str, Any]) -> None:
        for name in self.not_null:
            if name in changes and changes[name] is None:
                raise ValidationFailed.field(name, "cannot be null")

    async def list(self, params: Any, query: Mapping[str, str]) -> tuple[list[Out], str | None]:
        """A page of records; with `q` (records with a search index), those matching every word of it,
        best matches first unless a `sort` is given."""
        conditions, sort = await self.list_conditions(params, query)
        search, q = self.kind.search, getattr(params, "q", None)
        if search is not None and q:
            words = await search.expand(self.uow.session, q)
            if not words or not all(word.terms for word in words):
                return [], None  # no words (only punctuation), or a word that matches nothing
            if params.sort is None and sort is None:
                # No filters: the ranked statement of all live records, built once (search.py).
                base = (None if not conditions and not given_filters(params, self.kind.filters)
                        else apply_filters(self.records.select(), params, self.kind.filters).where(*conditions))
                rows, cursor = await search.ranked_page(self.uow.session, self.records.tenant_id, base,
                                                        self.kind.model, words, params.limit, params.cursor)
                return [self.represent(r) for r in rows], cursor
            conditions = [*conditions, *search.matches(self.kind.model, words)]
        rows, cursor = await self.records.list(params, conditions, sort)
        return [self.represent(r) for r in rows], cursor

    async def get(self, record_id: uuid.UUID) -> Out:
        return self.represent(await self.records.get(record_id))

    async def create(self, body: BaseModel) -> Out:
        columns = await self.columns(body.model_dump(exclude_unset=True), None)
        return await self.records.create(self.kind.model(**columns), self.represent)

    async def update(self, record_id: uuid.UUID, body: BaseModel, expected: int | None) -> Out:
        record = await self.records.get(record_id, for_update=True)
        changes = body.model_dump(exclude_unset=True)
        self._check_not_null(changes)
        return await self.records.update(record, await self.columns(changes, record), expected, self.represent)

    async def delete(self, record_id: uuid.UUID, expected: int | None) -> None:
        record = await self.records.get(record_id, for_update=True)
        await self.records.trash(record, expected, self.represent)

    async def restore(self, record_id: uuid.UUID) -> Out:
        return await self.records.restore(record_id, self.represent)

    async def require(self, field: str, record_id: uuid.UUID | None) -> None:
        """422 when `record_id` is given and names no live record of this type for the tenant."""
        await self.records.require_reference(field, record_id)
