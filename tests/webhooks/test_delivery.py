"""Delivery: signed per Standard Webhooks, in order, retried on a schedule, never lost."""

import asyncio
import json
from datetime import timedelta

from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from crm_api.kit.clock import utcnow
from crm_api.webhooks.jobs import deliver_endpoint, sweep_webhooks
from crm_api.worker import build_worker, stop_worker
from tests.webhooks.conftest import make_endpoint
from tests.webhooks.receiver import Reply


async def _deliver_until_idle(ctx, tenant, endpoint, rounds=40):
    """Run the deliverer as the worker would, waiting out retry delays, until nothing is left."""
    for _ in range(rounds):
        await deliver_endpoint(ctx, str(tenant.id), endpoint["id"])
        state = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}")).json()
        events = (await tenant.get("/v1/events", params={"limit": 1000})).json()["data"]
        last = max((e["sequence"] for e in events), default=0)
        if state["delivered_through_sequence"] >= last or not state["enabled"]:
            return state
        await asyncio.sleep(0.06)
    raise AssertionError("deliveries did not finish")


async def test_deliveries_are_signed_and_carry_the_event(tenant, receiver, worker_ctx):
    endpoint = await make_endpoint(tenant, receiver.url)
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Ada", "email": "ada@ex.com"})).json()
    await _deliver_until_idle(worker_ctx, tenant, endpoint)

    (request,) = receiver.received
    Webhook(endpoint["secret"]).verify(request.body, request.headers)
    body = json.loads(request.body)
    (event,) = (await tenant.get("/v1/events", params={"type": "contact.*"})).json()["data"]
    assert request.headers["webhook-id"] == body["id"] == event["id"]
    assert body["type"] == "contact.created" and body["sequence"] == event["sequence"]
    assert body["data"]["object"] == contact and set(body) == {"id", "type", "created_at", "sequence", "data"}


async def test_events_arrive_in_order_and_only_those_subscribed(tenant, receiver, worker_ctx):
    endpoint = await make_endpoint(tenant, receiver.url, event_types=["contact.created", "contact.deleted"])
    ids = [(await tenant.post("/v1/contacts", json={"first_name": f"C{i}"})).json()["id"] for i in range(5)]
    await tenant.patch(f"/v1/contacts/{ids[0]}", json={"first_name": "Changed"})
    await tenant.delete(f"/v1/contacts/{ids[1]}")
    await tenant.post("/v1/companies", json={"name": "Not subscribed"})
    await _deliver_until_idle(worker_ctx, tenant, endpoint)

    bodies = [json.loads(r.body) for r in receiver.received]
    assert [b["type"] for b in bodies] == ["contact.created"] * 5 + ["contact.deleted"]
    assert [b["sequence"] for b in bodies] == sorted(b["sequence"] for b in bodies)


async def test_a_failing_receiver_gets_the_backlog_in_order_once_it_recovers(tenant, receiver, worker_ctx):
    endpoint = await make_endpoint(tenant, receiver.url)
    receiver.replies.extend([Reply(500, b"down"), Reply(503, b"still down")])
    for i in range(4):
        await tenant.post("/v1/contacts", json={"first_name": f"R{i}"})
    await _deliver_until_idle(worker_ctx, tenant, endpoint)

    bodies = [json.loads(r.body) for r in receiver.received]
    first_id = bodies[0]["id"]
    assert [b["id"] for b in bodies[:3]] == [first_id] * 3  # two failures, then success, same webhook-id
    assert bodies[0] == bodies[2]
    delivered = [b["sequence"] for b in bodies[2:]]
    assert delivered == sorted(delivered) and len(delivered) == 4
    attempts = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
                                 params={"sort": "created_at"})).json()["data"]
    assert [(a["status"], a["attempt"], a["response_status"]) for a in attempts[:3]] == [
        ("failed", 1, 500), ("failed", 2, 503), ("succeeded", 3, 200)]
    assert attempts[0]["response_body"] == "down" and attempts[0]["next_retry_at"] is not None


