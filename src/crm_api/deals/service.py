"""Deals: rules, moves between stages, stage history and the board.

A deal's status follows its stage's kind. `probability` and `stale_at` are derived by a database
trigger from the stage (see the migration), so every writer agrees and `stale=true` is an indexed
comparison; `days_in_stage`, `stale` and `weighted_amount` are computed from them when shown.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Select,
    String,
    and_,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import aliased

from crm_api.campaigns.service import CampaignService
from crm_api.companies.service import CompanyService
from crm_api.contacts.service import ContactService
from crm_api.custom_fields.service import CustomFieldService
from crm_api.deals.schemas import (
    Board,
    BoardColumn,
    BoardParams,
    DealCreate,
    DealListParams,
    DealMove,
    DealOut,
    StageHistoryParams,
    StageVisit,
)
from crm_api.kit.clock import utcnow
from crm_api.kit.concurrency import check_version
from crm_api.kit.errors import Conflict, ValidationFailed
from crm_api.kit.events import changed_fields
from crm_api.kit.filtering import (
    custom_field_params,
    eq,
    follow_up_filters,
    resolve_sort,
    timestamp_filters,
)
from crm_api.kit.ids import uuid7
from crm_api.kit.pagination import SortKey, encode_cursor, paginate
from crm_api.kit.record_service import RecordService
from crm_api.kit.record_values import in_array
from crm_api.kit.records import RecordType
from crm_api.kit.schemas import MoneyOut, money_out
from crm_api.kit.search import TermIndex
from crm_api.kit.uow import UnitOfWork
from crm_api.lost_reasons.service import LostReasonService
from crm_api.models.contact import Contact
from crm_api.models.deal import Deal, DealBoardTotal, DealStageHistory
from crm_api.models.pipeline import PipelineStage
from crm_api.pipelines.service import StageService
from crm_api.tenants.service import money_columns
from crm_api.users.service import UserService

OBJECT_TYPE = "deal"
# Sort keys: stored columns (deals_amount_idx, deals_close_idx), as NULLs cannot take part in a keyset.
AMOUNT = Deal.amount_key
CLOSE_DATE = Deal.close_key
KIND = RecordType(
    Deal, OBJECT_TYPE,
    filters={
        "pipeline_id": eq(Deal.pipeline_id), "stage_id": eq(Deal.stage_id), "status": eq(Deal.status),
        "owner_id": eq(Deal.owner_id), "company_id": eq(Deal.company_id),
        "contact_id": in_array(Deal, OBJECT_TYPE, "contact_ids"), "lost_reason_id": eq(Deal.lost_reason_id),
        "source": eq(Deal.source), "campaign_id": eq(Deal.campaign_id),
        "is_renewal": eq(Deal.is_renewal), "currency": eq(Deal.currency),
        # Ranges on the stored sort keys, so one index serves filter and sort (see the migration: under
        # row-level security a comparison of a COALESCE expression could not use its index).
        "amount_min": lambda v: and_(AMOUNT >= v, Deal.amount.is_not(None)),
        "amount_max": lambda v: and_(AMOUNT <= v, Deal.amount.is_not(None)),
        "expected_close_after": lambda v: and_(CLOSE_DATE >= v, Deal.expected_close_date.is_not(None)),
        "expected_close_before": lambda v: CLOSE_DATE < v,
        "stale": lambda v: Deal.stale_at <= func.now() if v else or_(Deal.stale_at.is_(None),
                                                                      Deal.stale_at > func.now()),
        **timestamp_filters(Deal), **follow_up_filters(Deal),
    },
    sorts={"created_at": Deal.created_at, "updated_at": Deal.updated_at,
           "title": func.lower(Deal.title, type_=String), "amount": AMOUNT, "expected_close_date": CLOSE_DATE},
    search=TermIndex(OBJECT_TYPE),
)
CLOSED_EVENTS = {"won": "deal.won", "lost": "deal.lost"}


def represent(deal: Deal, now: datetime | None = None) -> DealOut:
    """The deal as the API shows it, with the derived fields as of `now`."""
    now = now or utcnow()
    weighted = None
    if deal.amount is not None:
        weighted = money_out(Decimal(deal.amount) * deal.probability / 100, deal.currency)
    return DealOut(
        id=deal.id, created_at=deal.created_at, updated_at=deal.updated_at, version=deal.version, title=deal.title,
        amount=money_out(deal.amount, deal.currency), pipeline_id=deal.pipeline_id, stage_id=deal.stage_id,
        status=deal.status, owner_id=deal.owner_id, company_id=deal.company_id,  # type: ignore[arg-type]
        contact_ids=list(deal.contact_ids or []), expected_close_date=deal.expected_close_date, source=deal.source,
        campaign_id=deal.campaign_id, is_renewal=deal.is_renewal,
        lost_reason_id=deal.lost_reason_id, lost_note=deal.lost_note, won_at=deal.won_at, lost_at=deal.lost_at,
        stage_entered_at=deal.stage_entered_at, probability=deal.probability, weighted_amount=weighted,
        days_in_stage=max(0, (now - deal.stage_entered_at).days),
        stale=deal.stale_at is not None and deal.stale_at <= now,
        custom_fields=dict(deal.custom_fields or {}),
        last_activity_at=deal.last_activity_at, next_activity_at=deal.next_activity_at,
    )


def check_lost_fields(kind: str, lost_reason_id: uuid.UUID | None, lost_note: str | None) -> None:
    """A lost deal needs a reason or a note; a deal that is not lost has neither."""
    if kind == "lost" and lost_reason_id is None and not lost_note:
        raise ValidationFailed.field("lost_reason_id", "a lost deal needs a lost_reason_id or a lost_note")
    if kind != "lost" and (lost_reason_id is not None or lost_note):
        raise ValidationFailed.field("lost_reason_id" if lost_reason_id is not None else "lost_note",
                                     "only a lost deal has a lost reason or note")


def _sum_by_currency(values: Mapping[str, Decimal]) -> list[MoneyOut]:
    return [m for currency in sorted(values) if (m := money_out(values[currency], currency)) is not None]


class DealService(RecordService[Deal, DealOut]):
    kind = KIND
    not_null = ("title", "contact_ids")

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.session = uow.session
        self.custom_fields = CustomFieldService(uow)
        self.stages = StageService(uow)

    view = staticmethod(represent)

    async def _contact_ids(self, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        """The ids, deduplicated; 422 naming one that is no live contact of the tenant."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return []
        stmt = ContactService(self.uow).records.select().with_only_columns(Contact.id).where(Contact.id.in_(ids))
        found = set((await self.session.execute(stmt)).scalars())
        for contact_id in ids:
            if contact_id not in found:
                raise ValidationFailed.field("contact_ids", f"no contact {contact_id}")
        return ids

    async def columns(self, changes: dict[str, Any], current: Deal | None) -> dict[str, Any]:
        columns = {k: v for k, v in changes.items()
                   if k not in ("amount", "custom_fields", "contact_ids", "pipeline_id", "stage_id")}
        if "amount" in changes:
            money = await money_columns(self.uow, "amount", changes["amount"])
            columns.update(amount=money["amount_amount"], currency=money["amount_currency"])
        if "contact_ids" in changes:
            columns["contact_ids"] = await self._contact_ids(changes["contact_ids"] or [])
        if "owner_id" in changes:
            await UserService(self.uow).require("owner_id", changes["owner_id"])
        if "company_id" in changes:
            await CompanyService(self.uow).require("company_id", changes["company_id"])
        if "is_renewal" in changes:
            columns["is_renewal"] = bool(changes["is_renewal"])
        if "campaign_id" in changes:
            await CampaignService(self.uow).require("campaign_id", changes["campaign_id"])
        if changes.get("lost_reason_id") is not None:
            await LostReasonService(self.uow).require("lost_reason_id", changes["lost_reason_id"])
        columns.update(await self.custom_fields.columns_for(OBJECT_TYPE, changes, current))
        return columns

    async def _start_stage(self, pipeline_id: uuid.UUID | None, stage_id: uuid.UUID | None) -> PipelineStage:
        """The stage a new deal goes to: the one given, or the first open stage of its (default) pipeline."""
        if stage_id is not None:
            stage = await self.stages.resolve(stage_id)
            if pipeline_id is not None and stage.pipeline_id != pipeline_id:
                raise ValidationFailed.field("stage_id", f"is not a stage of pipeline {pipeline_id}")
            return stage
        if pipeline_id is not None:
            return await self.stages.first_open(pipeline_id)
        return await self.stages.default_first_open()

    async def create(self, body: DealCreate) -> DealOut:  # type: ignore[override]
        changes = body.model_dump(exclude_unset=True)
        stage = await self._start_stage(changes.get("pipeline_id"), changes.get("stage_id"))
        columns = await self.columns(changes, None)
        check_lost_fields(stage.kind, columns.get("lost_reason_id"), columns.get("lost_note"))
        now = utcnow()
        deal = Deal(**columns, pipeline_id=stage.pipeline_id, stage_id=stage.id, status=stage.kind,
                    stage_entered_at=now, won_at=now if stage.kind == "won" else None,
                    lost_at=now if stage.kind == "lost" else None, created_at=now, updated_at=now)
        out = await self.records.create(deal, self.represent)
        await self._record_stage([deal], now, close_previous=False)
        return out

    async def update(self, record_id: uuid.UUID, body: Any, expected: int | None) -> DealOut:
        deal = await self.records.get(record_id, for_update=True)
        changes = body.model_dump(exclude_unset=True)
        self._check_not_null(changes)
        columns = await self.columns(changes, deal)
        if "lost_reason_id" in changes or "lost_note" in changes:
            check_lost_fields(deal.status, columns.get("lost_reason_id", deal.lost_reason_id),
                              columns.get("lost_note", deal.lost_note))
        return await self.records.update(deal, columns, expected, self.represent)

    async def restore(self, record_id: uuid.UUID) -> DealOut:
        out = await self.records.restore(record_id, self.represent)
        try:
            await self.stages.resolve(out.stage_id)
        except ValidationFailed:
            raise Conflict("The deal's pipeline is in the trash: restore the pipeline first") from None
        return out

    async def list_conditions(self, params: DealListParams,
                              query: Mapping[str, str]) -> tuple[list[Any], SortKey | None]:
        conditions = await self.custom_fields.filter_conditions(OBJECT_TYPE, Deal,
                                                                custom_field_params(query))
        return conditions, None

    async def _record_stage(self, deals: Sequence[Deal], now: datetime, *, close_previous: bool = True) -> None:
        """Close the deals' current stay in the stage history and open one in their stage now."""
        actor = self.uow.actor.as_dict()
        tenant_id = self.records.tenant_id
        if close_previous:
            await self.session.execute(
                update(DealStageHistory)
                .where(DealStageHistory.tenant_id == tenant_id,
                       DealStageHistory.deal_id == any_(bindparam("ids", [d.id for d in deals],
                                                                  type_=ARRAY(UUID(as_uuid=True)))),
                       DealStageHistory.left_at.is_(None))
                .values(left_at=now, left_by=actor).execution_options(synchronize_session=False))
        await self.session.execute(insert(DealStageHistory), [
            {"tenant_id": tenant_id, "id": uuid7(), "deal_id": d.id, "pipeline_id": d.pipeline_id,
             "stage_id": d.stage_id, "status": d.status, "entered_at": now, "entered_by": actor}
            for d in deals])

    async def move(self, record_id: uuid.UUID, body: DealMove, expected: int | None) -> DealOut:
        """Move a deal to another stage (of any pipeline); closing and reopening follow the stage's kind."""
        deal = await self.records.get(record_id, for_update=True)
        check_version(expected, deal.version)
        stage = await self.stages.resolve(body.stage_id)
        if body.lost_reason_id is not None:
            await LostReasonService(self.uow).require("lost_reason_id", body.lost_reason_id)
        check_lost_fields(stage.kind, body.lost_reason_id, body.lost_note)
        if stage.id == deal.stage_id:
            return self.represent(deal)
        before = self.represent(deal).model_dump(mode="json")
        was = deal.status
        now = utcnow()
        deal.pipeline_id, deal.stage_id, deal.status = stage.pipeline_id, stage.id, stage.kind
        deal.stage_entered_at = now
        deal.won_at = (deal.won_at if was == "won" else now) if stage.kind == "won" else None
        deal.lost_at = (deal.lost_at if was == "lost" else now) if stage.kind == "lost" else None
        deal.lost_reason_id = body.lost_reason_id if stage.kind == "lost" else None
        deal.lost_note = body.lost_note if stage.kind == "lost" else None
        deal.version += 1
        deal.updated_at = now
        await self.session.flush()
        await self._record_stage([deal], now)
        out = self.represent(deal)
        data = out.model_dump(mode="json")
        previous = changed_fields(before, data)
        self.uow.outbox.add("deal.stage_changed", OBJECT_TYPE, deal.id, data, previous)
        if stage.kind != was:
            closed = CLOSED_EVENTS.get(stage.kind, "deal.reopened")
            self.uow.outbox.add(closed, OBJECT_TYPE, deal.id, data, previous)
        return out

    async def move_all(self, stage: PipelineStage, target: PipelineStage) -> int:
        """Move every deal of `stage` to `target` (same kind), in bulk; one deal.stage_changed per live deal."""
        tenant_id = self.records.tenant_id
        live = list((await self.session.execute(
            self.records.select().where(Deal.stage_id == stage.id).with_for_update())).scalars())
        before = {d.id: self.represent(d).model_dump(mode="json") for d in live}
        now = utcnow()
        moved = {"stage_id": target.id, "pipeline_id": target.pipeline_id, "stage_entered_at": now}
        in_stage = and_(Deal.tenant_id == tenant_id, Deal.stage_id == stage.id)
        await self.session.execute(update(Deal).where(in_stage, Deal.deleted_at.is_(None))
                                   .values(**moved, updated_at=now, version=Deal.version + 1)
                                   .execution_options(synchronize_session=False))
        # Trashed deals move too (silently), so a restored one finds a live stage.
        await self.session.execute(update(Deal).where(in_stage, Deal.deleted_at.is_not(None)).values(**moved)
                                   .execution_options(synchronize_session=False))
        visits = (await self.session.execute(
            update(DealStageHistory)
            .where(DealStageHistory.tenant_id == tenant_id, DealStageHistory.stage_id == stage.id,
                   DealStageHistory.left_at.is_(None))
            .values(left_at=now, left_by=self.uow.actor.as_dict())
            .returning(DealStageHistory.deal_id, DealStageHistory.status)
            .execution_options(synchronize_session=False))).all()
        if visits:
            actor = self.uow.actor.as_dict()
            await self.session.execute(insert(DealStageHistory), [
                {"tenant_id": tenant_id, "id": uuid7(), "deal_id": v.deal_id, "pipeline_id": target.pipeline_id,
                 "stage_id": target.id, "status": v.status, "entered_at": now, "entered_by": actor}
                for v in visits])
        if live:
            ids = bindparam("ids", [d.id for d in live], type_=ARRAY(UUID(as_uuid=True)))
            refreshed = (await self.session.execute(
                select(Deal).where(Deal.tenant_id == tenant_id, Deal.id == any_(ids))
                .execution_options(populate_existing=True))).scalars()
            for deal in refreshed:
                data = self.represent(deal).model_dump(mode="json")
                self.uow.outbox.add("deal.stage_changed", OBJECT_TYPE, deal.id, data,
                                    changed_fields(before[deal.id], data))
        return len(live)

    async def stage_history(self, record_id: uuid.UUID,
                            params: StageHistoryParams) -> tuple[list[StageVisit], str | None]:
        """Every stage the deal was in, oldest first."""
        await self.records.get(record_id)
        stmt = select(DealStageHistory).where(DealStageHistory.tenant_id == self.records.tenant_id,
                                              DealStageHistory.deal_id == record_id)
        sort = SortKey("entered_at", ((DealStageHistory.entered_at, False),))
        rows, cursor = await paginate(self.session, stmt, sort, DealStageHistory.id, params.limit, params.cursor)
        names = await self.stages.names([r.stage_id for r in rows])
        return [StageVisit(id=r.id, pipeline_id=r.pipeline_id, stage_id=r.stage_id,
                           stage_name=names.get(r.stage_id, ""),
                           status=r.status, entered_at=r.entered_at, left_at=r.left_at,  # type: ignore[arg-type]
                           entered_by=r.entered_by, left_by=r.left_by) for r in rows], cursor  # type: ignore[arg-type]

    def _board_totals(self, pipeline_id: uuid.UUID, owner_id: uuid.UUID | None) -> Select[Any]:
        """Count, sum and weighted sum per (stage, currency): from the rollup the deals triggers keep
        (`deal_board_totals`, summed over its shards), or for one owner from `deals_owner_board_idx`."""
        tenant_id = self.records.tenant_id
        if owner_id is None:
            t = DealBoardTotal
            return (select(t.stage_id, t.currency, func.sum(t.count).label("count"),
                           func.sum(t.amount_sum).label("sum"), func.sum(t.weighted_sum).label("weighted"))
                    .where(t.tenant_id == tenant_id, t.pipeline_id == pipeline_id)
                    .group_by(t.stage_id, t.currency).having(func.sum(t.count) > 0))
        return (select(Deal.stage_id, Deal.currency, func.count().label("count"), func.sum(Deal.amount).label("sum"),
                       func.sum(Deal.amount * Deal.probability / 100).label("weighted"))
                .where(Deal.tenant_id == tenant_id, Deal.deleted_at.is_(None), Deal.owner_id == owner_id,
                       Deal.pipeline_id == pipeline_id)
                .group_by(Deal.stage_id, Deal.currency))

    async def board(self, pipeline_id: uuid.UUID, params: BoardParams) -> Board:
        """Per stage: count, sums and weighted sums per currency (from the rollup), and the first page of
        deals (one LATERAL query over the stages), so a kanban is drawn from one request."""
        pipeline_service = self.stages.pipelines
        pipeline = pipeline_service.represent(await pipeline_service.locked(pipeline_id, for_update=False))
        tenant_id = self.records.tenant_id
        live = [Deal.tenant_id == tenant_id, Deal.deleted_at.is_(None)]
        if params.owner_id is not None:
            live.append(Deal.owner_id == params.owner_id)

        counts: dict[uuid.UUID, int] = {}
        sums: dict[uuid.UUID, dict[str, Decimal]] = {}
        weighted: dict[uuid.UUID, dict[str, Decimal]] = {}
        for row in await self.session.execute(self._board_totals(pipeline.id, params.owner_id)):
            counts[row.stage_id] = counts.get(row.stage_id, 0) + row.count
            if row.currency:
                sums.setdefault(row.stage_id, {})[row.currency] = row.sum
                weighted.setdefault(row.stage_id, {})[row.currency] = row.weighted

        sort = resolve_sort(params.sort, KIND.sorts, KIND.default_sort)
        last_desc = sort.columns[-1][1]
        columns = [*sort.columns, (Deal.id, last_desc)]
        stages = (select(PipelineStage.id.label("stage_id"))
                  .where(PipelineStage.tenant_id == tenant_id, PipelineStage.pipeline_id == pipeline.id,
                         PipelineStage.deleted_at.is_(None)).subquery("s"))
        first_pages = (select(Deal, *[c.label(f"_k{i}") for i, (c, _) in enumerate(columns)])
                       .where(*live, Deal.stage_id == stages.c.stage_id)
                       .order_by(*[c.desc() if desc else c.asc() for c, desc in columns])
                       .limit(params.limit + 1).lateral("d"))
        deal = aliased(Deal, first_pages)
        keys = [first_pages.c[f"_k{i}"] for i in range(len(columns))]
        ordered = [k.desc() if desc else k.asc() for k, (_, desc) in zip(keys, columns, strict=True)]
        rows = (await self.session.execute(
            select(deal, *keys).select_from(stages).join(first_pages, true()).order_by(stages.c.stage_id, *ordered)
        )).all()
        pages: dict[uuid.UUID, list[Any]] = {}
        for row in rows:
            pages.setdefault(row[0].stage_id, []).append(row)

        now = utcnow()
        board = []
        for stage in pipeline.stages:
            page = pages.get(stage.id, [])
            next_cursor = None
            if len(page) > params.limit:
                page = page[:params.limit]
                next_cursor = encode_cursor(sort.name, list(page[-1][1:]))
            board.append(BoardColumn(stage=stage, count=counts.get(stage.id, 0),
                                     sum=_sum_by_currency(sums.get(stage.id, {})),
                                     weighted_sum=_sum_by_currency(weighted.get(stage.id, {})),
                                     deals=[represent(r[0], now) for r in page], next_cursor=next_cursor))
        return Board(pipeline=pipeline, stages=board)
