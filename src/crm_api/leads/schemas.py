"""Leads in and out, and their conversion."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from crm_api.companies.schemas import CompanyName, CompanyOut
from crm_api.contacts.schemas import ContactOut
from crm_api.deals.schemas import DealOut, Title
from crm_api.kit.filtering import TimestampRangeParams
from crm_api.kit.schemas import Domain, Money, Name, Phone, RecordOut, ShortText, StrictModel, partial
from crm_api.kit.search import q_description

LeadSource = Literal["web_form", "trade_show", "referral", "conference", "advertising", "email_campaign", "social",
                     "cold_outreach", "other"]
LeadStatus = Literal["new", "mql", "sql", "converted", "disqualified"]
# `converted` is reached through POST /v1/leads/{id}/convert only.
SettableStatus = Literal["new", "mql", "sql", "disqualified"]
Score = Annotated[int, Field(ge=0, le=100)]
SearchTerm = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class LeadCreate(StrictModel):
    """At least one of first_name, last_name, email or company_name is required."""

    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    company_name: CompanyName | None = None
    company_domain: Domain | None = Field(None, description="Used to find the company on conversion.")
    job_title: ShortText | None = None
    source: LeadSource | None = None
    source_detail: Annotated[str, StringConstraints(max_length=500)] | None = None
    campaign_id: uuid.UUID | None = Field(None, description="The campaign the lead came from (replaces the "
                                                           "free-text `campaign` of earlier builds).")
    status: SettableStatus = "new"
    disqualify_reason: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        None, description="Required when the status is disqualified.")
    owner_id: uuid.UUID | None = None
    score: Score = 0
    custom_fields: dict[str, Any] = Field(default_factory=dict)


LeadUpdate = partial(LeadCreate, "LeadUpdate")


class LeadOut(RecordOut):
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    company_name: str | None
    company_domain: str | None
    job_title: str | None
    source: LeadSource | None
    source_detail: str | None
    campaign_id: uuid.UUID | None
    status: LeadStatus
    disqualify_reason: str | None
    owner_id: uuid.UUID | None
    score: int
    custom_fields: dict[str, Any]
    converted_at: datetime | None
    converted_contact_id: uuid.UUID | None
    converted_company_id: uuid.UUID | None
    converted_deal_id: uuid.UUID | None


class LeadListParams(TimestampRangeParams):
    accepts_custom_field_filters: ClassVar[bool] = True

    q: SearchTerm | None = Field(None, description=q_description("the name, email and company name"))
    status: LeadStatus | None = None
    source: LeadSource | None = None
    owner_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    email: str | None = None
    score_min: Score | None = None
    score_max: Score | None = None


class LeadDeal(StrictModel):
    """The deal a conversion creates."""

    title: Title | None = Field(None, description="Defaults to the company name, else the person's name.")
    amount: Money | None = None
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = Field(None, description="Defaults to the lead's owner.")
    expected_close_date: date | None = None


class LeadConvert(StrictModel):
    contact_id: uuid.UUID | None = Field(None, description="Link this contact instead of matching by email.")
    company_id: uuid.UUID | None = Field(None, description="Link this company instead of matching by name or "
                                                           "domain.")
    create_company: bool = Field(True, description="Create a company from company_name when none matches.")
    deal: LeadDeal | None = Field(None, description="Also create a deal for the contact and company.")


class LeadConversion(BaseModel):
    lead: LeadOut
    contact: ContactOut
    contact_created: bool
    company: CompanyOut | None
    company_created: bool
    deal: DealOut | None
