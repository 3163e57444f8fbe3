"""/v1/cases and /v1/sla-policies"""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Response

from crm_api.auth.principal import Principal, require
from crm_api.cases.schemas import (
    CaseCreate,
    CaseListParams,
    CaseOut,
    CaseUpdate,
    MessageCreate,
    MessageOut,
    SatisfactionCreate,
    SlaPolicyCreate,
    SlaPolicyListParams,
    SlaPolicyOut,
    SlaPolicyUpdate,
)
from crm_api.cases.service import CaseService, SlaPolicyService
from crm_api.kit.concurrency import etag
from crm_api.kit.filtering import ListParams
from crm_api.kit.resource_routes import add_record_routes, page_model
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork

router = CrmRouter(tags=["cases"])
add_record_routes(router, resource="cases", label="case", service=CaseService, create=CaseCreate,
                  update=CaseUpdate, out=CaseOut, params=CaseListParams)
add_record_routes(router, resource="sla-policies", label="SLA policy", service=SlaPolicyService,
                  create=SlaPolicyCreate, update=SlaPolicyUpdate, out=SlaPolicyOut, params=SlaPolicyListParams)
Uow = Annotated[UnitOfWork, Depends(get_uow)]
MessagePage = page_model(MessageOut)


@router.post("/cases/{record_id}/messages", response_model=MessageOut, status_code=201, name="cases_add_message",
             summary="Add a reply or an internal note")
async def cases_add_message(record_id: uuid.UUID, body: MessageCreate, response: Response, uow: Uow,
                            principal: Annotated[Principal, Depends(require("cases:write"))]) -> Any:
    message = await CaseService(uow).add_message(record_id, body)
    response.headers["Location"] = f"/v1/cases/{record_id}/messages"
    return message


@router.get("/cases/{record_id}/messages", response_model=MessagePage, name="cases_list_messages",
            summary="A case's replies and notes, oldest first")
async def cases_list_messages(record_id: uuid.UUID, params: Annotated[ListParams, Query()], uow: Uow,
                              principal: Annotated[Principal, Depends(require("cases:read"))]) -> Any:
    data, next_cursor = await CaseService(uow).messages(record_id, params)
    return MessagePage(data=data, next_cursor=next_cursor)


@router.post("/cases/{record_id}/satisfaction", response_model=CaseOut, name="cases_record_satisfaction",
             summary="Record the customer's satisfaction (CSAT 1-5) once the case is resolved")
async def cases_record_satisfaction(record_id: uuid.UUID, body: SatisfactionCreate, response: Response, uow: Uow,
                                    principal: Annotated[Principal, Depends(require("cases:write"))]) -> Any:
    case = await CaseService(uow).record_satisfaction(record_id, body)
    response.headers["ETag"] = etag(case.version)
    return case
