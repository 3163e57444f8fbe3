"""/v1/activities, record timelines, and calendar feeds."""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Response
from sqlalchemy import text

from crm_api.activities import calendar
from crm_api.activities.schemas import (
    ActivityCreate,
    ActivityListParams,
    ActivityOut,
    ActivityUpdate,
    CalendarFeed,
    TimelinePage,
)
from crm_api.activities.service import ActivityService
from crm_api.activities.timeline import timeline
from crm_api.auth.principal import Principal, require
from crm_api.kit.errors import Forbidden, NotFound
from crm_api.kit.filtering import ListParams
from crm_api.kit.resource_routes import add_record_routes
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork

router = CrmRouter(tags=["activities"])
add_record_routes(router, resource="activities", label="activity", service=ActivityService, create=ActivityCreate,
                  update=ActivityUpdate, out=ActivityOut, params=ActivityListParams)
Uow = Annotated[UnitOfWork, Depends(get_uow)]
TABLES = {"contact": "contacts", "company": "companies", "deal": "deals", "case": "cases"}


class TimelineParams(ListParams):
    """limit and cursor; timelines are always newest first."""


async def _timeline(uow: UnitOfWork, record_type: str, record_id: uuid.UUID, params: TimelineParams) -> TimelinePage:
    table = TABLES[record_type]
    found = (await uow.session.execute(text(f"SELECT 1 FROM {table} WHERE tenant_id = :t AND id = :i "
                                            "AND deleted_at IS NULL"), {"t": uow.tenant_id, "i": record_id})).first()
    if found is None:
        raise NotFound(f"No {record_type} {record_id}")
    if params.sort not in (None, "-at"):
        from crm_api.kit.errors import ValidationFailed

        raise ValidationFailed.field("sort", "timelines are newest first (-at)")
    return await timeline(uow, record_type, record_id, params.limit, params.cursor)


def _add_timeline(resource: str, record_type: str, scope: str, summary: str) -> None:
    """GET /v1/<resource>/{id}/timeline, readable with the record's own read scope."""

    async def endpoint(record_id: uuid.UUID, params: Annotated[TimelineParams, Query()], uow: Uow,
                       principal: Annotated[Principal, Depends(require(scope))]) -> Any:
        return await _timeline(uow, record_type, record_id, params)

    router.add_api_route(f"/{resource}/{{record_id}}/timeline", endpoint, methods=["GET"],
                         response_model=TimelinePage, name=f"{resource}_timeline", summary=summary)


for _resource, _type, _scope, _summary in (
    ("contacts", "contact", "contacts:read", "A contact's activities, changes and cases, newest first"),
    ("companies", "company", "companies:read",
     "A company's activities and changes, with its contacts' and deals', newest first"),
    ("deals", "deal", "deals:read", "A deal's activities, changes and stage moves, newest first"),
    ("cases", "case", "cases:read",
     "A case's messages, changes, SLA warnings and escalations, and linked activities, newest first"),
):
    _add_timeline(_resource, _type, _scope, _summary)


@router.post("/users/{record_id}/calendar-feed/rotate", response_model=CalendarFeed,
             name="users_rotate_calendar_feed", summary="A new secret calendar URL for a user (the old one stops)")
async def users_rotate_calendar_feed(record_id: uuid.UUID, uow: Uow,
                                     principal: Annotated[Principal, Depends(require("activities:read"))]) -> Any:
    if principal.user_id != record_id and not principal.allows("admin"):
        raise Forbidden("Only the user themself or an admin may rotate a calendar feed")
    token = await calendar.rotate(uow, record_id)
    return CalendarFeed(url=f"/v1/calendar-feeds/{token}.ics")


@router.get("/calendar-feeds/{token}.ics", name="calendar_feeds_get", response_class=Response,
            summary="A user's meetings and open tasks as iCalendar (the URL is the credential)",
            responses={200: {"content": {"text/calendar": {}}}}, openapi_extra={"security": []})
async def calendar_feeds_get(token: str, uow: Uow) -> Response:
    return Response(await calendar.feed(uow, token), media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=300"})
