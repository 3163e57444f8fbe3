"""The raw database floor: pgbench select-only (-S, prepared) against the same PostgreSQL, own database."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bench.servers import PGBENCH_DB, Database, recreate_database


def pgbench_binary(embedded_bin: Path | None) -> str:
    """The embedded PostgreSQL's pgbench when it ships one, else the one on the PATH."""
    if embedded_bin is not None and (embedded_bin / "pgbench").exists():
        return str(embedded_bin / "pgbench")
    found = shutil.which("pgbench")
    if not found:
        raise RuntimeError("no pgbench found (install postgresql-client or use the embedded PostgreSQL)")
    return found


def _latencies(log_dir: Path) -> list[int]:
    """Per-transaction latencies (microseconds) from pgbench's -l logs."""
    values: list[int] = []
    for path in log_dir.glob("pgbench_log*"):
        with path.open() as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    values.append(int(parts[2]))
    return sorted(values)


def run_pgbench(server: Database, binary: str, *, scale: int, duration: float, warmup: float,
                      concurrency: int, work_dir: Path) -> dict[str, Any]:
    """Initialise pgbench's tables at `scale` in their own database, warm up, then measure -S."""
    db = asyncio.run(recreate_database(server, PGBENCH_DB))
    env = {**os.environ, **db.libpq_env}
    subprocess.run([binary, "-i", "-q", "-s", str(scale)], env=env, check=True, capture_output=True)
    base = [binary, "-n", "-S", "-M", "prepared", "-c", str(concurrency), "-j", "1"]
    if warmup > 0:
        subprocess.run([*base, "-T", str(max(1, round(warmup)))], env=env, check=True, capture_output=True)
    log_dir = work_dir / "pgbench"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    done = subprocess.run([*base, "-T", str(max(1, round(duration))), "-l", "--log-prefix",
                           str(log_dir / "pgbench_log")], env=env, check=True, capture_output=True, text=True)
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    latencies = _latencies(log_dir)
    shutil.rmtree(log_dir, ignore_errors=True)

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] / 1000, 3) if latencies else 0.0

    return {"engine": "pgbench -S -M prepared", "concurrency": concurrency, "scale": scale,
            "rows": scale * 100_000, "requests": len(latencies), "seconds": round(duration, 2),
            "rps": round(float(tps.group(1)), 1) if tps else 0.0, "p50_ms": pct(50), "p90_ms": pct(90),
            "p99_ms": pct(99), "max_ms": round(latencies[-1] / 1000, 3) if latencies else 0.0, "errors": 0}
