"""Campaigns: rules and queries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, func

from crm_api.campaigns.schemas import CampaignListParams, CampaignOut
from crm_api.custom_fields.service import CustomFieldService
from crm_api.kit.errors import DuplicateRecord, ValidationFailed
from crm_api.kit.filtering import custom_field_params, eq, timestamp_filters
from crm_api.kit.record_service import RecordService
from crm_api.kit.records import RecordType
from crm_api.kit.schemas import money_out
from crm_api.kit.uow import UnitOfWork
from crm_api.models.campaign import Campaign
from crm_api.tenants.service import money_columns
from crm_api.users.service import UserService

OBJECT_TYPE = "campaign"
KIND = RecordType(
    Campaign, OBJECT_TYPE,
    filters={
        "channel": eq(Campaign.channel), "status": eq(Campaign.status), "owner_id": eq(Campaign.owner_id),
        "starts_on_after": lambda v: Campaign.starts_on >= v, "starts_on_before": lambda v: Campaign.starts_on < v,
        **timestamp_filters(Campaign),
    },
    sorts={"created_at": Campaign.created_at, "updated_at": Campaign.updated_at, "starts_on": Campaign.starts_on,
           "name": func.lower(Campaign.name, type_=String)},
)


def represent(campaign: Campaign) -> CampaignOut:
    return CampaignOut(
        id=campaign.id, created_at=campaign.created_at, updated_at=campaign.updated_at, version=campaign.version,
        name=campaign.name, channel=campaign.channel, status=campaign.status,  # type: ignore[arg-type]
        starts_on=campaign.starts_on, ends_on=campaign.ends_on,
        cost=money_out(campaign.cost_amount, campaign.cost_currency), owner_id=campaign.owner_id,
        custom_fields=dict(campaign.custom_fields or {}),
    )


class CampaignService(RecordService[Campaign, CampaignOut]):
    kind = KIND
    not_null = ("name", "channel", "status")

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.custom_fields = CustomFieldService(uow)

    view = staticmethod(represent)

    async def conflict(self, constraint: str, campaign: Any) -> Exception | None:
        if constraint != "campaigns_name_key":
            return None
        stmt = self.records.select().with_only_columns(Campaign.id).where(
            func.lower(Campaign.name) == campaign.name.lower())
        existing = (await self.uow.session.execute(stmt)).scalar_one_or_none()
        return DuplicateRecord(f"A campaign named {campaign.name!r} exists", existing_id=existing)

    async def columns(self, changes: dict[str, Any], current: Campaign | None) -> dict[str, Any]:
        columns = {k: v for k, v in changes.items() if k not in ("cost", "custom_fields")}
        starts = columns.get("starts_on", current.starts_on if current else None)
        ends = columns.get("ends_on", current.ends_on if current else None)
        if starts is not None and ends is not None and ends < starts:
            raise ValidationFailed.field("ends_on", "is before starts_on")
        if "cost" in changes:
            columns.update(await money_columns(self.uow, "cost", changes["cost"],
                                               current.cost_currency if current else None))
        if "owner_id" in changes:
            await UserService(self.uow).require("owner_id", changes["owner_id"])
        columns.update(await self.custom_fields.columns_for(OBJECT_TYPE, changes, current))
        return columns

    async def list_conditions(self, params: CampaignListParams, query: Mapping[str, str]) -> tuple[list[Any], None]:
        conditions = await self.custom_fields.filter_conditions(OBJECT_TYPE, Campaign,
                                                                custom_field_params(query))
        return conditions, None
