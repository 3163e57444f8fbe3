"""Digest settings, and which digests are due."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from crm_api.digests.schemas import SECTIONS, DigestSettings, DigestSettingsOut
from crm_api.kit.clock import utcnow
from crm_api.kit.uow import UnitOfWork
from crm_api.users.service import UserService


async def get_settings(uow: UnitOfWork, user_id: uuid.UUID) -> DigestSettingsOut:
    """A user's digest settings (off when never set); 404 for no such user."""
    await UserService(uow).get(user_id)
    row = (await uow.session.execute(text(
        "SELECT frequency, hour, weekday, sections, enabled_at, version FROM digest_settings "
        "WHERE tenant_id = :t AND user_id = :u"), {"t": uow.tenant_id, "u": user_id})).first()
    if row is None:
        return DigestSettingsOut(frequency="off", hour=7, weekday=0, sections=list(SECTIONS), enabled_at=None,
                                 version=0)
    return DigestSettingsOut(frequency=row.frequency, hour=row.hour, weekday=row.weekday,
                             sections=list(row.sections), enabled_at=row.enabled_at, version=row.version)


async def put_settings(uow: UnitOfWork, user_id: uuid.UUID, body: DigestSettings) -> DigestSettingsOut:
    """Replace a user's digest settings; turning it on (again) starts from now."""
    await UserService(uow).get(user_id)
    await uow.session.execute(text("""
        INSERT INTO digest_settings (tenant_id, user_id, frequency, hour, weekday, sections, enabled_at)
        VALUES (:t, :u, CAST(:f AS varchar), :h, :w, :s,
                CASE WHEN CAST(:f AS varchar) <> 'off' THEN CAST(:now AS timestamptz) END)
        ON CONFLICT (tenant_id, user_id) DO UPDATE SET
            frequency = excluded.frequency, hour = excluded.hour, weekday = excluded.weekday,
            sections = excluded.sections, updated_at = CAST(:now AS timestamptz), version = digest_settings.version + 1,
            enabled_at = CASE WHEN excluded.frequency = 'off' THEN NULL
                              WHEN digest_settings.frequency = 'off' THEN CAST(:now AS timestamptz)
                              ELSE digest_settings.enabled_at END"""),
        {"t": uow.tenant_id, "u": user_id, "f": body.frequency, "h": body.hour, "w": body.weekday,
         "s": list(dict.fromkeys(body.sections)), "now": utcnow()})
    out = await get_settings(uow, user_id)
    uow.outbox.add("user.digest_updated", "user", user_id, out.model_dump(mode="json"))
    return out


@dataclass(frozen=True)
class Due:
    """One digest to send: who, which period (local dates, both included), in which zone."""

    user_id: uuid.UUID
    email: str
    name: str
    frequency: str
    period_start: date
    period_end: date
    time_zone: str
    sections: tuple[str, ...]


def due_period(frequency: str, hour: int, weekday: int, zone: str, now: datetime,
               enabled_at: datetime) -> tuple[date, date] | None:
    """The period of the latest digest whose send time has passed, if that send time is after enabled_at."""
    local = now.astimezone(ZoneInfo(zone))
    send_day = local.date() if local.hour >= hour else local.date() - timedelta(days=1)
    if frequency == "weekly":
        send_day -= timedelta(days=(send_day.weekday() - weekday) % 7)
    send_at = datetime.combine(send_day, time(hour), ZoneInfo(zone))
    if send_at < enabled_at:
        return None
    if frequency == "daily":
        day = send_day - timedelta(days=1)
        return day, day
    end = send_day - timedelta(days=1)
    return end - timedelta(days=6), end


async def due_digests(uow: UnitOfWork, now: datetime) -> list[Due]:
    """The tenant's digests due at `now` and not yet claimed."""
    rows = (await uow.session.execute(text("""
        SELECT s.user_id, s.frequency, s.hour, s.weekday, s.sections, s.enabled_at, u.email, u.name,
               coalesce(u.time_zone, t.time_zone) AS zone
        FROM digest_settings s
        JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id AND u.deleted_at IS NULL
        JOIN tenants t ON t.id = s.tenant_id
        WHERE s.tenant_id = :t AND s.frequency <> 'off'"""), {"t": uow.tenant_id})).all()
    due: list[Due] = []
    for r in rows:  # one row per opted-in user, not per record: the numbers themselves are SQL aggregates
        period = due_period(r.frequency, r.hour, r.weekday, r.zone, now, r.enabled_at)
        if period is not None:
            due.append(Due(r.user_id, r.email, r.name, r.frequency, period[0], period[1], r.zone,
                           tuple(r.sections)))
    return due


async def claim(uow: UnitOfWork, digest: Due) -> bool:
    """Record that this digest is being sent; False when it was claimed before (sent, or lost in a crash)."""
    row = (await uow.session.execute(text("""
        INSERT INTO digest_deliveries (tenant_id, user_id, frequency, period_start)
        VALUES (:t, :u, :f, :p) ON CONFLICT DO NOTHING RETURNING 1"""),
        {"t": uow.tenant_id, "u": digest.user_id, "f": digest.frequency, "p": digest.period_start})).first()
    return row is not None


async def release(uow: UnitOfWork, digest: Due) -> None:
    """Forget a claim whose sending failed, so the next run tries again."""
    await uow.session.execute(text(
        "DELETE FROM digest_deliveries WHERE tenant_id = :t AND user_id = :u AND frequency = :f "
        "AND period_start = :p AND sent_at IS NULL"),
        {"t": uow.tenant_id, "u": digest.user_id, "f": digest.frequency, "p": digest.period_start})


async def mark_sent(uow: UnitOfWork, digest: Due) -> None:
    await uow.session.execute(text(
        "UPDATE digest_deliveries SET sent_at = :now WHERE tenant_id = :t AND user_id = :u AND frequency = :f "
        "AND period_start = :p"),
        {"t": uow.tenant_id, "u": digest.user_id, "f": digest.frequency, "p": digest.period_start,
         "now": utcnow()})


async def contents(uow: UnitOfWork, digest: Due) -> dict[str, Any]:
    """What the digest says: the user's sales numbers, overdue follow-ups and stale deals (20 of each)."""
    from crm_api.kpis.sales import SalesKpis
    from crm_api.kpis.sql import Window

    out: dict[str, Any] = {}
    params = {"t": uow.tenant_id, "u": digest.user_id, "now": utcnow()}
    if "numbers" in digest.sections:
        window = Window(digest.period_start, digest.period_end, digest.time_zone)
        totals, _ = await SalesKpis(uow, window, owner_id=digest.user_id).compute()
        out["numbers"] = totals
    if "follow_ups" in digest.sections:
        out["follow_ups"] = (await uow.session.execute(text("""
            SELECT id, coalesce(subject, type) AS subject, due_at FROM activities
            WHERE tenant_id = :t AND deleted_at IS NULL AND assignee_id = :u AND NOT done AND due_at < :now
            ORDER BY due_at, id LIMIT 20"""), params)).all()
    if "stale_deals" in digest.sections:
        out["stale_deals"] = (await uow.session.execute(text("""
            SELECT id, title, stale_at FROM deals
            WHERE tenant_id = :t AND deleted_at IS NULL AND owner_id = :u AND status = 'open' AND stale_at <= :now
            ORDER BY stale_at, id LIMIT 20"""), params)).all()
    return out
