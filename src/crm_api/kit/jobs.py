"""Jobs queued during a unit of work are sent to arq only after it commits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis

log = logging.getLogger(__name__)


@dataclass
class QueuedJob:
    function: str
    args: tuple[Any, ...]
    job_id: str | None = None
    defer_seconds: float | None = None


async def send_jobs(pool: ArqRedis | None, jobs: list[QueuedJob]) -> None:
    """Enqueue committed jobs; a failure here is repaired by the domain's sweeper, never raised."""
    if pool is None:
        return
    for job in jobs:
        try:
            await pool.enqueue_job(job.function, *job.args, _job_id=job.job_id, _defer_by=job.defer_seconds)
        except Exception:  # PostgreSQL holds the truth; sweepers re-send what was not enqueued
            log.warning("could not enqueue %s; the sweeper will retry", job.function, exc_info=True)
