"""Users in and out."""

from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, EmailStr, Field, StringConstraints

from crm_api.kit.filtering import TimestampRangeParams
from crm_api.kit.schemas import Name, RecordOut, StrictModel, partial

Role = Literal["admin", "manager", "member"]
_ZONES = available_timezones()


def _zone(name: str) -> str:
    if name not in _ZONES:
        raise ValueError(f"{name!r} is not an IANA time zone")
    return name


TimeZone = Annotated[str, AfterValidator(_zone)]


class UserCreate(StrictModel):
    email: EmailStr
    name: Name
    role: Role = "member"
    time_zone: TimeZone | None = None
    team: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = Field(
        None, description="The sales team the user belongs to (/v1/kpis/sales?group_by=team).")


UserUpdate = partial(UserCreate, "UserUpdate")


class UserOut(RecordOut):
    email: str
    name: str
    role: Role
    time_zone: str | None
    team: str | None = None


class UserListParams(TimestampRangeParams):
    role: Role | None = None
    email: str | None = None
