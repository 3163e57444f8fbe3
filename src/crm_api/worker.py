"""arq worker: gathers every domain's jobs and cron jobs."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import Worker
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_api.activities.jobs import send_reminders
from crm_api.cases.jobs import escalate_cases
from crm_api.config import Settings
from crm_api.digests.jobs import send_digests
from crm_api.kit.ssrf import GuardedTransport
from crm_api.kpis.compaction import compact_rollups
from crm_api.maintenance.jobs import purge_trash
from crm_api.webhooks.jobs import JOB_NAMES, sweep_webhooks
from crm_api.webhooks.service import target_policy


def functions() -> list[Any]:
    """Every job; wake-up jobs keep no result, so the same job id can be queued again at once."""
    wakeups = [func(job, name=name, keep_result=0, max_tries=1000) for name, job in JOB_NAMES.items()]
    return [purge_trash, compact_rollups, escalate_cases, send_reminders, send_digests, *wakeups]


def cron_jobs(settings: Settings) -> list[Any]:
    every = max(1, settings.webhook_sweep_seconds)
    return [
        cron(purge_trash, minute={17}, run_at_startup=False, unique=True),
        cron(compact_rollups, minute={47}, run_at_startup=False, unique=True),
        cron(escalate_cases, second={0}, run_at_startup=True, unique=True, keep_result=0),
        cron(send_reminders, second={30}, run_at_startup=True, unique=True, keep_result=0),
        cron(send_digests, minute=set(range(0, 60, 5)), second={45}, run_at_startup=True, unique=True,
             keep_result=0),
        cron(sweep_webhooks, second=set(range(0, 60, every)), run_at_startup=True, unique=True, keep_result=0),
    ]


def redis_settings(redis_url: str) -> RedisSettings:
    """arq's connection, retried with backoff for about a minute: a Redis restart does not stop the worker."""
    settings = RedisSettings.from_dsn(redis_url)
    settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError]
    settings.retry = Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=30)
    return settings


async def stop_worker(worker: Worker, task: asyncio.Task[Any]) -> None:
    """Stop a worker running in this process and wait for it.

    arq's close() cancels the jobs in flight and then gathers them, which raises their
    CancelledError here; that one is expected (the jobs release their claims as they unwind).
    """
    try:
        await worker.close()
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # we are being cancelled ourselves: pass it on
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _settled(task: asyncio.Future[Any]) -> None:
    """Wait until `task` is done, whatever it ends with; a cancellation of this wait is passed on
    to the task, and the wait goes on until the task has run its cleanup."""
    while not task.done():
        try:
            await asyncio.shield(task)
        except BaseException:  # the task's own outcome, or this wait cancelled: wait on
            task.cancel()


class CrmWorker(Worker):
    """arq's Worker, whose close() survives job tasks that end cancelled.

    On a signal arq cancels the running jobs, then its close() gathers them without
    `return_exceptions`: a job cancelled while arq records its result (`asyncio.shield` in
    run_job) ends in CancelledError, which escaped close(), skipped the rest of the shutdown and
    made `crm-api worker` exit with status 1 (seen in CI)."""

    async def close(self) -> None:
        if not self._handle_signals:  # as arq's close() does: no signal has cancelled the jobs
            for task in self.tasks.values():
                task.cancel()
        await asyncio.gather(*(_settled(task) for task in self.tasks.values()))
        self.tasks.clear()
        await super().close()  # nothing left to gather: the rest of arq's shutdown


def build_worker(settings: Settings, redis_url: str, sessionmaker: async_sessionmaker[AsyncSession],
                 *, handle_signals: bool = False) -> CrmWorker:
    """A worker sharing the caller's sessionmaker (in-process with `serve`, or standalone)."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["sessionmaker"] = sessionmaker
        ctx["settings"] = settings
        ctx["webhook_client"] = httpx.AsyncClient(transport=GuardedTransport(target_policy(settings)))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        client = ctx.get("webhook_client")
        if client is not None:
            await client.aclose()

    return CrmWorker(
        functions=functions(),
        cron_jobs=cron_jobs(settings),
        redis_settings=redis_settings(redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        handle_signals=handle_signals,
        max_jobs=20,
        job_timeout=600,
        keep_result=3600,
    )
