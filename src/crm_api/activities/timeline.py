"""One chronological feed per record: its activities and its own events (and, for a company, those
of its contacts and deals), newest first, cursor-paged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text

from crm_api.activities.schemas import TimelineItem, TimelinePage
from crm_api.activities.service import represent
from crm_api.events.service import represent as represent_event
from crm_api.kit.errors import ValidationFailed
from crm_api.kit.pagination import decode_cursor, encode_cursor
from crm_api.kit.uow import UnitOfWork
from crm_api.models.activity import Activity
from crm_api.models.event import Event

# Per record type: which activities and which events belong on its timeline (SQL on :rid, :t).
_CASES_OF = "SELECT c.id FROM cases c WHERE c.tenant_id = :t AND c.{column} = :rid"
SCOPES: dict[str, tuple[str, str]] = {
    "contact": (
        "a.contact_ids @> ARRAY[CAST(:rid AS uuid)]",
        f"""e.object_id = :rid
            OR (e.object_type = 'case' AND e.object_id IN ({_CASES_OF.format(column='contact_id')}))
            OR (e.object_type = 'case_message'
                AND CAST(e.data->>'case_id' AS uuid) IN ({_CASES_OF.format(column='contact_id')}))""",
    ),
    "company": (
        """a.company_id = :rid
           OR a.contact_ids && ARRAY(SELECT k.id FROM contacts k WHERE k.tenant_id = :t AND k.company_id = :rid)
           OR a.deal_id IN (SELECT d.id FROM deals d WHERE d.tenant_id = :t AND d.company_id = :rid)""",
        f"""e.object_id = :rid
            OR e.object_id IN (SELECT k.id FROM contacts k WHERE k.tenant_id = :t AND k.company_id = :rid)
            OR e.object_id IN (SELECT d.id FROM deals d WHERE d.tenant_id = :t AND d.company_id = :rid)
            OR (e.object_type = 'case' AND e.object_id IN ({_CASES_OF.format(column='company_id')}))
            OR (e.object_type = 'case_message'
                AND CAST(e.data->>'case_id' AS uuid) IN ({_CASES_OF.format(column='company_id')}))""",
    ),
    "deal": ("a.deal_id = :rid", "e.object_id = :rid"),
    "case": ("a.case_id = :rid",
             "e.object_id = :rid OR (e.object_type = 'case_message' AND CAST(e.data->>'case_id' AS uuid) = :rid)"),
}


async def timeline(uow: UnitOfWork, record_type: str, record_id: uuid.UUID, limit: int,
                   cursor: str | None) -> TimelinePage:
    """A page of the record's timeline; the caller has checked that the record exists."""
    activities, events = SCOPES[record_type]
    after = ""
    params: dict[str, Any] = {"t": uow.tenant_id, "rid": record_id, "n": limit + 1}
    if cursor:
        at, item_id = decode_cursor(cursor, "timeline", 2)
        if not (isinstance(at, datetime) and isinstance(item_id, uuid.UUID)):
            raise ValidationFailed.field("cursor", "is not a cursor this API gave out")
        after = "WHERE (at, id) < (:at, :id)"
        params.update(at=at, id=item_id)
    sql = text(f"""
        SELECT kind, id, at FROM (
            SELECT 'activity' AS kind, a.id AS id, a.timeline_at AS at FROM activities a
            WHERE a.tenant_id = :t AND a.deleted_at IS NULL AND ({activities})
            UNION ALL
            SELECT 'event', e.id, e.created_at FROM events e
            WHERE e.tenant_id = :t AND e.object_type <> 'activity' AND ({events})
        ) items {after}
        ORDER BY at DESC, id DESC LIMIT :n""").bindparams(bindparam("rid", type_=Activity.__table__.c.id.type))
    rows = (await uow.session.execute(sql, params)).all()
    page, more = rows[:limit], len(rows) > limit
    loaded = await _load(uow, [r.id for r in page if r.kind == "activity"], [r.id for r in page if r.kind == "event"])
    items = [TimelineItem(kind=r.kind, at=r.at, **{r.kind: loaded[r.id]}) for r in page]
    next_cursor = encode_cursor("timeline", [page[-1].at, page[-1].id]) if more and page else None
    return TimelinePage(data=items, next_cursor=next_cursor)


async def _load(uow: UnitOfWork, activity_ids: list[uuid.UUID], event_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    from sqlalchemy import select

    loaded: dict[uuid.UUID, Any] = {}
    if activity_ids:
        rows = await uow.session.execute(select(Activity).where(Activity.tenant_id == uow.tenant_id,
                                                                Activity.id.in_(activity_ids)))
        loaded.update({a.id: represent(a) for a in rows.scalars()})
    if event_ids:
        rows = await uow.session.execute(select(Event).where(Event.tenant_id == uow.tenant_id, Event.id.in_(event_ids)))
        loaded.update({e.id: represent_event(e) for e in rows.scalars()})
    return loaded
