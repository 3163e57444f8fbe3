"""Digest settings in and out."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from crm_api.kit.schemas import StrictModel

Frequency = Literal["off", "daily", "weekly"]
Section = Literal["numbers", "follow_ups", "stale_deals"]
SECTIONS: tuple[Section, ...] = ("numbers", "follow_ups", "stale_deals")


class DigestSettings(StrictModel):
    frequency: Frequency = Field(description="daily: yesterday's numbers each day; weekly: last week's (Monday to "
                                             "Sunday) on `weekday`; off: none.")
    hour: Annotated[int, Field(ge=0, le=23)] = Field(7, description="Local hour (the user's time zone, else the "
                                                                    "tenant's) from which it is sent.")
    weekday: Annotated[int, Field(ge=0, le=6)] = Field(0, description="Weekly digests: 0 Monday .. 6 Sunday.")
    sections: list[Section] = Field(default_factory=lambda: list(SECTIONS), max_length=3,
                                    description="numbers (the user's sales KPIs), follow_ups (overdue tasks), "
                                                "stale_deals.")


class DigestSettingsOut(BaseModel):
    frequency: Frequency
    hour: int
    weekday: int
    sections: list[Section]
    enabled_at: datetime | None = Field(description="Since when it is on; no digest covers an earlier period.")
    version: int
