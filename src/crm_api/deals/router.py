"""/v1/deals: the standard routes, moves between stages, and the stage history."""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from crm_api.auth.principal import Principal, require
from crm_api.deals.schemas import (
    DealCreate,
    DealListParams,
    DealMove,
    DealOut,
    DealUpdate,
    StageHistoryParams,
    StageVisit,
)
from crm_api.deals.service import DealService
from crm_api.kit.concurrency import etag, expected_version
from crm_api.kit.pagination import Page
from crm_api.kit.resource_routes import add_record_routes
from crm_api.kit.routing import PROBLEM, CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork

router = CrmRouter(tags=["deals"])
add_record_routes(router, resource="deals", label="deal", service=DealService, create=DealCreate, update=DealUpdate,
                  out=DealOut, params=DealListParams)


class StageHistoryPage(Page[StageVisit]):
    """One page of a deal's stage history."""


@router.post("/deals/{record_id}/move", response_model=DealOut, name="deals_move_stage",
             responses={412: {"description": "If-Match is stale", **PROBLEM}},
             summary="Move a deal to another stage (won, lost and reopening follow the stage's kind)")
async def deals_move_stage(record_id: uuid.UUID, body: DealMove, request: Request, response: Response,
                           uow: Annotated[UnitOfWork, Depends(get_uow)],
                           principal: Annotated[Principal, Depends(require("deals:write"))]) -> Any:
    deal = await DealService(uow).move(record_id, body, expected_version(request))
    response.headers["ETag"] = etag(deal.version)
    return deal


@router.get("/deals/{record_id}/stage-history", response_model=StageHistoryPage, name="deals_stage_history",
            summary="Every stage the deal was in: entered, left, and by whom")
async def deals_stage_history(record_id: uuid.UUID, params: Annotated[StageHistoryParams, Query()],
                              uow: Annotated[UnitOfWork, Depends(get_uow)],
                              principal: Annotated[Principal, Depends(require("deals:read"))]) -> Any:
    data, next_cursor = await DealService(uow).stage_history(record_id, params)
    return StageHistoryPage(data=data, next_cursor=next_cursor)
