"""/v1/pipelines, their stages, and the board of deals per stage."""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from crm_api.auth.principal import Principal, require
from crm_api.deals.schemas import Board, BoardParams
from crm_api.deals.service import DealService
from crm_api.kit.concurrency import etag, expected_version
from crm_api.kit.resource_routes import add_record_routes
from crm_api.kit.routing import PROBLEM, CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork
from crm_api.pipelines.schemas import (
    PipelineCreate,
    PipelineListParams,
    PipelineOut,
    PipelineUpdate,
    StageCreate,
    StageList,
    StageOut,
    StageReorder,
    StageUpdate,
)
from crm_api.pipelines.service import PipelineService, StageService

router = CrmRouter(tags=["pipelines"])
add_record_routes(router, resource="pipelines", label="pipeline", service=PipelineService, create=PipelineCreate,
                  update=PipelineUpdate, out=PipelineOut, params=PipelineListParams)

Uow = Annotated[UnitOfWork, Depends(get_uow)]
Reader = Annotated[Principal, Depends(require("pipelines:read"))]
Writer = Annotated[Principal, Depends(require("pipelines:write"))]
CONFLICT = {409: {"description": "The stage holds deals", **PROBLEM}}


@router.get("/pipelines/{record_id}/stages", response_model=StageList, name="pipelines_list_stages",
            summary="List a pipeline's stages in order")
async def pipelines_list_stages(record_id: uuid.UUID, uow: Uow, principal: Reader) -> Any:
    return await StageService(uow).list(record_id)


@router.post("/pipelines/{record_id}/stages", response_model=StageOut, status_code=201,
             name="pipelines_create_stage", summary="Add a stage to a pipeline")
async def pipelines_create_stage(record_id: uuid.UUID, body: StageCreate, response: Response, uow: Uow,
                                 principal: Writer) -> Any:
    stage = await StageService(uow).create(record_id, body)
    response.headers["Location"] = f"/v1/pipelines/{record_id}/stages/{stage.id}"
    response.headers["ETag"] = etag(stage.version)
    return stage


@router.post("/pipelines/{record_id}/stages/reorder", response_model=StageList, name="pipelines_reorder_stages",
             summary="Put a pipeline's stages in a new order, in one request")
async def pipelines_reorder_stages(record_id: uuid.UUID, body: StageReorder, uow: Uow, principal: Writer) -> Any:
    return await StageService(uow).reorder(record_id, body)


@router.get("/pipelines/{record_id}/stages/{stage_id}", response_model=StageOut, name="pipelines_get_stage",
            summary="Get a stage")
async def pipelines_get_stage(record_id: uuid.UUID, stage_id: uuid.UUID, response: Response, uow: Uow,
                              principal: Reader) -> Any:
    stage = await StageService(uow).get(record_id, stage_id)
    response.headers["ETag"] = etag(stage.version)
    return stage


@router.patch("/pipelines/{record_id}/stages/{stage_id}", response_model=StageOut, name="pipelines_update_stage",
              summary="Update a stage (its kind only while it holds no deals)", responses=CONFLICT)
async def pipelines_update_stage(record_id: uuid.UUID, stage_id: uuid.UUID, body: StageUpdate, request: Request,
                                 response: Response, uow: Uow, principal: Writer) -> Any:
    stage = await StageService(uow).update(record_id, stage_id, body, expected_version(request))
    response.headers["ETag"] = etag(stage.version)
    return stage


@router.delete("/pipelines/{record_id}/stages/{stage_id}", status_code=204, response_class=Response,
               name="pipelines_delete_stage", responses=CONFLICT,
               summary="Delete a stage; the deals it holds move to `move_deals_to` in the same request")
async def pipelines_delete_stage(
        record_id: uuid.UUID, stage_id: uuid.UUID, request: Request, uow: Uow, principal: Writer,
        move_deals_to: Annotated[uuid.UUID | None, Query(
            description="A stage of the same kind (in any pipeline) for the deals of the deleted stage; "
                        "required when it holds deals.")] = None) -> Response:
    stages = StageService(uow)
    expected = expected_version(request)
    stage, target = await stages.for_deletion(record_id, stage_id, expected, move_deals_to)
    if target is not None:
        await DealService(uow).move_all(stage, target)
    await stages.delete(stage, expected)
    return Response(status_code=204)


@router.get("/pipelines/{record_id}/board", response_model=Board, name="pipelines_board",
            summary="The kanban board: per stage, count, sums, weighted sums and the first page of deals")
async def pipelines_board(record_id: uuid.UUID, params: Annotated[BoardParams, Query()], uow: Uow,
                          principal: Annotated[Principal, Depends(require("deals:read"))]) -> Any:
    return await DealService(uow).board(record_id, params)
