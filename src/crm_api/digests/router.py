"""/v1/users/{id}/digest: a user's digest settings (an admin, or the user through their own key)."""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from crm_api.auth.principal import Principal, require
from crm_api.digests import service
from crm_api.digests.schemas import DigestSettings, DigestSettingsOut
from crm_api.kit.concurrency import check_version, etag, expected_version
from crm_api.kit.errors import Forbidden
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork

router = CrmRouter(tags=["users"])
Uow = Annotated[UnitOfWork, Depends(get_uow)]
Caller = Annotated[Principal, Depends(require("kpis:read", "admin"))]


def _own(principal: Principal, user_id: uuid.UUID) -> None:
    if not principal.allows("admin") and principal.user_id != user_id:
        raise Forbidden("Only an admin or the user may see or change a user's digest")


@router.get("/users/{user_id}/digest", response_model=DigestSettingsOut, name="users_get_digest",
            summary="A user's digest settings")
async def users_get_digest(user_id: uuid.UUID, response: Response, uow: Uow, principal: Caller) -> Any:
    _own(principal, user_id)
    out = await service.get_settings(uow, user_id)
    response.headers["ETag"] = etag(out.version)
    return out


@router.put("/users/{user_id}/digest", response_model=DigestSettingsOut, name="users_update_digest",
            summary="Set a user's digest: frequency, local hour, weekday, sections")
async def users_update_digest(user_id: uuid.UUID, body: DigestSettings, request: Request, response: Response,
                              uow: Uow, principal: Caller) -> Any:
    _own(principal, user_id)
    check_version(expected_version(request), (await service.get_settings(uow, user_id)).version)
    out = await service.put_settings(uow, user_id, body)
    response.headers["ETag"] = etag(out.version)
    return out
