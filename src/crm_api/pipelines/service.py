"""Pipelines and stages: rules and queries.

A pipeline is shown with its stages. Stage positions are dense (0..n-1) and every change to them
runs under a lock on the pipeline row, so concurrent inserts, deletes and reorders serialise.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import String, exists, func, select, update

from crm_api.kit.clock import utcnow
from crm_api.kit.concurrency import check_version
from crm_api.kit.errors import Conflict, DuplicateRecord, NotFound, ValidationFailed
from crm_api.kit.events import changed_fields
from crm_api.kit.filtering import eq, timestamp_filters
from crm_api.kit.ids import uuid7
from crm_api.kit.record_service import RecordService
from crm_api.kit.records import Records, RecordType
from crm_api.kit.uow import UnitOfWork
from crm_api.models.deal import Deal
from crm_api.models.pipeline import Pipeline, PipelineStage
from crm_api.pipelines.schemas import (
    MAX_STAGES,
    PipelineCreate,
    PipelineListParams,
    PipelineOut,
    StageCreate,
    StageList,
    StageOut,
    StageReorder,
)

KIND = RecordType(
    Pipeline, "pipeline",
    filters={"is_default": eq(Pipeline.is_default), **timestamp_filters(Pipeline)},
    sorts={"created_at": Pipeline.created_at, "updated_at": Pipeline.updated_at,
           "name": func.lower(Pipeline.name, type_=String)},
)
STAGE_KIND = RecordType(PipelineStage, "pipeline_stage")


def stage_out(stage: PipelineStage) -> StageOut:
    return StageOut.model_validate(stage, from_attributes=True)


def default_probability(kind: str) -> int:
    return 100 if kind == "won" else 0


class PipelineService(RecordService[Pipeline, PipelineOut]):
    kind = KIND
    not_null = ("name", "is_default")

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        # Stages of the pipelines this service shows, loaded in one query per page or record.
        self._stages: dict[uuid.UUID, list[PipelineStage]] = {}

    def represent(self, pipeline: Pipeline) -> PipelineOut:
        stages = sorted(self._stages.get(pipeline.id, []), key=lambda s: (s.position, s.id))
        return PipelineOut(id=pipeline.id, created_at=pipeline.created_at, updated_at=pipeline.updated_at,
                           version=pipeline.version, name=pipeline.name, is_default=pipeline.is_default,
                           stages=[stage_out(s) for s in stages])

    async def load_stages(self, pipeline_ids: Sequence[uuid.UUID]) -> None:
        """Load the live stages of these pipelines (one query)."""
        if not pipeline_ids:
            return
        stmt = (select(PipelineStage)
                .where(PipelineStage.tenant_id == self.records.tenant_id,
                       PipelineStage.pipeline_id.in_(list(pipeline_ids)), PipelineStage.deleted_at.is_(None))
                .order_by(PipelineStage.pipeline_id, PipelineStage.position, PipelineStage.id))
        for pipeline_id in pipeline_ids:
            self._stages[pipeline_id] = []
        for stage in (await self.uow.session.execute(stmt)).scalars():
            self._stages[stage.pipeline_id].append(stage)

    async def conflict(self, constraint: str, pipeline: Any) -> Exception | None:
        if constraint != "pipelines_name_key":
            return None
        existing = (await self.uow.session.execute(
            select(Pipeline.id).where(Pipeline.tenant_id == self.records.tenant_id, Pipeline.deleted_at.is_(None),
                                      func.lower(Pipeline.name) == pipeline.name.lower())
        )).scalar_one_or_none()
        return DuplicateRecord(f"A pipeline named {pipeline.name!r} exists", existing_id=existing)

    async def list(self, params: PipelineListParams, query: Mapping[str, str]) -> tuple[list[PipelineOut], str | None]:
        rows, cursor = await self.records.list(params)
        await self.load_stages([r.id for r in rows])
        return [self.represent(r) for r in rows], cursor

    async def get(self, record_id: uuid.UUID) -> PipelineOut:
        return self.represent(await self.locked(record_id, for_update=False))

    async def locked(self, pipeline_id: uuid.UUID, *, for_update: bool = True) -> Pipeline:
        """A live pipeline with its stages loaded; locked, so its stages can be changed safely."""
        pipeline = await self.records.get(pipeline_id, for_update=for_update)
        await self.load_stages([pipeline.id])
        return pipeline

    async def default(self) -> Pipeline | None:
        """The tenant's default pipeline, if it has one."""
        stmt = self.records.select().where(Pipeline.is_default.is_(True))
        return (await self.uow.session.execute(stmt)).scalar_one_or_none()

    async def _demote_default(self, keep: uuid.UUID | None) -> None:
        """The current default pipeline (other than `keep`) is one no longer: an update with its event."""
        current = await self.default()
        if current is not None and current.id != keep:
            await self.load_stages([current.id])
            await self.records.update(current, {"is_default": False}, None, self.represent)

    async def create(self, body: PipelineCreate) -> PipelineOut:  # type: ignore[override]
        now = utcnow()
        if body.is_default:
            await self._demote_default(None)
        pipeline = Pipeline(id=uuid7(), tenant_id=self.records.tenant_id, name=body.name,
                            is_default=body.is_default, created_at=now, updated_at=now, version=1)
        async with self.records.changing(pipeline):
            self.uow.session.add(pipeline)
        stages = [PipelineStage(tenant_id=self.records.tenant_id, id=uuid7(), pipeline_id=pipeline.id, name=s.name,
                                position=i, kind=s.kind,
                                probability=s.probability if s.probability is not None else default_probability(s.kind),
                                rotting_days=s.rotting_days, is_proposal=s.is_proposal, created_at=now, updated_at=now,
                                version=1)
                  for i, s in enumerate(body.stages)]
        self.uow.session.add_all(stages)
        await self.uow.session.flush()
        self._stages[pipeline.id] = stages
        out = self.represent(pipeline)
        self.uow.outbox.add("pipeline.created", "pipeline", pipeline.id, out.model_dump(mode="json"))
        return out

    async def update(self, record_id: uuid.UUID, body: Any, expected: int | None) -> PipelineOut:
        pipeline = await self.locked(record_id)
        changes = body.model_dump(exclude_unset=True)
        self._check_not_null(changes)
        check_version(expected, pipeline.version)
        if changes.get("is_default"):
            await self._demote_default(pipeline.id)
        return await self.records.update(pipeline, changes, expected, self.represent)

    async def delete(self, record_id: uuid.UUID, expected: int | None) -> None:
        pipeline = await self.locked(record_id)
        check_version(expected, pipeline.version)
        holds_deals = exists().where(Deal.tenant_id == self.records.tenant_id, Deal.pipeline_id == pipeline.id,
                                     Deal.deleted_at.is_(None))
        if (await self.uow.session.execute(select(holds_deals))).scalar():
            raise Conflict("The pipeline holds deals: move them to another pipeline or delete them first")
        # A trashed pipeline is nobody's default (and a restored one does not take the place back).
        pipeline.is_default = False
        await self.records.trash(pipeline, expected, self.represent)

    async def restore(self, record_id: uuid.UUID) -> PipelineOut:
        await self.load_stages([record_id])
        return await self.records.restore(record_id, self.represent)


