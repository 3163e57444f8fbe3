"""Cases, messages and SLA policies in and out."""

import re
import uuid
from datetime import date, datetime, time
from itertools import pairwise
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from crm_api.kit.filtering import TimestampRangeParams
from crm_api.kit.schemas import RecordOut, StrictModel, Tags, partial

Channel = Literal["email", "phone", "web", "chat", "in_person", "other"]
CaseType = Literal["question", "problem", "complaint", "request", "other"]
Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["new", "open", "pending", "on_hold", "resolved", "closed"]
Relationship = Literal["customer", "prospect", "partner", "supplier", "distributor", "competitor", "other"]
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
_ZONES = available_timezones()
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class CaseCreate(StrictModel):
    subject: Subject
    description: Annotated[str, StringConstraints(max_length=100_000)] | None = None
    channel: Channel = "other"
    type: CaseType = "question"
    priority: Priority = "normal"
    status: Literal["new", "open"] = Field("new", description="Cases start new or open.")
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None
    team: Annotated[str, StringConstraints(max_length=100)] | None = None
    tags: Tags = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class CaseUpdateFields(CaseCreate):
    status: Status = "new"  # every status is reachable by PATCH, along the state machine


CaseUpdate = partial(CaseUpdateFields, "CaseUpdate")


class CaseOut(RecordOut):
    number: str = Field(examples=["CASE-1042"])
    subject: str
    description: str | None
    channel: Channel
    type: CaseType
    priority: Priority
    status: Status
    contact_id: uuid.UUID | None
    company_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    team: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopened_count: int
    sla_policy_id: uuid.UUID | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    sla_paused: bool
    first_response_breached: bool
    resolution_breached: bool
    satisfaction: dict[str, Any] | None = Field(description="{score, comment, recorded_at} once given.")


class CaseListParams(TimestampRangeParams):
    accepts_custom_field_filters: ClassVar[bool] = True

    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        None, description="Words of the subject, or the case number (CASE-1042 or 1042). Each word matches a "
        "subject word that begins with it (case-insensitive); a word found nowhere also matches words one typo "
        "away. Every word must match.")
    status: Status | None = None
    priority: Priority | None = None
    assignee_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    channel: Channel | None = None
    type: CaseType | None = None
    team: str | None = None
    tag: str | None = None
    breached: bool | None = Field(None, description="true: a first-response or resolution target was missed.")
    due_before: datetime | None = Field(None, description="Resolution due before this time.")


class MessageCreate(StrictModel):
    direction: Literal["inbound", "outbound"]
    internal: bool = Field(False, description="An internal note, not a reply the customer sees.")
    body: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    author_user_id: uuid.UUID | None = None
    author_contact_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _notes_are_outbound(self) -> "MessageCreate":
        if self.internal and self.direction != "outbound":
            raise ValueError("an internal note has direction outbound")
        return self


class MessageOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    direction: str
    internal: bool
    body: str
    author_user_id: uuid.UUID | None
    author_contact_id: uuid.UUID | None
    created_at: datetime


class SatisfactionCreate(StrictModel):
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, StringConstraints(max_length=5000)] | None = None


class Target(StrictModel):
    first_response_minutes: Annotated[int, Field(gt=0, le=525_600)]
    resolution_minutes: Annotated[int, Field(gt=0, le=5_256_000)]


class BusinessHours(StrictModel):
    time_zone: str
    days: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[tuple[str, str]]]
    holidays: list[date] = Field(default_factory=list)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in _ZONES:
            raise ValueError(f"{value!r} is not an IANA time zone")
        return value

    @model_validator(mode="after")
    def _spans(self) -> "BusinessHours":
        for day, spans in self.days.items():
            parsed = []
            for start, end in spans:
                if not (_CLOCK.match(start) and _CLOCK.match(end)):
                    raise ValueError(f"{day}: times are HH:MM")
                lo = time.fromisoformat(start)
                hi = time(0) if end == "24:00" else time.fromisoformat(end)
                if hi != time(0) and hi <= lo:
                    raise ValueError(f"{day}: {start}-{end} ends before it starts")
                parsed.append((start, "00:00" if end == "24:00" else end, lo))
            parsed.sort(key=lambda p: p[2])
            for (_, a_end, _), (b_start, _, _) in pairwise(parsed):
                if a_end == "00:00" or a_end > b_start:
                    raise ValueError(f"{day}: working hours overlap")
            self.days[day] = [(s, e) for s, e, _ in parsed]
        if not any(self.days.values()):
            raise ValueError("business hours need at least one working span")
        return self


class AppliesTo(StrictModel):
    """Empty lists match everything."""

    priorities: list[Priority] = Field(default_factory=list)
    types: list[CaseType] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    company_relationships: list[Relationship] = Field(default_factory=list)


class Escalation(StrictModel):
    raise_priority: bool = Field(False, description="On a breach, raise the case one priority step.")
    reassign_to: uuid.UUID | None = Field(None, description="On a breach, assign the case to this user.")


class SlaPolicyCreate(StrictModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    position: int = Field(0, description="Policies are tried in ascending position; the first match applies.")
    enabled: bool = True
    targets: dict[Priority, Target] = Field(description="Targets per priority; a missing priority has no SLA.")
    business_hours: BusinessHours | None = Field(None, description="Absent: the clock runs 24/7.")
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    escalation: Escalation = Field(default_factory=Escalation)
    warning_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.8


SlaPolicyUpdate = partial(SlaPolicyCreate, "SlaPolicyUpdate")


class SlaPolicyOut(RecordOut):
    name: str
    position: int
    enabled: bool
    targets: dict[str, Target]
    business_hours: BusinessHours | None
    applies_to: AppliesTo
    escalation: Escalation
    warning_threshold: float


class SlaPolicyListParams(TimestampRangeParams):
    enabled: bool | None = None
