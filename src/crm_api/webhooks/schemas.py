"""Webhook endpoints and deliveries in and out."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from crm_api.kit.filtering import ListParams
from crm_api.kit.schemas import RecordOut, StrictModel, partial

EventPattern = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$")]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2048)]


class WebhookEndpointCreate(StrictModel):
    url: Url = Field(examples=["https://hooks.example.com/crm"])
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    event_types: Annotated[list[EventPattern], Field(min_length=1, max_length=100)] = Field(
        default_factory=lambda: ["*"], description="Patterns: `deal.won`, `deal.*`, `*`.")
    enabled: bool = True
    parallel: bool = Field(False, description="Deliver concurrently instead of in sequence order.")


WebhookEndpointUpdate = partial(WebhookEndpointCreate, "WebhookEndpointUpdate")


class WebhookEndpointOut(RecordOut):
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    parallel: bool
    disabled_reason: str | None
    failing_since: datetime | None
    delivered_through_sequence: int = Field(description="Every matching event up to this sequence is handled.")
    next_attempt_at: datetime | None


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(description="The `whsec_` signing secret, shown this once.")


class SecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret, shown this once.")
    previous_secret_expires_at: datetime = Field(description="Until then, deliveries carry both signatures.")


class WebhookEndpointListParams(ListParams):
    enabled: bool | None = None


class DeliveryOut(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    event_sequence: int | None
    attempt: int
    status: str = Field(description="succeeded or failed")
    response_status: int | None
    duration_ms: int
    response_body: str | None = Field(description="The first 2 KB of the response.")
    error: str | None
    next_retry_at: datetime | None
    manual: bool = Field(description="A retry, replay or test asked for through the API.")
    created_at: datetime


class DeliveryListParams(ListParams):
    status: str | None = None
    event_id: uuid.UUID | None = None


class ReplayRequest(StrictModel):
    since: datetime
    until: datetime | None = None


class Accepted(BaseModel):
    events: int = Field(description="How many events will be sent.")
