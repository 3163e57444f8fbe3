"""arq worker: gathers every domain's jobs and cron jobs."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_api.config import Settings
from crm_api.maintenance.jobs import purge_trash

FUNCTIONS: list[Any] = [purge_trash]
CRON_JOBS = [cron(purge_trash, minute={17}, run_at_startup=False, unique=True)]


def build_worker(settings: Settings, redis_url: str, sessionmaker: async_sessionmaker[AsyncSession],
                 *, handle_signals: bool = False) -> Worker:
    """A worker sharing the caller's sessionmaker (in-process with `serve`, or standalone)."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["sessionmaker"] = sessionmaker
        ctx["settings"] = settings

    return Worker(
        functions=FUNCTIONS,
        cron_jobs=CRON_JOBS,
        redis_settings=RedisSettings.from_dsn(redis_url),
        on_startup=on_startup,
        handle_signals=handle_signals,
        max_jobs=10,
        job_timeout=300,
    )


