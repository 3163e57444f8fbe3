"""Custom field definitions in and out."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from crm_api.kit.filtering import TimestampRangeParams
from crm_api.kit.schemas import RecordOut, StrictModel

ObjectType = Literal["contact", "company", "case", "deal", "lead", "activity", "campaign"]
FieldType = Literal["text", "number", "boolean", "date", "datetime", "select", "multiselect", "email", "url",
                    "phone"]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Option = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Options = Annotated[list[Option], Field(min_length=1, max_length=500)]


class CustomFieldCreate(StrictModel):
    object_type: ObjectType
    key: Key = Field(description="Lower-case letters, digits and underscores; the JSON key on records.")
    label: Label
    type: FieldType
    options: Options | None = Field(None, description="The allowed values of select and multiselect fields.")
    required: bool = False
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None

    @model_validator(mode="after")
    def _options_match_type(self) -> "CustomFieldCreate":
        if self.type in ("select", "multiselect") and not self.options:
            raise ValueError("options are required for select and multiselect fields")
        if self.type not in ("select", "multiselect") and self.options:
            raise ValueError("options are only for select and multiselect fields")
        return self


class CustomFieldUpdate(StrictModel):
    """Key, type and object type are fixed once created."""

    label: Label | None = None
    options: Options | None = None
    required: bool | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None


class CustomFieldOut(RecordOut):
    object_type: ObjectType
    key: str
    label: str
    type: FieldType
    options: list[str] | None
    required: bool
    description: str | None


class CustomFieldListParams(TimestampRangeParams):
    object_type: ObjectType | None = None