async def test_an_event_is_given_up_after_the_schedule_and_the_next_one_goes_on(tenant, receiver, worker_ctx):
    endpoint = await make_endpoint(tenant, receiver.url)
    receiver.replies.extend([Reply(500)] * 4)  # first attempt + three retries of the shrunk schedule
    await tenant.post("/v1/contacts", json={"first_name": "Lost"})
    await tenant.post("/v1/contacts", json={"first_name": "Next"})
    await _deliver_until_idle(worker_ctx, tenant, endpoint)
    names = [json.loads(r.body)["data"]["object"]["first_name"] for r in receiver.received]
    assert names == ["Lost"] * 4 + ["Next"]


async def test_410_gone_disables_the_endpoint_and_says_so(tenant, receiver, worker_ctx):
    endpoint = await make_endpoint(tenant, receiver.url)
    receiver.default = Reply(410)
    await tenant.post("/v1/contacts", json={"first_name": "X"})
    state = await _deliver_until_idle(worker_ctx, tenant, endpoint)
    assert state["enabled"] is False and "410" in state["disabled_reason"]
    types = [e["type"] for e in (await tenant.get("/v1/events")).json()["data"]]
    assert "webhook_endpoint.disabled" in types
    assert len(receiver.received) == 1


async def test_an_endpoint_failing_too_long_is_disabled(tenant, receiver, worker_ctx, owner_engine):
    endpoint = await make_endpoint(tenant, receiver.url, event_types=["contact.*"])
    receiver.default = Reply(500)
    await tenant.post("/v1/contacts", json={"first_name": "X"})
    await deliver_endpoint(worker_ctx, str(tenant.id), endpoint["id"])
    async with owner_engine.begin() as conn:
        await conn.execute(text("UPDATE webhook_endpoints SET failing_since = :t, next_attempt_at = NULL "
                                "WHERE id = :i"), {"t": utcnow() - timedelta(days=6), "i": endpoint["id"]})
    await deliver_endpoint(worker_ctx, str(tenant.id), endpoint["id"])
    state = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}")).json()
    assert state["enabled"] is False and state["disabled_reason"] == "failing for too long"
    # Re-enabling starts afresh and delivers the kept backlog.
    receiver.default = Reply(200)
    await tenant.patch(f"/v1/webhook-endpoints/{endpoint['id']}", json={"enabled": True})
    failed_attempts = len(receiver.received)
    await _deliver_until_idle(worker_ctx, tenant, endpoint)
    assert [json.loads(r.body)["type"] for r in receiver.received[failed_attempts:]] == ["contact.created"]


async def test_retry_after_is_honoured(tenant, receiver, worker_ctx):
    endpoint = await make_endpoint(tenant, receiver.url)
    receiver.replies.append(Reply(429, headers={"Retry-After": "120"}))
    await tenant.post("/v1/contacts", json={"first_name": "X"})
    before = utcnow()
    await deliver_endpoint(worker_ctx, str(tenant.id), endpoint["id"])
    state = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}")).json()
    from datetime import datetime
    assert datetime.fromisoformat(state["next_attempt_at"]) >= before + timedelta(seconds=119)
    await deliver_endpoint(worker_ctx, str(tenant.id), endpoint["id"])  # not due yet: nothing is sent
    assert len(receiver.received) == 1


