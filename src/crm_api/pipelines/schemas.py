"""Pipelines and stages in and out."""

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from crm_api.kit.filtering import TimestampRangeParams
from crm_api.kit.schemas import Name, RecordOut, StrictModel, partial

StageKind = Literal["open", "won", "lost"]
Probability = Annotated[int, Field(ge=0, le=100, description="0 to 100: the chance a deal here is won.")]
RottingDays = Annotated[int, Field(ge=1, le=3650, description="Days without change after which an open deal "
                                                               "in this stage is stale.")]
MAX_STAGES = 50


class StageFields(StrictModel):
    name: Name
    kind: StageKind = Field("open", description="open, won or lost: a deal's status follows its stage's kind.")
    probability: Probability | None = Field(None, description="Defaults to 100 for won, 0 otherwise.")
    rotting_days: RottingDays | None = None
    is_proposal: bool = Field(False, description="Deals reaching this stage count as proposals sent (KPIs).")


class StageCreate(StageFields):
    position: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Where to insert the stage (0 is first); the end when absent.")


StageUpdate = partial(StageFields, "StageUpdate")


class StageOut(RecordOut):
    pipeline_id: uuid.UUID
    name: str
    position: int
    kind: StageKind
    probability: int
    rotting_days: int | None
    is_proposal: bool


class StageList(BaseModel):
    """Every stage of a pipeline, in order."""

    data: list[StageOut]
    next_cursor: None = None


class StageReorder(StrictModel):
    stage_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_STAGES,
                                       description="Every stage of the pipeline, in the new order.")


class PipelineFields(StrictModel):
    name: Name
    is_default: bool = Field(False, description="Deals created without a pipeline go to the default one.")


class PipelineCreate(PipelineFields):
    stages: list[StageFields] = Field(default_factory=list, max_length=MAX_STAGES,
                                      description="The stages, in order.")


PipelineUpdate = partial(PipelineFields, "PipelineUpdate")


class PipelineOut(RecordOut):
    name: str
    is_default: bool
    stages: list[StageOut]


class PipelineListParams(TimestampRangeParams):
    is_default: bool | None = None
