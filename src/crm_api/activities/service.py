"""Activities: validation per type, follow-up buckets, and the follow-up times of linked records."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from crm_api.activities import rules
from crm_api.activities.schemas import ActivityListParams, ActivityOut
from crm_api.cases.service import CaseService
from crm_api.companies.service import CompanyService
from crm_api.contacts.service import ContactService
from crm_api.custom_fields.service import CustomFieldService
from crm_api.deals.service import DealService
from crm_api.kit.clock import utcnow
from crm_api.kit.errors import DuplicateRecord, ValidationFailed
from crm_api.kit.filtering import custom_field_params, eq, gte, lt, timestamp_filters
from crm_api.kit.pagination import SortKey
from crm_api.kit.record_service import RecordService
from crm_api.kit.record_values import in_array
from crm_api.kit.records import RecordType
from crm_api.kit.uow import UnitOfWork
from crm_api.leads.service import LeadService
from crm_api.models.activity import Activity
from crm_api.models.tenant import Tenant
from crm_api.models.user import User
from crm_api.users.service import UserService

OBJECT_TYPE = "activity"
KIND = RecordType(
    Activity, OBJECT_TYPE,
    filters={
        "type": eq(Activity.type), "owner_id": eq(Activity.owner_id), "assignee_id": eq(Activity.assignee_id),
        "contact_id": in_array(Activity, OBJECT_TYPE, "contact_ids"), "company_id": eq(Activity.company_id),
        "deal_id": eq(Activity.deal_id), "lead_id": eq(Activity.lead_id), "case_id": eq(Activity.case_id),
        "done": eq(Activity.done), "due_after": gte(Activity.due_at), "due_before": lt(Activity.due_at),
        **timestamp_filters(Activity),
    },
    sorts={"created_at": Activity.created_at, "updated_at": Activity.updated_at},
)

# Follow-up times of the records an activity is linked to, recomputed in SQL after each change.
_LAST = """max(CASE WHEN a.type IN ('call', 'email', 'note') THEN a.timeline_at
                    WHEN a.type = 'task' AND a.done THEN a.completed_at
                    WHEN a.type = 'meeting' AND a.ends_at <= now() THEN a.ends_at END)"""
_NEXT = """min(CASE WHEN a.type = 'task' AND NOT a.done THEN a.due_at
                    WHEN a.type = 'meeting' AND a.ends_at > now() THEN a.starts_at END)"""
_FOLLOW_UP = {
    "contacts": "a.contact_ids @> ARRAY[r.id]",
    "companies": "a.company_id = r.id",
    "deals": "a.deal_id = r.id",
}


def represent(activity: Activity) -> ActivityOut:
    return ActivityOut.model_validate(activity, from_attributes=True)


class ActivityService(RecordService[Activity, ActivityOut]):
    kind = KIND

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.custom_fields = CustomFieldService(uow)

    view = staticmethod(represent)

    async def conflict(self, constraint: str, activity: Any) -> Exception | None:
        if constraint != "activities_message_id_key":
            return None
        return DuplicateRecord(f"An email with message_id {activity.message_id!r} is logged already",
                               existing_id=await self._by_message_id(activity.message_id))

    async def _by_message_id(self, message_id: str) -> uuid.UUID | None:
        stmt = select(Activity.id).where(Activity.tenant_id == self.uow.tenant_id, Activity.deleted_at.is_(None),
                                         Activity.message_id == message_id)
        return (await self.uow.session.execute(stmt)).scalar_one_or_none()

    async def _check_references(self, changes: Mapping[str, Any]) -> None:
        users = UserService(self.uow)
        for field in ("owner_id", "assignee_id"):
            if changes.get(field) is not None:
                await users.require(field, changes[field])
        contacts = ContactService(self.uow)
        for i, contact_id in enumerate(changes.get("contact_ids") or []):
            await contacts.require(f"contact_ids.{i}", contact_id)
        for i, attendee in enumerate(changes.get("attendees") or []):
            service = contacts if attendee["type"] == "contact" else users
            await service.require(f"attendees.{i}.id", attendee["id"])
        if changes.get("company_id") is not None:
            await CompanyService(self.uow).require("company_id", changes["company_id"])
        for field, service in (("deal_id", DealService), ("lead_id", LeadService), ("case_id", CaseService)):
            if changes.get(field) is not None:
                await service(self.uow).require(field, changes[field])

    async def columns(self, changes: dict[str, Any], current: Activity | None) -> dict[str, Any]:
        if current is not None and "type" in changes:
            raise ValidationFailed.field("type", "cannot change; log a new activity instead")
        kind = current.type if current is not None else changes["type"]
        merged = {name: getattr(current, name) for name in rules.COMMON | set().union(*rules.FIELDS.values())} \
            if current is not None else {}
        merged.update(changes)
        merged.pop("type", None)
        if kind == "meeting":  # a meeting's due_at is its start, not an input
            if "due_at" in changes:
                raise ValidationFailed.field("due_at", "is not a field of a meeting; starts_at is its time")
            merged.pop("due_at", None)
        rules.check(kind, merged)
        await self._check_references(changes)
        columns = dict(changes)
        for name in ("contact_ids", "email_to", "attendees"):
            if name in columns:
                columns[name] = columns[name] or []
        if columns.get("attendees"):  # stored as JSON
            columns["attendees"] = [{"type": a["type"], "id": str(a["id"])} for a in columns["attendees"]]
        if kind == "meeting" and "starts_at" in changes:
            columns["due_at"] = changes["starts_at"]  # what follow-ups sort by
        if kind == "task" and "done" in changes:
            done = bool(changes["done"])
            columns["done"] = done
            if done and not merged.get("completed_at"):
                columns["completed_at"] = utcnow()
            if not done:
                columns["completed_at"] = None
        if current is not None and "remind_at" in changes and changes["remind_at"] != current.remind_at:
            columns["reminded_at"] = None  # a new reminder time fires again
        columns.update(await self.custom_fields.columns_for(OBJECT_TYPE, changes, current))
        return columns

    async def _zone(self, assignee_id: uuid.UUID | None) -> ZoneInfo:
        """The assignee's time zone, else the tenant's."""
        if assignee_id is not None:
            zone = (await self.uow.session.execute(select(User.time_zone).where(
                User.tenant_id == self.uow.tenant_id, User.id == assignee_id))).scalar_one_or_none()
            if zone:
                return ZoneInfo(zone)
        tenant_zone = (await self.uow.session.execute(
            select(Tenant.time_zone).where(Tenant.id == self.uow.tenant_id))).scalar_one()
        return ZoneInfo(tenant_zone)

    async def list_conditions(self, params: ActivityListParams,
                              query: Mapping[str, str]) -> tuple[list[Any], SortKey | None]:
        conditions = await self.custom_fields.filter_conditions(OBJECT_TYPE, Activity,
                                                                custom_field_params(query))
        if params.due is None:
            return conditions, None
        now = utcnow()
        today = now.astimezone(await self._zone(params.assignee_id)).replace(hour=0, minute=0, second=0,
                                                                             microsecond=0)
        tomorrow, after = _next_midnight(today), _next_midnight(_next_midnight(today))
        buckets = {"overdue": (None, now), "today": (today, tomorrow), "tomorrow": (tomorrow, after),
                   "upcoming": (now, None)}
        start, end = buckets[params.due]
        conditions += [Activity.due_at.is_not(None), Activity.done.is_(False)]
        if start is not None:
            conditions.append(Activity.due_at >= start)
        if end is not None:
            conditions.append(Activity.due_at < end)
        # Follow-ups come soonest (or longest overdue) first unless a sort is asked for.
        return conditions, SortKey("due_at", ((Activity.due_at, False),)) if params.sort is None else None

    async def after_change(self, *activities: ActivityOut | Activity) -> None:
        """Recompute last/next activity times of every record the activities link to."""
        links: dict[str, set[uuid.UUID]] = {"contacts": set(), "companies": set(), "deals": set()}
        for activity in activities:
            links["contacts"].update(activity.contact_ids or [])
            if activity.company_id:
                links["companies"].add(activity.company_id)
            if activity.deal_id:
                links["deals"].add(activity.deal_id)
        for table, ids in links.items():
            if ids:
                await self.uow.session.execute(text(f"""
                    UPDATE {table} r SET
                        last_activity_at = (SELECT {_LAST} FROM activities a WHERE a.tenant_id = r.tenant_id
                                            AND a.deleted_at IS NULL AND {_FOLLOW_UP[table]}),
                        next_activity_at = (SELECT {_NEXT} FROM activities a WHERE a.tenant_id = r.tenant_id
                                            AND a.deleted_at IS NULL AND {_FOLLOW_UP[table]})
                    WHERE r.tenant_id = :t AND r.id = ANY(:ids)"""), {"t": self.uow.tenant_id, "ids": list(ids)})

    async def create(self, body: Any) -> ActivityOut:
        out = await super().create(body)
        await self.after_change(out)
        return out

    async def update(self, record_id: uuid.UUID, body: Any, expected: int | None) -> ActivityOut:
        before = await self.records.get(record_id)
        previous_links = ActivityOut.model_validate(before, from_attributes=True)
        out = await super().update(record_id, body, expected)
        await self.after_change(previous_links, out)
        return out

    async def delete(self, record_id: uuid.UUID, expected: int | None) -> None:
        activity = await self.records.get(record_id, for_update=True)
        links = represent(activity)
        await self.records.trash(activity, expected, self.represent)
        await self.after_change(links)

    async def restore(self, record_id: uuid.UUID) -> ActivityOut:
        out = await super().restore(record_id)
        await self.after_change(out)
        return out


def _next_midnight(local_midnight: datetime) -> datetime:
    """The next local midnight (DST-safe: computed on the wall clock, then re-localised)."""
    following = (local_midnight.replace(tzinfo=None) + timedelta(days=1))
    return following.replace(tzinfo=local_midnight.tzinfo)


