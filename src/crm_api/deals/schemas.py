"""Deals in and out, moves, stage history and the board."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, StringConstraints

from crm_api.kit.filtering import FollowUpParams
from crm_api.kit.schemas import CurrencyCode, Money, MoneyOut, RecordOut, StrictModel, partial
from crm_api.kit.search import q_description
from crm_api.pipelines.schemas import PipelineOut, StageOut

DealStatus = Literal["open", "won", "lost"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
LostNote = Annotated[str, StringConstraints(max_length=2000)]
SearchTerm = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class DealFields(StrictModel):
    """Fields a PATCH may change; stages change through POST /v1/deals/{id}/move."""

    title: Title
    amount: Money | None = None
    owner_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    contact_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100,
                                         description="The people on the deal.")
    expected_close_date: date | None = None
    source: Annotated[str, StringConstraints(max_length=100)] | None = None
    campaign_id: uuid.UUID | None = Field(None, description="The campaign it came from.")
    is_renewal: bool = Field(False, description="A renewal of an existing customer's contract (the renewal rate of "
                                                "/v1/kpis/sales counts these); null in a PATCH means false.")
    lost_reason_id: uuid.UUID | None = Field(None, description="Only on lost deals.")
    lost_note: LostNote | None = Field(None, description="Only on lost deals.")
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class DealCreate(DealFields):
    pipeline_id: uuid.UUID | None = Field(
        None, description="The stage's pipeline when stage_id is given; else the default pipeline.")
    stage_id: uuid.UUID | None = Field(None, description="The first open stage of the pipeline when absent.")


DealUpdate = partial(DealFields, "DealUpdate")


class DealOut(RecordOut):
    title: str
    amount: MoneyOut | None
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    status: DealStatus = Field(description="From the stage's kind.")
    owner_id: uuid.UUID | None
    company_id: uuid.UUID | None
    contact_ids: list[uuid.UUID]
    expected_close_date: date | None
    source: str | None
    campaign_id: uuid.UUID | None
    is_renewal: bool
    lost_reason_id: uuid.UUID | None
    lost_note: str | None
    won_at: datetime | None
    lost_at: datetime | None
    stage_entered_at: datetime
    probability: int = Field(description="The stage's probability, 0 to 100.")
    weighted_amount: MoneyOut | None = Field(description="amount x probability / 100, exact.")
    days_in_stage: int
    stale: bool = Field(description="Open, and unchanged for longer than the stage's rotting_days.")
    custom_fields: dict[str, Any]
    last_activity_at: datetime | None = Field(
        None, description="The latest call, email, note, finished meeting or done task linked to it.")
    next_activity_at: datetime | None = Field(None, description="Its next open task or upcoming meeting.")


class DealMove(StrictModel):
    stage_id: uuid.UUID = Field(description="Any live stage, in this pipeline or another.")
    lost_reason_id: uuid.UUID | None = Field(None, description="A lost stage needs a reason or a note.")
    lost_note: LostNote | None = None


class Actor(BaseModel):
    type: str = Field(examples=["user"])
    id: str | None


class StageVisit(BaseModel):
    """One stay of a deal in a stage."""

    id: uuid.UUID
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    stage_name: str
    status: DealStatus
    entered_at: datetime
    left_at: datetime | None
    entered_by: Actor
    left_by: Actor | None


class StageHistoryParams(BaseModel):
    limit: int = Field(50, ge=1, le=200, description="Page size, 1 to 200.")
    cursor: str | None = Field(None, description="Opaque cursor from a previous page's next_cursor.")


class DealListParams(FollowUpParams):
    accepts_custom_field_filters: ClassVar[bool] = True

    q: SearchTerm | None = Field(None, description=q_description("the title"))
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    status: DealStatus | None = None
    owner_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = Field(None, description="Deals this contact is on.")
    lost_reason_id: uuid.UUID | None = None
    source: str | None = None
    campaign_id: uuid.UUID | None = None
    is_renewal: bool | None = None
    currency: CurrencyCode | None = None
    amount_min: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)] | None = Field(
        None, description="Amount at least this (deals without an amount are left out).")
    amount_max: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)] | None = Field(
        None, description="Amount at most this (deals without an amount are left out).")
    expected_close_after: date | None = Field(None, description="expected_close_date on or after this date.")
    expected_close_before: date | None = Field(None, description="expected_close_date before this date.")
    stale: bool | None = Field(None, description="true: only stale deals; false: none of them.")


class BoardParams(BaseModel):
    limit: int = Field(20, ge=1, le=200, description="Deals per stage, 1 to 200.")
    sort: str | None = Field(None, description="As in GET /v1/deals; default `-created_at`.")
    owner_id: uuid.UUID | None = Field(None, description="Only this owner's deals (counts and sums too).")


class BoardColumn(BaseModel):
    stage: StageOut
    count: int
    sum: list[MoneyOut] = Field(description="Sum of the amounts, one entry per currency.")
    weighted_sum: list[MoneyOut] = Field(description="Sum of amount x probability / 100, per currency.")
    deals: list[DealOut]
    next_cursor: str | None = Field(
        description="The next deals of this stage: GET /v1/deals?stage_id=<stage>&cursor=... (same sort and owner).")


class Board(BaseModel):
    pipeline: PipelineOut
    stages: list[BoardColumn]
