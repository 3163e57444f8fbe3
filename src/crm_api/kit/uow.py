"""One unit of work per request or job: one session, one transaction, events and jobs after it."""

from __future__ import annotations

import uuid
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_api.config import Settings, get_settings
from crm_api.kit.events import DISPATCH_JOB, SYSTEM, Actor, Outbox
from crm_api.kit.jobs import QueuedJob, send_jobs


class UnitOfWork:
    """A session and everything that must happen with its commit, and only then."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis | None = None,
                 request_id: str | None = None, settings: Settings | None = None) -> None:
        self.session: AsyncSession = sessionmaker()
        self.settings = settings or get_settings()
        self.arq = arq
        self.request_id = request_id
        self.tenant_id: uuid.UUID | None = None
        self.actor: Actor = SYSTEM
        self.outbox = Outbox()
        self._jobs: list[QueuedJob] = []
        self.before_commit: list[Any] = []

    async def set_tenant(self, tenant_id: uuid.UUID, actor: Actor = SYSTEM) -> None:
        """Scope the transaction to one tenant (row-level security reads app.tenant_id)."""
        await self.session.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)})
        self.bind(tenant_id, actor)

    def bind(self, tenant_id: uuid.UUID, actor: Actor) -> None:
        """Record the tenant already set on the transaction, and who acts."""
        self.tenant_id = tenant_id
        self.actor = actor

    def enqueue(self, function: str, *args: Any, job_id: str | None = None, defer_seconds: float | None = None) -> None:
        """Send a job to arq once this unit of work has committed."""
        self._jobs.append(QueuedJob(function, args, job_id, defer_seconds))

    async def commit(self) -> None:
        """Run before-commit hooks, write the outbox, commit, then send the queued jobs."""
        for hook in self.before_commit:
            await hook()
        if self.outbox.pending:
            assert self.tenant_id is not None, "events need a tenant"
            await self.outbox.flush(self.session, self.tenant_id, self.actor, self.request_id)
            # Readers of the outbox (webhook deliveries) hear of new events once they are committed.
            self.enqueue(DISPATCH_JOB, str(self.tenant_id), job_id=f"{DISPATCH_JOB}:{self.tenant_id}")
        await self.session.commit()
        jobs, self._jobs = self._jobs, []
        await send_jobs(self.arq, jobs)

    async def rollback(self) -> None:
        """Discard everything: data, events and jobs."""
        self.outbox.pending.clear()
        self._jobs.clear()
        self.before_commit.clear()
        await self.session.rollback()

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                await self.commit()
            else:
                await self.rollback()
        finally:
            await self.close()