class StageService:
    """The stages of one tenant's pipelines."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.records: Records[PipelineStage] = Records(uow, STAGE_KIND)
        self.pipelines = PipelineService(uow)

    async def _stage(self, pipeline_id: uuid.UUID, stage_id: uuid.UUID) -> PipelineStage:
        stage = await self.records.find(stage_id, for_update=True)
        if stage is None or stage.pipeline_id != pipeline_id:
            raise NotFound(f"No stage {stage_id} in pipeline {pipeline_id}")
        return stage

    async def list(self, pipeline_id: uuid.UUID) -> StageList:
        await self.pipelines.locked(pipeline_id, for_update=False)
        return StageList(data=[stage_out(s) for s in self.pipelines._stages[pipeline_id]])

    async def get(self, pipeline_id: uuid.UUID, stage_id: uuid.UUID) -> StageOut:
        await self.pipelines.records.get(pipeline_id)
        stage = await self.records.find(stage_id)
        if stage is None or stage.pipeline_id != pipeline_id:
            raise NotFound(f"No stage {stage_id} in pipeline {pipeline_id}")
        return stage_out(stage)

    async def create(self, pipeline_id: uuid.UUID, body: StageCreate) -> StageOut:
        pipeline = await self.pipelines.locked(pipeline_id)
        stages = self.pipelines._stages[pipeline.id]
        if len(stages) >= MAX_STAGES:
            raise ValidationFailed.field("pipeline_id", f"a pipeline has at most {MAX_STAGES} stages")
        position = len(stages) if body.position is None else min(body.position, len(stages))
        if position < len(stages):
            await self.session.execute(
                update(PipelineStage)
                .where(PipelineStage.tenant_id == pipeline.tenant_id, PipelineStage.pipeline_id == pipeline.id,
                       PipelineStage.deleted_at.is_(None), PipelineStage.position >= position)
                .values(position=PipelineStage.position + 1))
        now = utcnow()
        stage = PipelineStage(id=uuid7(), pipeline_id=pipeline.id, name=body.name, position=position, kind=body.kind,
                              probability=body.probability if body.probability is not None
                              else default_probability(body.kind),
                              rotting_days=body.rotting_days, is_proposal=body.is_proposal, created_at=now,
                              updated_at=now, version=1)
        return await self.records.create(stage, stage_out)

    async def update(self, pipeline_id: uuid.UUID, stage_id: uuid.UUID, body: Any, expected: int | None) -> StageOut:
        await self.pipelines.locked(pipeline_id)
        stage = await self._stage(pipeline_id, stage_id)
        changes = body.model_dump(exclude_unset=True)
        for name in ("name", "kind", "probability", "is_proposal"):
            if name in changes and changes[name] is None:
                raise ValidationFailed.field(name, "cannot be null")
        check_version(expected, stage.version)
        if "kind" in changes and changes["kind"] != stage.kind and await self.holds_deals(stage.id):
            raise Conflict("The stage holds deals, whose status follows its kind: move them out first")
        # Probability and rotting_days flow to the stage's deals through a trigger (their derived fields).
        return await self.records.update(stage, changes, expected, stage_out)

    async def holds_deals(self, stage_id: uuid.UUID, *, include_trashed: bool = False) -> bool:
        condition = exists().where(Deal.tenant_id == self.records.tenant_id, Deal.stage_id == stage_id)
        if not include_trashed:
            condition = condition.where(Deal.deleted_at.is_(None))
        return bool((await self.session.execute(select(condition))).scalar())

    async def for_deletion(self, pipeline_id: uuid.UUID, stage_id: uuid.UUID, expected: int | None,
                           move_deals_to: uuid.UUID | None) -> tuple[PipelineStage, PipelineStage | None]:
        """The stage to delete (locked, version checked) and the stage its deals move to, if any."""
        await self.pipelines.locked(pipeline_id)
        stage = await self._stage(pipeline_id, stage_id)
        check_version(expected, stage.version)
        if move_deals_to is None:
            return stage, None
        target = await self.resolve(move_deals_to, "move_deals_to")
        if target.id == stage.id:
            raise ValidationFailed.field("move_deals_to", "must be another stage than the one deleted")
        if target.kind != stage.kind:
            raise ValidationFailed.field("move_deals_to", f"must be a stage of kind {stage.kind}, as the deals "
                                                          "keep their status")
        return stage, target

    async def delete(self, stage: PipelineStage, expected: int | None) -> None:
        """Trash a stage that no longer holds deals; the stages after it move up."""
        if await self.holds_deals(stage.id, include_trashed=True):
            raise Conflict("The stage holds deals: give `move_deals_to`, a stage for them")
        await self.records.trash(stage, expected, stage_out)
        await self.session.execute(
            update(PipelineStage)
            .where(PipelineStage.tenant_id == stage.tenant_id, PipelineStage.pipeline_id == stage.pipeline_id,
                   PipelineStage.deleted_at.is_(None), PipelineStage.position > stage.position)
            .values(position=PipelineStage.position - 1))

    async def reorder(self, pipeline_id: uuid.UUID, body: StageReorder) -> StageList:
        pipeline = await self.pipelines.locked(pipeline_id)
        stages = self.pipelines._stages[pipeline.id]
        by_id = {s.id: s for s in stages}
        if len(body.stage_ids) != len(set(body.stage_ids)) or set(body.stage_ids) != set(by_id):
            raise ValidationFailed.field("stage_ids", "must list every stage of the pipeline exactly once")
        before = self.pipelines.represent(pipeline).model_dump(mode="json")
        now = utcnow()
        for position, stage_id in enumerate(body.stage_ids):
            stage = by_id[stage_id]
            if stage.position != position:
                stage.position = position
                stage.version += 1
                stage.updated_at = now
        await self.session.flush()
        self.pipelines._stages[pipeline.id] = [by_id[i] for i in body.stage_ids]
        after = self.pipelines.represent(pipeline)
        previous = changed_fields(before, after.model_dump(mode="json"))
        if previous:
            self.uow.outbox.add("pipeline.stages_reordered", "pipeline", pipeline.id, after.model_dump(mode="json"),
                                {"stage_ids": [s["id"] for s in before["stages"]]})
        return StageList(data=after.stages)

    async def resolve(self, stage_id: uuid.UUID, field: str = "stage_id") -> PipelineStage:
        """A live stage of a live pipeline, or 422 on `field`."""
        stmt = (self.records.select().where(PipelineStage.id == stage_id)
                .where(exists().where(Pipeline.tenant_id == PipelineStage.tenant_id,
                                      Pipeline.id == PipelineStage.pipeline_id, Pipeline.deleted_at.is_(None))))
        stage = (await self.session.execute(stmt)).scalar_one_or_none()
        if stage is None:
            raise ValidationFailed.field(field, f"no stage {stage_id}")
        return stage

    async def first_open(self, pipeline_id: uuid.UUID, field: str = "pipeline_id") -> PipelineStage:
        """The first open stage of a live pipeline: where new deals start."""
        if not await self.pipelines.records.exists(pipeline_id):
            raise ValidationFailed.field(field, f"no pipeline {pipeline_id}")
        stmt = (self.records.select()
                .where(PipelineStage.pipeline_id == pipeline_id, PipelineStage.kind == "open")
                .order_by(PipelineStage.position, PipelineStage.id).limit(1))
        stage = (await self.session.execute(stmt)).scalar_one_or_none()
        if stage is None:
            raise ValidationFailed.field(field, "the pipeline has no open stage")
        return stage

    async def default_first_open(self) -> PipelineStage:
        """Where a deal given no pipeline starts: the default pipeline's first open stage."""
        pipeline = await self.pipelines.default()
        if pipeline is None:
            raise ValidationFailed.field("pipeline_id", "is required: the tenant has no default pipeline")
        return await self.first_open(pipeline.id)

    async def names(self, stage_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Stage names by id (deleted stages included: history still names them)."""
        if not stage_ids:
            return {}
        stmt = select(PipelineStage.id, PipelineStage.name).where(
            PipelineStage.tenant_id == self.records.tenant_id, PipelineStage.id.in_(list(set(stage_ids))))
        return {row.id: row.name for row in await self.session.execute(stmt)}
