"""Load driver: fixed concurrency, warm-up, then a fixed duration; requests/s, p50/p90/p99 latency.

Two engines send the same requests:
- `wrk` (Debian package `wrk`), scripted in Lua: written in C on epoll, it costs the server only a
  few percent of one core at these rates, which matters on a 2-core machine where the driver,
  the app and PostgreSQL share the CPU. Preferred when it is on the PATH.
- a lean asyncio client (bench/pydriver.py) in its own process, for machines without wrk. It
  takes much more CPU per request than wrk, so its figures are lower bounds.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import scenarios as S
from bench.scenarios import Scenario

WRK_TEMPLATE = r"""
local paths = {%(paths)s}
local n = #paths
local method = "%(method)s"
local headers = {%(headers)s}
local create = %(create)s
local run = "%(run)s"
local first = {%(first)s}
local last = {%(last)s}
local countries = {%(countries)s}
local stages = {%(stages)s}
local tags = {%(tags)s}
local threads = 0
local counter = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  math.randomseed((tid or 1) * 7919 + os.time())
end

local function pick(t) return t[math.random(#t)] end

function request()
  if create then
    counter = counter + 1
    local f, l = pick(first), pick(last)
    local body = string.format(
      '{"first_name":"%%s","last_name":"%%s","email":"%%s.%%s.%%s.%%d.%%d@load.example",' ..
      '"phone":"+49 30 %%07d","lifecycle_stage":"%%s","tags":["%%s"],' ..
      '"address":{"city":"Berlin","country":"%%s"}}',
      f, l, string.lower(f:gsub("[^%%w]", "")), string.lower(l:gsub("[^%%w]", "")), run, tid or 1, counter,
      math.random(0, 9999999), pick(stages), pick(tags), pick(countries))
    return wrk.format("POST", paths[1], headers, body)
  end
  return wrk.format(method, paths[math.random(n)], headers, nil)
end

function done(summary, latency, requests)
  io.write(string.format(
    '\nRESULT {"requests":%%d,"duration_us":%%d,"status_errors":%%d,"socket_errors":%%d,' ..
    '"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,"mean_us":%%.1f}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def _lua_list(items: Any) -> str:
    return ",".join(json.dumps(str(i), ensure_ascii=False) for i in items)


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def write_wrk_script(scenario: Scenario, api_key: str | None, path: Path) -> Path:
    headers = ['["Content-Type"] = "application/json"']
    if api_key:
        headers.append(f'["Authorization"] = "Bearer {api_key}"')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(WRK_TEMPLATE % {
        "paths": _lua_list(scenario.paths), "method": scenario.method, "headers": ", ".join(headers),
        "create": "true" if scenario.create else "false", "run": secrets.token_hex(4),
        "first": _lua_list(S.FIRST), "last": _lua_list(S.LAST), "countries": _lua_list(S.COUNTRIES),
        "stages": _lua_list(S.STAGES), "tags": _lua_list(S.TAGS),
    })
    return path


def _summarise(raw: dict[str, Any]) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["status_errors"]
    if not raw["requests"]:  # nothing completed: there are no latencies to report
        return {"requests": 0, "seconds": round(seconds, 2), "rps": 0.0, "p50_ms": None, "p90_ms": None,
                "p99_ms": None, "max_ms": None, "mean_ms": None,
                "errors": raw["status_errors"] + raw["socket_errors"], "ok": 0}
    return {
        "requests": raw["requests"], "seconds": round(seconds, 2),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2), "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2), "max_ms": round(raw["max_us"] / 1000, 2),
        "mean_ms": round(raw["mean_us"] / 1000, 2), "errors": raw["status_errors"] + raw["socket_errors"],
        "ok": ok,
    }


def _run_wrk(base_url: str, script: Path, seconds: float, concurrency: int, threads: int) -> dict[str, Any]:
    cmd = ["wrk", "-t", str(max(1, min(threads, concurrency))), "-c", str(concurrency),
           "-d", f"{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(script), base_url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"wrk gave no result: {done.stdout}\n{done.stderr}")


def _run_python(base_url: str, scenario: Scenario, api_key: str | None, seconds: float, concurrency: int,
                plan: Path) -> dict[str, Any]:
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(json.dumps({"method": scenario.method, "paths": list(scenario.paths),
                                "create": scenario.create, "api_key": api_key}))
    cmd = [sys.executable, "-m", "bench.pydriver", "--url", base_url, "--plan", str(plan),
           "--duration", str(seconds), "--connections", str(concurrency)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, env=env)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"python driver gave no result: {done.stdout}\n{done.stderr}")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process and its child processes (a server's workers) have used so far."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in _children(pid))


def run_scenario(base_url: str, scenario: Scenario, api_key: str | None, *, duration: float, warmup: float,
                 concurrency: int, engine: str, threads: int, work_dir: Path,
                 server_pid: int | None = None) -> dict[str, Any]:
    """Warm up, then measure one scenario; returns rps, latency percentiles in ms and the server's CPU per request."""
    results = []
    cpu_before = 0.0
    for seconds in (warmup, duration):
        if seconds <= 0:
            continue
        cpu_before = cpu_seconds(server_pid)
        if engine == "wrk":
            script = write_wrk_script(scenario, api_key, work_dir / f"{scenario.name}.lua")
            raw = _run_wrk(base_url, script, seconds, concurrency, threads)
        else:
            raw = _run_python(base_url, scenario, api_key, seconds, concurrency, work_dir / f"{scenario.name}.json")
        results.append(raw)
    summary = _summarise(results[-1])
    if server_pid is not None and summary["requests"]:
        # CPU the app process spent per request: robust to other load on the machine, unlike req/s.
        summary["server_cpu_ms_per_request"] = round(
            (cpu_seconds(server_pid) - cpu_before) * 1000 / summary["requests"], 3)
    summary["loadavg_1m"] = os.getloadavg()[0]
    summary["engine"] = engine
    summary["concurrency"] = concurrency
    return summary


def choose_engine(requested: str) -> str:
    if requested == "auto":
        return "wrk" if wrk_available() else "python"
    if requested == "wrk" and not wrk_available():
        raise SystemExit("wrk is not installed: `apt-get install wrk`, or use --driver python")
    return requested
