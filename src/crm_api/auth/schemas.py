"""API keys in and out."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from crm_api.kit.filtering import ListParams
from crm_api.kit.schemas import Name, StrictModel


class ApiKeyCreate(StrictModel):
    name: Name
    scopes: Annotated[list[str], Field(min_length=1, examples=[["contacts:read", "contacts:write"]])]
    user_id: uuid.UUID | None = Field(None, description="The user the key acts for; their role caps its scopes.")
    # RFC 3339 with an offset: a naive time is ambiguous (and cannot be compared with now).
    expires_at: AwareDatetime | None = None


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    scopes: list[str]
    user_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    api_key: str = Field(description="The key itself. It is shown this once and cannot be read again.")


class ApiKeyListParams(ListParams):
    include_revoked: bool = False
