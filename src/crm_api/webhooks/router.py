"""/v1/webhook-endpoints (scope `webhooks:read|write` or `admin`)."""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query

from crm_api.auth.principal import Principal, require
from crm_api.kit.resource_routes import add_record_routes, page_model
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork
from crm_api.webhooks.schemas import (
    Accepted,
    DeliveryListParams,
    DeliveryOut,
    ReplayRequest,
    SecretRotated,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointListParams,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
)
from crm_api.webhooks.service import WebhookEndpointService

router = CrmRouter(tags=["webhooks"])
add_record_routes(router, resource="webhook-endpoints", label="webhook endpoint", service=WebhookEndpointService,
                  create=WebhookEndpointCreate, update=WebhookEndpointUpdate, out=WebhookEndpointOut,
                  params=WebhookEndpointListParams, scopes=("webhooks:read", "webhooks:write"),
                  created=WebhookEndpointCreated, admin_too=True)
Uow = Annotated[UnitOfWork, Depends(get_uow)]
Reader = Annotated[Principal, Depends(require("webhooks:read", "admin"))]
Writer = Annotated[Principal, Depends(require("webhooks:write", "admin"))]
DeliveryPage = page_model(DeliveryOut)


@router.post("/webhook-endpoints/{record_id}/rotate-secret", response_model=SecretRotated,
             name="webhook_endpoints_rotate_secret", summary="Rotate the signing secret (old one signs 24 h more)")
async def webhook_endpoints_rotate_secret(record_id: uuid.UUID, uow: Uow, principal: Writer) -> Any:
    return await WebhookEndpointService(uow).rotate_secret(record_id)


@router.get("/webhook-endpoints/{record_id}/deliveries", response_model=DeliveryPage,
            name="webhook_endpoints_list_deliveries", summary="Every delivery attempt to an endpoint")
async def webhook_endpoints_list_deliveries(record_id: uuid.UUID, params: Annotated[DeliveryListParams, Query()],
                                            uow: Uow, principal: Reader) -> Any:
    data, next_cursor = await WebhookEndpointService(uow).deliveries(record_id, params)
    return DeliveryPage(data=data, next_cursor=next_cursor)


@router.post("/webhook-endpoints/{record_id}/deliveries/{delivery_id}/retry", response_model=Accepted,
             status_code=202, name="webhook_endpoints_retry_delivery", summary="Send a delivery's event again")
async def webhook_endpoints_retry_delivery(record_id: uuid.UUID, delivery_id: uuid.UUID, uow: Uow,
                                           principal: Writer) -> Any:
    return await WebhookEndpointService(uow).retry_delivery(record_id, delivery_id)


@router.post("/webhook-endpoints/{record_id}/replay", response_model=Accepted, status_code=202,
             name="webhook_endpoints_replay", summary="Send past events again")
async def webhook_endpoints_replay(record_id: uuid.UUID, body: ReplayRequest, uow: Uow, principal: Writer) -> Any:
    return await WebhookEndpointService(uow).replay(record_id, body)


@router.post("/webhook-endpoints/{record_id}/test", response_model=DeliveryOut, name="webhook_endpoints_test",
             summary="Send a webhook.test event now")
async def webhook_endpoints_test(record_id: uuid.UUID, uow: Uow, principal: Writer) -> Any:
    return await WebhookEndpointService(uow).send_test(record_id)
