"""Digests: settings, due periods in the user's time zone, and sending over a real SMTP server on 127.0.0.1
(aiosmtpd) exactly once, across worker restarts and failed sends."""

import email
import socket
import uuid
from datetime import UTC, date, datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from crm_api.digests.jobs import send_tenant_digests
from crm_api.digests.service import due_period
from tests.kit.rows import assert_problem, count_rows, execute
from tests.pipelines.helpers import created


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def ctx_for(app, settings, port):
    return {"sessionmaker": app.state.sessionmaker, "redis": app.state.arq,
            "settings": settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none",
                                                    "digest_from": "crm@example.com"})}


def test_due_periods_follow_the_local_clock():
    tokyo = "Asia/Tokyo"
    enabled = datetime(2026, 1, 1, tzinfo=UTC)
    # 06:59 local on Wed 14 Jan: the 07:00 digest of the 14th is not due; the 13th's (covering the 12th) is.
    now = datetime(2026, 1, 14, 6, 59, tzinfo=ZoneInfo(tokyo))
    assert due_period("daily", 7, 0, tokyo, now, enabled) == (date(2026, 1, 12), date(2026, 1, 12))
    assert due_period("daily", 7, 0, tokyo, now + timedelta(minutes=1), enabled) == (
        date(2026, 1, 13), date(2026, 1, 13))
    # Weekly on Mondays: the latest Monday 07:00 passed is the 12th, covering Mon 5 .. Sun 11 Jan.
    assert due_period("weekly", 7, 0, tokyo, now, enabled) == (date(2026, 1, 5), date(2026, 1, 11))
    # Nothing covers a period before the digest was turned on.
    assert due_period("daily", 7, 0, tokyo, now, datetime(2026, 1, 13, 23, tzinfo=UTC)) is None


async def test_settings(tenant, other_tenant):
    user = await created(tenant, "/v1/users", email="rep@example.com", name="Rep")
    url = f"/v1/users/{user['id']}/digest"
    assert (await tenant.get(url)).json()["frequency"] == "off"
    response = await tenant.request("PUT", url, json={"frequency": "weekly", "hour": 8, "weekday": 4,
                                                      "sections": ["numbers"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["frequency"], body["hour"], body["weekday"], body["sections"], body["version"]) == (
        "weekly", 8, 4, ["numbers"], 1)
    assert body["enabled_at"] is not None
    assert (await tenant.get(url)).json() == body
    assert_problem(await tenant.request("PUT", url, json={"frequency": "hourly"}), 422)
    assert_problem(await tenant.request("PUT", url, json={"frequency": "daily", "hour": 24}), 422)
    assert_problem(await tenant.request("PUT", url, json={"frequency": "daily", "sections": ["gossip"]}), 422)
    assert_problem(await tenant.request("PUT", url, json={"frequency": "daily"}, headers={"If-Match": '"7"'}), 412)
    assert_problem(await other_tenant.get(url), 404)
    assert_problem(await tenant.get(f"/v1/users/{uuid.uuid4()}/digest"), 404)
    someone = await tenant.with_scopes("kpis:read")
    assert_problem(await someone.get(url), 403)  # not an admin, and not acting for this user
    themselves = await tenant.with_scopes("kpis:read", user_id=user["id"])
    assert (await themselves.get(url)).status_code == 200
    assert_problem(await (await tenant.with_scopes("deals:read", user_id=user["id"])).get(url), 403)


async def test_each_due_digest_is_sent_once(tenant, app, settings, owner_engine, smtp):
    inbox, port = smtp
    user = await created(tenant, "/v1/users", email="rep@example.com", name="Rep", time_zone="Asia/Tokyo")
    response = await tenant.request("PUT", f"/v1/users/{user['id']}/digest", json={"frequency": "daily", "hour": 0})
    assert response.status_code == 200, response.text
    await execute(owner_engine, "UPDATE digest_settings SET enabled_at = now() - interval '3 days' WHERE user_id = :u",
                  u=uuid.UUID(user["id"]))
    yesterday = datetime.now(ZoneInfo("Asia/Tokyo")).date() - timedelta(days=1)
    won = await created(tenant, "/v1/deals", title="Big one", owner_id=user["id"], amount={"amount": "1234.5"})
    pipeline = next(p for p in (await tenant.get("/v1/pipelines")).json()["data"] if p["is_default"])
    won_stage = next(s["id"] for s in pipeline["stages"] if s["kind"] == "won")
    assert (await tenant.post(f"/v1/deals/{won['id']}/move", json={"stage_id": won_stage})).status_code == 200
    noon = datetime.combine(yesterday, datetime.min.time(), ZoneInfo("Asia/Tokyo")) + timedelta(hours=12)
    await execute(owner_engine, "UPDATE deals SET won_at = :w WHERE id = :i", w=noon, i=uuid.UUID(won["id"]))
    stale = await created(tenant, "/v1/deals", title="Gathering dust", owner_id=user["id"])
    await execute(owner_engine, "UPDATE deals SET updated_at = now() - interval '90 days' WHERE id = :i",
                  i=uuid.UUID(stale["id"]))
    await created(tenant, "/v1/activities", type="task", subject="Call back Ada", assignee_id=user["id"],
                  due_at=(datetime.now(UTC) - timedelta(days=2)).isoformat())

    # The SMTP server is down: nothing is sent and nothing is claimed, so the next run tries again.
    down = ctx_for(app, settings, free_port())
    assert await send_tenant_digests(down, tenant.id) == 0
    assert await count_rows(owner_engine, "digest_deliveries", tenant.id) == 0

    assert await send_tenant_digests(ctx_for(app, settings, port), tenant.id) == 1
    # Another run, as after a worker restart (a fresh context): the claim holds, nothing is sent again.
    assert await send_tenant_digests(ctx_for(app, settings, port), tenant.id) == 0
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["rep@example.com"]
    assert message["Subject"] == f"Daily digest: {yesterday.isoformat()}"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "1234.50 EUR" in part  # won revenue yesterday, in the user's time zone
        assert "Call back Ada" in part and "Gathering dust" in part
    assert "Deals won: 1" in text and "Open deals: 1" in text
    assert await count_rows(owner_engine, "digest_deliveries", tenant.id, "sent_at IS NOT NULL") == 1


async def test_off_and_no_smtp_send_nothing(tenant, app, settings, owner_engine, smtp):
    inbox, port = smtp
    user = await created(tenant, "/v1/users", email="rep@example.com", name="Rep")
    await tenant.request("PUT", f"/v1/users/{user['id']}/digest", json={"frequency": "daily", "hour": 0})
    await execute(owner_engine, "UPDATE digest_settings SET enabled_at = now() - interval '3 days' WHERE user_id = :u",
                  u=uuid.UUID(user["id"]))
    no_smtp = {"sessionmaker": app.state.sessionmaker, "settings": settings}
    assert await send_tenant_digests(no_smtp, tenant.id) == 0
    await tenant.request("PUT", f"/v1/users/{user['id']}/digest", json={"frequency": "off"})
    assert await send_tenant_digests(ctx_for(app, settings, port), tenant.id) == 0
    assert inbox.messages == []
