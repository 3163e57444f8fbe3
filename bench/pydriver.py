"""A lean HTTP/1.1 keep-alive load driver on asyncio (uvloop when present), for machines without wrk.

Runs in its own process: `python -m bench.pydriver --url http://127.0.0.1:8000 --plan plan.json
--duration 10 --connections 8`; prints one `RESULT {...}` line in the same shape as the wrk script.
It speaks just enough HTTP for this job (Content-Length bodies) to stay cheap per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from bench import scenarios as S


class Plan:
    def __init__(self, spec: dict[str, Any], host: str) -> None:
        self.method = spec["method"]
        self.paths = spec["paths"]
        self.create = spec["create"]
        self.run = secrets.token_hex(4)
        self.counter = 0
        auth = f"Authorization: Bearer {spec['api_key']}\r\n" if spec.get("api_key") else ""
        self.head = f"Host: {host}\r\n{auth}Content-Type: application/json\r\n"

    def next(self, rng: random.Random) -> bytes:
        if not self.create:
            path = self.paths[rng.randrange(len(self.paths))]
            return f"{self.method} {path} HTTP/1.1\r\n{self.head}\r\n".encode()
        self.counter += 1
        first, last = rng.choice(S.FIRST), rng.choice(S.LAST)
        body = json.dumps({
            "first_name": first, "last_name": last,
            "email": f"{first.lower()}.{last.lower()}.{self.run}.{self.counter}@load.example".encode(
                "ascii", "ignore").decode(),
            "phone": f"+49 30 {rng.randrange(10**7):07d}", "lifecycle_stage": rng.choice(S.STAGES),
            "tags": [rng.choice(S.TAGS)], "address": {"city": "Berlin", "country": rng.choice(S.COUNTRIES)},
        }).encode()
        return (f"POST {self.paths[0]} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _client(host: str, port: int, plan: Plan, deadline: float, latencies: list[int], counts: dict[str, int],
                  seed: int) -> None:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter_ns
    try:
        while time.perf_counter() < deadline:
            request = plan.next(rng)
            started = clock()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"content-length:")
            if at < 0:
                raise RuntimeError("response without Content-Length")
            length = int(lower[at + 15:lower.find(b"\r\n", at)])
            if length:
                await reader.readexactly(length)
            latencies.append(clock() - started)
            counts["requests"] += 1
            if status >= 400:
                counts["status_errors"] += 1
    except (OSError, asyncio.IncompleteReadError):
        counts["socket_errors"] += 1
    finally:
        writer.close()


async def drive(url: str, spec: dict[str, Any], duration: float, connections: int) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    plan = Plan(spec, f"{host}:{port}")
    latencies: list[int] = []
    counts = {"requests": 0, "status_errors": 0, "socket_errors": 0}
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*[_client(host, port, plan, deadline, latencies, counts, i) for i in range(connections)])
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> int:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] // 1000 if latencies else 0

    return {**counts, "duration_us": int(elapsed * 1e6), "p50_us": pct(50), "p90_us": pct(90), "p99_us": pct(99),
            "max_us": latencies[-1] // 1000 if latencies else 0,
            "mean_us": sum(latencies) / len(latencies) / 1000 if latencies else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with open(args.plan) as f:
        spec = json.load(f)
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    result = run_loop(drive(args.url, spec, args.duration, args.connections))
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
