"""Custom field definitions: CRUD, and the definitions other services validate against."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from crm_api.custom_fields import values
from crm_api.custom_fields.schemas import CustomFieldOut
from crm_api.kit.errors import DuplicateRecord, ValidationFailed
from crm_api.kit.filtering import eq, timestamp_filters
from crm_api.kit.record_service import RecordService
from crm_api.kit.records import RecordType
from crm_api.models.custom_field import CustomField

KIND = RecordType(
    CustomField, "custom_field",
    filters={"object_type": eq(CustomField.object_type), **timestamp_filters(CustomField)},
    sorts={"created_at": CustomField.created_at, "updated_at": CustomField.updated_at, "key": CustomField.key},
)


def represent(field: CustomField) -> CustomFieldOut:
    return CustomFieldOut.model_validate(field, from_attributes=True)


class CustomFieldService(RecordService[CustomField, CustomFieldOut]):
    kind = KIND
    not_null = ("label", "required")

    view = staticmethod(represent)

    async def conflict(self, constraint: str, field: Any) -> Exception | None:
        if constraint != "custom_fields_key":
            return None
        existing = (await self.uow.session.execute(
            select(CustomField.id).where(CustomField.tenant_id == self.records.tenant_id,
                                         CustomField.object_type == field.object_type, CustomField.key == field.key,
                                         CustomField.deleted_at.is_(None))
        )).scalar_one_or_none()
        return DuplicateRecord(f"{field.object_type} already has a custom field {field.key!r}", existing_id=existing)

    async def columns(self, changes: dict[str, Any], current: CustomField | None) -> dict[str, Any]:
        if current is not None and "options" in changes:
            if current.type not in ("select", "multiselect"):
                raise ValidationFailed.field("options", "are only for select and multiselect fields")
            if changes["options"] is None:
                raise ValidationFailed.field("options", "are required for select and multiselect fields")
        return changes

    async def definitions(self, object_type: str) -> dict[str, CustomField]:
        """The live definitions of one record type, by key."""
        rows = (await self.uow.session.execute(
            self.records.select().where(CustomField.object_type == object_type)
        )).scalars().all()
        return {f.key: f for f in rows}

    async def merge_values(self, object_type: str, current: Mapping[str, Any],
                           given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validated custom field values after applying `given` to `current`; `None` clears them all."""
        return values.merge(await self.definitions(object_type), {} if given is None else current, given or {})

    async def columns_for(self, object_type: str, changes: Mapping[str, Any], current: Any | None) -> dict[str, Any]:
        """`{"custom_fields": merged}` when a write sets custom fields, or creates a record (required
        fields are checked then); otherwise nothing."""
        if "custom_fields" not in changes and current is not None:
            return {}
        existing = current.custom_fields if current is not None else {}
        return {"custom_fields": await self.merge_values(object_type, existing, changes.get("custom_fields"))}

    async def filter_conditions(self, object_type: str, model: Any, params: Mapping[str, str]) -> list[Any]:
        """Conditions on records of `model` for `custom_fields.<key>=` filters; no query when there are none."""
        if not params:
            return []
        return values.filter_conditions(await self.definitions(object_type), model, object_type, params)
