"""Custom field definitions: CRUD, and the definitions other services validate against."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from crm_api.custom_fields import values
from crm_api.custom_fields.schemas import CustomFieldCreate, CustomFieldListParams, CustomFieldOut, CustomFieldUpdate
from crm_api.kit.errors import DuplicateRecord, ValidationFailed
from crm_api.kit.filtering import eq, timestamp_filters
from crm_api.kit.records import Records, RecordType
from crm_api.kit.uow import UnitOfWork
from crm_api.models.custom_field import CustomField

KIND = RecordType(
    CustomField, "custom_field",
    filters={"object_type": eq(CustomField.object_type), **timestamp_filters(CustomField)},
    sorts={"created_at": CustomField.created_at, "updated_at": CustomField.updated_at, "key": CustomField.key},
)


def represent(field: CustomField) -> CustomFieldOut:
    return CustomFieldOut.model_validate(field, from_attributes=True)


class CustomFieldService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.records: Records[CustomField] = Records(uow, KIND, self._conflict)

    async def _conflict(self, constraint: str, field: Any) -> Exception | None:
        if constraint != "custom_fields_key":
            return None
        existing = (await self.uow.session.execute(
            select(CustomField.id).where(CustomField.tenant_id == self.records.tenant_id,
                                         CustomField.object_type == field.object_type, CustomField.key == field.key,
                                         CustomField.deleted_at.is_(None))
        )).scalar_one_or_none()
        return DuplicateRecord(f"{field.object_type} already has a custom field {field.key!r}", existing_id=existing)

    async def list(self, params: CustomFieldListParams, query: Any) -> tuple[list[CustomFieldOut], str | None]:
        rows, cursor = await self.records.list(params)
        return [represent(r) for r in rows], cursor

    async def get(self, field_id: uuid.UUID) -> CustomFieldOut:
        return represent(await self.records.get(field_id))

    async def create(self, body: CustomFieldCreate) -> CustomFieldOut:
        return await self.records.create(CustomField(**body.model_dump()), represent)

    async def update(self, field_id: uuid.UUID, body: CustomFieldUpdate, expected: int | None) -> CustomFieldOut:
        field = await self.records.get(field_id, for_update=True)
        changes = body.model_dump(exclude_unset=True)
        for name in ("label", "required"):
            if name in changes and changes[name] is None:
                raise ValidationFailed.field(name, "cannot be null")
        if "options" in changes:
            if field.type not in ("select", "multiselect"):
                raise ValidationFailed.field("options", "are only for select and multiselect fields")
            if changes["options"] is None:
                raise ValidationFailed.field("options", "are required for select and multiselect fields")
        return await self.records.update(field, changes, expected, represent)

    async def delete(self, field_id: uuid.UUID, expected: int | None) -> None:
        field = await self.records.get(field_id, for_update=True)
        await self.records.trash(field, expected, represent)

    async def restore(self, field_id: uuid.UUID) -> CustomFieldOut:
        return await self.records.restore(field_id, represent)

    async def definitions(self, object_type: str) -> dict[str, CustomField]:
        """The live definitions of one record type, by key."""
        rows = (await self.uow.session.execute(
            self.records.select().where(CustomField.object_type == object_type)
        )).scalars().all()
        return {f.key: f for f in rows}

    async def merge_values(self, object_type: str, current: Mapping[str, Any],
                           given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validated custom field values after applying `given` to `current`."""
        return values.merge(await self.definitions(object_type), current, given or {})

    async def filter_conditions(self, object_type: str, column: Any, params: Mapping[str, str]) -> list[Any]:
        """Conditions for `custom_fields.<key>=` filters; no query when there are none."""
        if not params:
            return []
        return values.filter_conditions(await self.definitions(object_type), column, params)
