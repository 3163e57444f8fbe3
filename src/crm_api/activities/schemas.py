"""Activities in and out, follow-up filters, timeline items."""

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from crm_api.events.schemas import EventOut
from crm_api.kit.filtering import TimestampRangeParams
from crm_api.kit.schemas import RecordOut, StrictModel, partial

ActivityType = Literal["call", "email", "meeting", "task", "note"]
Direction = Literal["inbound", "outbound"]
Outcome = Literal["connected", "no_answer", "voicemail", "busy", "wrong_number"]
TaskPriority = Literal["low", "normal", "high"]
Due = Literal["overdue", "today", "tomorrow", "upcoming"]


class Attendee(StrictModel):
    type: Literal["contact", "user"]
    id: uuid.UUID


class ActivityFields(StrictModel):
    """Fields by type: call (direction, occurred_at, duration_seconds, outcome); email (direction, occurred_at,
    email_from, email_to, message_id); meeting (starts_at, ends_at, location, attendees); task (due_at, priority,
    done, completed_at); note (body). Any type: subject, body, links, remind_at, custom_fields."""

    subject: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    body: Annotated[str, StringConstraints(max_length=100_000)] | None = None
    owner_id: uuid.UUID | None = Field(None, description="Who logged it.")
    assignee_id: uuid.UUID | None = Field(None, description="Who must do it.")
    contact_ids: Annotated[list[uuid.UUID], Field(max_length=100)] = Field(default_factory=list)
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    direction: Direction | None = None
    occurred_at: datetime | None = None
    duration_seconds: Annotated[int, Field(ge=0, le=7 * 24 * 3600)] | None = None
    outcome: Outcome | None = None
    email_from: EmailStr | None = None
    email_to: Annotated[list[EmailStr], Field(max_length=100)] = Field(default_factory=list)
    message_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=998)] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    location: Annotated[str, StringConstraints(max_length=500)] | None = None
    attendees: Annotated[list[Attendee], Field(max_length=200)] = Field(default_factory=list)
    due_at: datetime | None = None
    priority: TaskPriority | None = None
    done: bool | None = None
    completed_at: datetime | None = None
    remind_at: datetime | None = None


class ActivityCreate(ActivityFields):
    type: ActivityType


ActivityUpdate = partial(ActivityFields, "ActivityUpdate")


class ActivityOut(RecordOut):
    type: ActivityType
    subject: str | None
    body: str | None
    owner_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    contact_ids: list[uuid.UUID]
    company_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    case_id: uuid.UUID | None
    custom_fields: dict[str, Any]
    direction: Direction | None
    occurred_at: datetime | None
    duration_seconds: int | None
    outcome: Outcome | None
    email_from: str | None
    email_to: list[str]
    message_id: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    location: str | None
    attendees: list[Attendee]
    due_at: datetime | None = Field(description="A task's due time; a meeting's start.")
    priority: TaskPriority | None
    done: bool
    completed_at: datetime | None
    remind_at: datetime | None


class ActivityListParams(TimestampRangeParams):
    accepts_custom_field_filters: ClassVar[bool] = True

    type: ActivityType | None = None
    owner_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    done: bool | None = None
    due: Due | None = Field(None, description="Follow-up buckets in the assignee's time zone (else the tenant's): "
                                              "overdue, today, tomorrow, upcoming (due from now on).")
    due_after: datetime | None = None
    due_before: datetime | None = None


class TimelineItem(BaseModel):
    kind: Literal["activity", "event"]
    at: datetime
    activity: ActivityOut | None = None
    event: EventOut | None = None


class TimelinePage(BaseModel):
    data: list[TimelineItem]
    next_cursor: str | None


class CalendarFeed(BaseModel):
    url: str = Field(description="Subscribe to this URL; it is secret and shown this once.")
