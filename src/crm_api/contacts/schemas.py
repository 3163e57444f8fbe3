"""Contacts in and out."""

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from crm_api.kit.filtering import FollowUpParams, TimestampRangeParams
from crm_api.kit.schemas import Address, Name, Phone, RecordOut, ShortText, StrictModel, Tags, partial
from crm_api.kit.search import q_description

LifecycleStage = Literal["subscriber", "lead", "opportunity", "customer", "evangelist", "other"]
SearchTerm = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ContactCreate(StrictModel):
    """At least one of first_name, last_name or email is required."""

    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    mobile: Phone | None = None
    wechat: Annotated[str, StringConstraints(max_length=100)] | None = None
    job_title: ShortText | None = None
    company_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    source: Annotated[str, StringConstraints(max_length=100)] | None = None
    campaign_id: uuid.UUID | None = Field(None, description="The campaign it came from.")
    lifecycle_stage: LifecycleStage | None = None
    tags: Tags = Field(default_factory=list)
    address: Address | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)


ContactUpdate = partial(ContactCreate, "ContactUpdate")


class ContactOut(RecordOut):
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    mobile: str | None
    wechat: str | None
    job_title: str | None
    company_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    source: str | None
    campaign_id: uuid.UUID | None
    lifecycle_stage: LifecycleStage | None
    tags: list[str]
    address: Address
    custom_fields: dict[str, Any]
    last_activity_at: datetime | None = Field(
        None, description="The latest call, email, note, finished meeting or done task linked to it.")
    next_activity_at: datetime | None = Field(None, description="Its next open task or upcoming meeting.")


class ContactListParams(FollowUpParams):
    accepts_custom_field_filters: ClassVar[bool] = True

    q: SearchTerm | None = Field(
        None, description=q_description("names, email, phone numbers and company name"))
    owner_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    tag: str | None = None
    email: str | None = None
    city: str | None = None
    country: str | None = None
    lifecycle_stage: LifecycleStage | None = None
    source: str | None = None
    campaign_id: uuid.UUID | None = None


class CompanyContactListParams(TimestampRangeParams):
    """Filters of a company's contacts."""

    lifecycle_stage: LifecycleStage | None = None
    tag: str | None = None


class DuplicateParams(BaseModel):
    name: SearchTerm | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    phone: Phone | None = None


class DuplicateMatch(BaseModel):
    contact: ContactOut
    score: float = Field(description="0 to 1; 1 is an exact email match.")
    reasons: list[Literal["email", "phone", "name"]]


class DuplicateList(BaseModel):
    data: list[DuplicateMatch]
