"""A secret iCalendar URL per user with their meetings and open tasks (RFC 5545, via icalendar)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from icalendar import Calendar, Event, Todo
from sqlalchemy import or_, select, text, update

from crm_api.kit.clock import utcnow
from crm_api.kit.errors import NotFound
from crm_api.kit.uow import UnitOfWork
from crm_api.models.activity import Activity
from crm_api.models.user import User
from crm_api.users.service import UserService

PAST_DAYS = 90  # meetings older than this drop out of the feed


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def rotate(uow: UnitOfWork, user_id: uuid.UUID) -> str:
    """A new secret token for the user's feed; the old one stops working at once."""
    await UserService(uow).records.get(user_id, for_update=True)
    token = secrets.token_urlsafe(32)
    await uow.session.execute(update(User).where(User.tenant_id == uow.tenant_id, User.id == user_id)
                              .values(calendar_token_hash=token_hash(token)))
    return token


async def feed(uow: UnitOfWork, token: str) -> bytes:
    """The .ics document for a token; 404 for an unknown or rotated one."""
    found = (await uow.session.execute(text("SELECT tenant_id, user_id FROM crm_calendar_user(:h)"),
                                       {"h": token_hash(token)})).first()
    if found is None:
        raise NotFound("No such calendar feed")
    await uow.set_tenant(found.tenant_id)
    user = (await uow.session.execute(select(User).where(User.tenant_id == found.tenant_id,
                                                         User.id == found.user_id))).scalar_one()
    mine = or_(Activity.assignee_id == user.id, Activity.owner_id == user.id,
               Activity.attendees.contains([{"type": "user", "id": str(user.id)}]))
    rows = (await uow.session.execute(select(Activity).where(
        Activity.tenant_id == found.tenant_id, Activity.deleted_at.is_(None), mine,
        or_((Activity.type == "meeting") & (Activity.ends_at >= utcnow() - timedelta(days=PAST_DAYS)),
            (Activity.type == "task") & Activity.done.is_(False)),
    ).order_by(Activity.due_at.nulls_last(), Activity.id).limit(5000))).scalars().all()

    calendar = Calendar()
    calendar.add("prodid", "-//crm-api//activities//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"CRM: {user.name}")
    if user.time_zone:
        calendar.add("x-wr-timezone", user.time_zone)
    for activity in rows:
        item = Event() if activity.type == "meeting" else Todo()
        item.add("uid", f"{activity.id}@crm-api")  # stable across fetches and edits
        item.add("dtstamp", activity.updated_at)
        item.add("last-modified", activity.updated_at)
        item.add("sequence", activity.version)
        item.add("summary", activity.subject or activity.type.capitalize())
        if activity.body:
            item.add("description", activity.body)
        if activity.type == "meeting":
            item.add("dtstart", activity.starts_at)
            item.add("dtend", activity.ends_at)
            if activity.location:
                item.add("location", activity.location)
        else:
            if activity.due_at:
                item.add("due", activity.due_at)
            item.add("status", "NEEDS-ACTION")
            item.add("priority", {"high": 1, "normal": 5, "low": 9}.get(activity.priority or "normal", 5))
        calendar.add_component(item)
    return calendar.to_ical()
