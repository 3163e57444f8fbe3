"""Companies in and out."""

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StringConstraints

from crm_api.kit.filtering import FollowUpParams
from crm_api.kit.schemas import (
    Address,
    Domain,
    Money,
    MoneyOut,
    Phone,
    RecordOut,
    ShortText,
    StrictModel,
    Tags,
    Url,
    partial,
)
from crm_api.kit.search import q_description

Relationship = Literal["customer", "prospect", "partner", "supplier", "distributor", "competitor", "other"]
CompanyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class CompanyCreate(StrictModel):
    name: CompanyName
    domain: Domain | None = Field(None, examples=["acme.example"])
    industry: ShortText | None = None
    employee_count: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    annual_revenue: Money | None = None
    relationship: Relationship | None = None
    address: Address | None = None
    phone: Phone | None = None
    website: Url | None = None
    owner_id: uuid.UUID | None = None
    tags: Tags = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


CompanyUpdate = partial(CompanyCreate, "CompanyUpdate")


class CompanyOut(RecordOut):
    name: str
    domain: str | None
    industry: str | None
    employee_count: int | None
    annual_revenue: MoneyOut | None
    relationship: Relationship | None
    address: Address
    phone: str | None
    website: str | None
    owner_id: uuid.UUID | None
    tags: list[str]
    custom_fields: dict[str, Any]
    last_activity_at: datetime | None = Field(
        None, description="The latest call, email, note, finished meeting or done task linked to it.")
    next_activity_at: datetime | None = Field(None, description="Its next open task or upcoming meeting.")


class CompanyListParams(FollowUpParams):
    accepts_custom_field_filters: ClassVar[bool] = True

    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        None, description=q_description("the name and domain"))
    owner_id: uuid.UUID | None = None
    relationship: Relationship | None = None
    industry: str | None = None
    tag: str | None = None
    domain: str | None = None
    city: str | None = None
    country: str | None = None
