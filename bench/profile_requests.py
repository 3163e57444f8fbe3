"""In-process CPU profile of one request type: the ASGI app called directly (no network, no wrk).

    python -m bench.profile_requests --what get --requests 3000      # needs bench/out/dataset.json
    python -m bench.profile_requests --what search --profile          # pyinstrument tree of the search

Reports the app's CPU time per request (process time over the run, 8 requests in flight), which
is steadier than req/s on a shared machine; with --profile it prints where that time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from pathlib import Path

import httpx

from crm_api.app import create_app
from crm_api.config import Settings

OUT = Path(__file__).resolve().parent / "out"


async def _run(args: argparse.Namespace) -> None:
    dataset = json.loads((OUT / "dataset.json").read_text())
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    settings = Settings(database_url=dataset["database_url"], redis_url=redis_url)
    app = create_app(settings)
    rng = random.Random(7)
    ids, terms = dataset["contact_ids"], dataset["search_terms"]

    def path() -> str:
        if args.what == "get":
            return f"/v1/contacts/{rng.choice(ids)}"
        if args.what == "search":
            return f"/v1/contacts?q={rng.choice(terms)}"
        if args.what == "list_filtered":
            return "/v1/contacts?country=DE&lifecycle_stage=customer&limit=50"
        return "/v1/contacts?limit=50"

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {dataset['api_key']}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            async def worker(n: int) -> None:
                for _ in range(n):
                    response = await client.get(path())
                    assert response.status_code == 200, response.text

            await asyncio.gather(*[worker(20) for _ in range(8)])  # warm-up
            profiler = None
            if args.profile:
                from pyinstrument import Profiler
                profiler = Profiler(async_mode="disabled")
                profiler.start()
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*[worker(args.requests // 8) for _ in range(8)])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=False, color=False, show_all=bool(os.environ.get("PROFILE_ALL"))))
    n = (args.requests // 8) * 8
    print(f"{args.what}: {n} requests, app CPU {cpu / n * 1000:.3f} ms/request, wall {wall / n * 1000:.3f} ms/request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=["get", "list", "list_filtered", "search"], default="get")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
