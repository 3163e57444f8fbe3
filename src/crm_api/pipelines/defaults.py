"""The pipeline every new tenant starts with."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kit.clock import utcnow
from crm_api.kit.ids import uuid7
from crm_api.models.pipeline import Pipeline, PipelineStage

DEFAULT_PIPELINE = "Sales pipeline"
# (name, probability, kind, rotting_days); the migration backfills existing tenants with the same.
DEFAULT_STAGES: list[tuple[str, int, str, int | None]] = [
    ("Lead in", 10, "open", 30), ("Qualified", 20, "open", 30), ("Demo", 40, "open", 30),
    ("Proposal", 60, "open", 30), ("Negotiation", 80, "open", 30), ("Won", 100, "won", None),
    ("Lost", 0, "lost", None),
]


async def create_default_pipeline(session: AsyncSession, tenant_id: uuid.UUID) -> Pipeline:
    """Add the default pipeline and its stages for a new tenant (flushed, no events: the tenant is new)."""
    now = utcnow()
    pipeline = Pipeline(tenant_id=tenant_id, id=uuid7(), name=DEFAULT_PIPELINE, is_default=True,
                        created_at=now, updated_at=now, version=1)
    session.add(pipeline)
    await session.flush()
    session.add_all([
        PipelineStage(tenant_id=tenant_id, id=uuid7(), pipeline_id=pipeline.id, name=name, position=i,
                      probability=probability, kind=kind, rotting_days=rotting, created_at=now, updated_at=now,
                      version=1, is_proposal=name == "Proposal")
        for i, (name, probability, kind, rotting) in enumerate(DEFAULT_STAGES)
    ])
    await session.flush()
    return pipeline
