"""The arq worker's shutdown."""

from __future__ import annotations

import asyncio

from arq import create_pool

from crm_api.worker import build_worker, redis_settings


async def test_close_finishes_although_a_job_task_ended_cancelled(settings, app):
    # On SIGTERM arq cancels the running jobs; one cancelled while arq records its result ends in
    # CancelledError. close() must still wait for every job, run the shutdown and close the pool
    # (arq's own close() raised there, and `crm-api worker` exited with status 1).
    worker = build_worker(settings, settings.redis_url, app.state.sessionmaker)
    worker._pool = await create_pool(redis_settings(settings.redis_url))
    cancelled = asyncio.ensure_future(asyncio.sleep(30))
    cancelled.cancel()
    cleaned_up = []

    async def cleaning_up() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.05)  # a job's cleanup after its cancellation (handing back a lease)
            cleaned_up.append(True)

    running = asyncio.ensure_future(cleaning_up())
    await asyncio.sleep(0)
    worker.tasks = {"a": cancelled, "b": running}
    await worker.close()
    assert cancelled.cancelled() and running.done() and cleaned_up == [True]
    assert worker._pool is None  # the shutdown ran to its end
