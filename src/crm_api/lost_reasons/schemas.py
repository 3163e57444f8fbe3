"""Lost reasons in and out."""

from typing import Annotated

from pydantic import StringConstraints

from crm_api.kit.filtering import TimestampRangeParams
from crm_api.kit.schemas import Name, RecordOut, StrictModel, partial

Description = Annotated[str, StringConstraints(max_length=1000)]


class LostReasonCreate(StrictModel):
    name: Name
    description: Description | None = None


LostReasonUpdate = partial(LostReasonCreate, "LostReasonUpdate")


class LostReasonOut(RecordOut):
    name: str
    description: str | None


class LostReasonListParams(TimestampRangeParams):
    pass
