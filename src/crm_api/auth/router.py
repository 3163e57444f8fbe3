"""/v1/api-keys (scope `admin`)."""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Response

from crm_api.auth.principal import Principal, require
from crm_api.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyListParams, ApiKeyOut
from crm_api.auth.service import ApiKeyService
from crm_api.kit.resource_routes import page_model
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork

router = CrmRouter(tags=["api keys"])
Uow = Annotated[UnitOfWork, Depends(get_uow)]
Admin = Annotated[Principal, Depends(require("admin"))]
ApiKeyPage = page_model(ApiKeyOut)


@router.get("/api-keys", response_model=ApiKeyPage, name="api_keys_list", summary="List API keys")
async def api_keys_list(params: Annotated[ApiKeyListParams, Query()], uow: Uow, principal: Admin) -> Any:
    data, next_cursor = await ApiKeyService(uow).list(params)
    return ApiKeyPage(data=data, next_cursor=next_cursor)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, name="api_keys_create",
             summary="Create an API key (its secret is shown once)")
async def api_keys_create(body: ApiKeyCreate, response: Response, uow: Uow, principal: Admin) -> Any:
    created = await ApiKeyService(uow).create(body, principal)
    response.headers["Location"] = f"/v1/api-keys/{created.id}"
    return created


@router.get("/api-keys/{key_id}", response_model=ApiKeyOut, name="api_keys_get", summary="Get an API key")
async def api_keys_get(key_id: uuid.UUID, uow: Uow, principal: Admin) -> Any:
    return await ApiKeyService(uow).get(key_id)


@router.delete("/api-keys/{key_id}", status_code=204, response_class=Response, name="api_keys_revoke",
               summary="Revoke an API key")
async def api_keys_revoke(key_id: uuid.UUID, uow: Uow, principal: Admin) -> Response:
    await ApiKeyService(uow).revoke(key_id)
    return Response(status_code=204)
