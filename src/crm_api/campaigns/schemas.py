"""Campaigns in and out."""

import uuid
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import Field

from crm_api.kit.filtering import TimestampRangeParams
from crm_api.kit.schemas import Money, MoneyOut, Name, RecordOut, StrictModel, partial

Channel = Literal["email", "event", "advertising", "social", "content", "referral", "other"]
CampaignStatus = Literal["planned", "active", "paused", "completed", "cancelled"]


class CampaignCreate(StrictModel):
    name: Name = Field(description="Unique per tenant, case-insensitively.")
    channel: Channel
    status: CampaignStatus = "planned"
    starts_on: date | None = None
    ends_on: date | None = Field(None, description="On or after starts_on.")
    cost: Money | None = Field(None, description="What the campaign cost; used by the marketing KPIs.")
    owner_id: uuid.UUID | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)


CampaignUpdate = partial(CampaignCreate, "CampaignUpdate")


class CampaignOut(RecordOut):
    name: str
    channel: Channel
    status: CampaignStatus
    starts_on: date | None
    ends_on: date | None
    cost: MoneyOut | None
    owner_id: uuid.UUID | None
    custom_fields: dict[str, Any]


class CampaignListParams(TimestampRangeParams):
    accepts_custom_field_filters: ClassVar[bool] = True

    channel: Channel | None = None
    status: CampaignStatus | None = None
    owner_id: uuid.UUID | None = None
    starts_on_after: date | None = Field(None, description="Starts on or after this date.")
    starts_on_before: date | None = Field(None, description="Starts before this date.")