async def test_redirects_are_not_followed(tenant, receiver, worker_ctx):
    endpoint = await make_endpoint(tenant, receiver.url)
    receiver.replies.append(Reply(302, headers={"Location": "http://127.0.0.1:1/elsewhere"}))
    await tenant.post("/v1/contacts", json={"first_name": "X"})
    await _deliver_until_idle(worker_ctx, tenant, endpoint)
    statuses = [d["response_status"] for d in (await tenant.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", params={"sort": "created_at"})).json()["data"]]
    assert statuses == [302, 200]
    assert all(r.path == "/hook" for r in receiver.received)


async def test_a_rotated_secret_signs_beside_the_new_one(tenant, receiver, worker_ctx):
    endpoint = await make_endpoint(tenant, receiver.url)
    rotated = (await tenant.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")).json()
    await tenant.post("/v1/contacts", json={"first_name": "X"})
    await _deliver_until_idle(worker_ctx, tenant, endpoint)
    request = receiver.received[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(endpoint["secret"]).verify(request.body, request.headers)
    Webhook(rotated["secret"]).verify(request.body, request.headers)


async def test_rolled_back_writes_are_never_delivered(tenant, receiver, worker_ctx):
    endpoint = await make_endpoint(tenant, receiver.url)
    await tenant.post("/v1/contacts", json={"first_name": "A", "email": "same@ex.com"})
    assert (await tenant.post("/v1/contacts", json={"first_name": "B", "email": "same@ex.com"})).status_code == 409
    assert (await tenant.post("/v1/contacts", json={"bogus": True})).status_code == 422
    await _deliver_until_idle(worker_ctx, tenant, endpoint)
    assert [json.loads(r.body)["data"]["object"]["first_name"] for r in receiver.received] == ["A"]


async def test_connect_time_checks_refuse_what_registration_allowed(tenant, receiver, worker_ctx, settings):
    """DNS rebinding: the address is checked again when the worker connects."""
    import httpx

    from crm_api.kit.ssrf import GuardedTransport, TargetPolicy

    endpoint = await make_endpoint(tenant, receiver.url)
    await tenant.post("/v1/contacts", json={"first_name": "X"})
    strict = TargetPolicy.from_setting("", allow_http=True)
    async with httpx.AsyncClient(transport=GuardedTransport(strict)) as client:
        await deliver_endpoint({**worker_ctx, "webhook_client": client}, str(tenant.id), endpoint["id"])
    assert receiver.received == []
    (attempt,) = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")).json()["data"]
    assert attempt["status"] == "failed" and attempt["error"].startswith("refused")


async def test_replay_and_retry_send_past_events_again(tenant, receiver, worker_ctx):
    from crm_api.webhooks.jobs import redeliver_event, replay_endpoint

    endpoint = await make_endpoint(tenant, receiver.url)
    since = utcnow().isoformat()
    for i in range(3):
        await tenant.post("/v1/contacts", json={"first_name": f"P{i}"})
    await _deliver_until_idle(worker_ctx, tenant, endpoint)
    assert len(receiver.received) == 3

    accepted = await tenant.post(f"/v1/webhook-endpoints/{endpoint['id']}/replay", json={"since": since})
    assert accepted.status_code == 202 and accepted.json() == {"events": 3}
    events = (await tenant.get("/v1/events")).json()["data"]
    await replay_endpoint(worker_ctx, str(tenant.id), endpoint["id"], [e["sequence"] for e in events])
    assert [r.headers["webhook-id"] for r in receiver.received[3:]] == [e["id"] for e in events]

    first = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
                              params={"sort": "created_at", "limit": 1})).json()["data"][0]
    retry = await tenant.post(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{first['id']}/retry")
    assert retry.status_code == 202
    await redeliver_event(worker_ctx, str(tenant.id), endpoint["id"], [first["event_sequence"]])
    assert receiver.received[-1].headers["webhook-id"] == first["event_id"]
    bad = await tenant.post(f"/v1/webhook-endpoints/{endpoint['id']}/replay", json={"since": "yesterday"})
    assert bad.status_code == 422


async def test_the_worker_delivers_on_its_own(tenant, receiver, app, settings):
    """End to end: commits wake the arq worker, which delivers without being called."""
    from arq.constants import default_queue_name

    # The run's earlier tests queued hundreds of wake-ups that nothing consumes (they call job
    # functions directly); drop them so this worker does not spend the wait draining them.
    await app.state.arq.delete(default_queue_name)
    endpoint = await make_endpoint(tenant, receiver.url)
    worker = build_worker(settings, settings.redis_url, app.state.sessionmaker)
    task = asyncio.create_task(worker.async_run())
    try:
        for i in range(5):
            await tenant.post("/v1/contacts", json={"first_name": f"W{i}"})
        received = await receiver.wait_for(5, within=15)
        assert [json.loads(r.body)["data"]["object"]["first_name"] for r in received] == [f"W{i}" for i in range(5)]
    finally:
        await stop_worker(worker, task)
    del endpoint


async def test_the_sweeper_finds_work_that_redis_lost(tenant, receiver, worker_ctx, app):
    endpoint = await make_endpoint(tenant, receiver.url)
    await tenant.post("/v1/contacts", json={"first_name": "X"})
    woken = []

    class Recorder:
        async def enqueue_job(self, name, *args, **kwargs):
            woken.append((name, args))

    await sweep_webhooks({**worker_ctx, "redis": Recorder()})
    assert ("deliver_endpoint", (str(tenant.id), endpoint["id"])) in woken
