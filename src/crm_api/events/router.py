"""/v1/events"""

from typing import Annotated

from fastapi import Depends, Query

from crm_api.auth.principal import Principal, require
from crm_api.events.schemas import EventListParams, EventPage
from crm_api.events.service import EventService
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork

router = CrmRouter(tags=["events"])


@router.get("/events", response_model=EventPage, name="events_list", summary="The events feed")
async def events_list(params: Annotated[EventListParams, Query()], uow: Annotated[UnitOfWork, Depends(get_uow)],
                      principal: Annotated[Principal, Depends(require("events:read"))]) -> EventPage:
    """Every committed change of the tenant in sequence order, deletes included; poll with `after`."""
    return await EventService(uow).feed(params)
