"""Lost reasons: rules and queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, func, select

from crm_api.kit.errors import DuplicateRecord
from crm_api.kit.filtering import timestamp_filters
from crm_api.kit.record_service import RecordService
from crm_api.kit.records import RecordType
from crm_api.lost_reasons.schemas import LostReasonOut
from crm_api.models.lost_reason import LostReason

KIND = RecordType(
    LostReason, "lost_reason",
    filters=timestamp_filters(LostReason),
    sorts={"created_at": LostReason.created_at, "updated_at": LostReason.updated_at,
           "name": func.lower(LostReason.name, type_=String)},
)


def represent(reason: LostReason) -> LostReasonOut:
    return LostReasonOut.model_validate(reason, from_attributes=True)


class LostReasonService(RecordService[LostReason, LostReasonOut]):
    kind = KIND
    not_null = ("name",)

    view = staticmethod(represent)

    async def conflict(self, constraint: str, reason: Any) -> Exception | None:
        if constraint != "lost_reasons_name_key":
            return None
        existing = (await self.uow.session.execute(
            select(LostReason.id).where(LostReason.tenant_id == self.records.tenant_id,
                                        LostReason.deleted_at.is_(None),
                                        func.lower(LostReason.name) == reason.name.lower())
        )).scalar_one_or_none()
        return DuplicateRecord(f"A lost reason named {reason.name!r} exists", existing_id=existing)
