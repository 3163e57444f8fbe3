"""Cases, their messages and satisfaction, and SLA policies."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import false, or_, select, text

from crm_api.cases import sla
from crm_api.cases.schemas import CaseListParams, CaseOut, MessageCreate, MessageOut, SatisfactionCreate, SlaPolicyOut
from crm_api.companies.service import CompanyService
from crm_api.contacts.service import ContactService
from crm_api.custom_fields.service import CustomFieldService
from crm_api.deals.service import DealService
from crm_api.kit.clock import utcnow
from crm_api.kit.errors import Conflict
from crm_api.kit.filtering import custom_field_params, eq, ieq, lt, resolve_sort, timestamp_filters
from crm_api.kit.ids import uuid7
from crm_api.kit.pagination import SortKey, paginate
from crm_api.kit.record_service import RecordService
from crm_api.kit.record_values import array_value_list_filter
from crm_api.kit.records import RecordType
from crm_api.kit.search import TermIndex
from crm_api.kit.term_match import every_word_condition
from crm_api.kit.uow import UnitOfWork
from crm_api.models.case import Case, CaseMessage, SlaPolicy
from crm_api.models.company import Company
from crm_api.users.service import UserService

OBJECT_TYPE = "case"
# The subjects' words (migration 20261126_0502); cases list in their own order, so no ranked page.
SUBJECT_WORDS = TermIndex(OBJECT_TYPE)
_NUMBER = re.compile(r"^(?:case-)?(\d{1,15})$", re.IGNORECASE)
# Changing these may change which policy applies, and so the due times.
SLA_INPUTS = ("priority", "type", "channel", "company_id")


def _breached(flag_column: Any, due_column: Any, done_column: Any) -> Any:
    return or_(flag_column.is_not(None), done_column.is_(None) & (due_column < utcnow()))


def breached_condition(value: bool) -> Any:
    condition = or_(_breached(Case.first_response_breached_at, Case.first_response_due_at, Case.first_response_at),
                    _breached(Case.resolution_breached_at, Case.resolution_due_at, Case.resolved_at))
    return condition if value else ~condition


CASES = RecordType(
    Case, OBJECT_TYPE,
    filters={
        "status": eq(Case.status), "priority": eq(Case.priority), "assignee_id": eq(Case.assignee_id),
        "contact_id": eq(Case.contact_id), "company_id": eq(Case.company_id), "deal_id": eq(Case.deal_id),
        "channel": eq(Case.channel), "type": eq(Case.type), "team": ieq(Case.team),
        "breached": breached_condition, "due_before": lt(Case.resolution_due_at), **timestamp_filters(Case),
    },
    sorts={"created_at": Case.created_at, "updated_at": Case.updated_at, "number": Case.number,
           "resolution_due_at": Case.resolution_due_at},
)
POLICIES = RecordType(
    SlaPolicy, "sla_policy",
    filters={"enabled": eq(SlaPolicy.enabled), **timestamp_filters(SlaPolicy)},
    sorts={"position": SlaPolicy.position, "created_at": SlaPolicy.created_at},
    default_sort="position",
)


def represent_case(case: Case) -> CaseOut:
    now = utcnow()
    satisfaction = None if case.satisfaction_score is None else {
        "score": case.satisfaction_score, "comment": case.satisfaction_comment,
        "recorded_at": case.satisfaction_at}
    return CaseOut(
        id=case.id, created_at=case.created_at, updated_at=case.updated_at, version=case.version,
        number=f"CASE-{case.number}", subject=case.subject, description=case.description, channel=case.channel,
        type=case.type, priority=case.priority, status=case.status, contact_id=case.contact_id,
        company_id=case.company_id, deal_id=case.deal_id, assignee_id=case.assignee_id, team=case.team,
        tags=list(case.tags or []), custom_fields=dict(case.custom_fields or {}),
        first_response_at=case.first_response_at, resolved_at=case.resolved_at, closed_at=case.closed_at,
        reopened_count=case.reopened_count, sla_policy_id=case.sla_policy_id,
        first_response_due_at=case.first_response_due_at, resolution_due_at=case.resolution_due_at,
        sla_paused=case.sla_paused_at is not None,
        first_response_breached=case.first_response_breached_at is not None or (
            case.first_response_due_at is not None and case.first_response_at is None
            and case.sla_paused_at is None and case.first_response_due_at < now),
        resolution_breached=case.resolution_breached_at is not None or (
            case.resolution_due_at is not None and case.resolved_at is None
            and case.sla_paused_at is None and case.resolution_due_at < now),
        satisfaction=satisfaction,
    )


async def policy_of(uow: UnitOfWork, case: Case) -> SlaPolicy | None:
    """The policy a case is scheduled by (even if it was deleted since)."""
    if case.sla_policy_id is None:
        return None
    stmt = select(SlaPolicy).where(SlaPolicy.tenant_id == case.tenant_id, SlaPolicy.id == case.sla_policy_id)
    return (await uow.session.execute(stmt)).scalar_one_or_none()


def represent_policy(policy: SlaPolicy) -> SlaPolicyOut:
    return SlaPolicyOut.model_validate(policy, from_attributes=True)


def represent_message(message: CaseMessage) -> MessageOut:
    return MessageOut.model_validate(message, from_attributes=True)


class SlaPolicyService(RecordService[SlaPolicy, SlaPolicyOut]):
    kind = POLICIES
    not_null = ("name", "position", "enabled", "targets", "applies_to", "escalation", "warning_threshold")

    view = staticmethod(represent_policy)

    async def columns(self, changes: dict[str, Any], current: SlaPolicy | None) -> dict[str, Any]:
        reassign_to = (changes.get("escalation") or {}).get("reassign_to")
        if reassign_to:
            await UserService(self.uow).require("escalation.reassign_to", uuid.UUID(reassign_to))
        return changes

    async def create(self, body: Any) -> SlaPolicyOut:
        return await super().create(_full_dump(body))

    async def update(self, record_id: uuid.UUID, body: Any, expected: int | None) -> SlaPolicyOut:
        return await super().update(record_id, _full_dump(body, exclude_unset=True), expected)

    async def ordered(self) -> list[SlaPolicy]:
        """Live policies in the order they are tried."""
        stmt = self.records.select().order_by(SlaPolicy.position, SlaPolicy.created_at, SlaPolicy.id)
        return list((await self.uow.session.execute(stmt)).scalars())


class _Dumped:
    """Hands RecordService a body whose nested models are already plain JSON values."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def model_dump(self, **_: Any) -> dict[str, Any]:
        return dict(self.values)


def _full_dump(body: Any, exclude_unset: bool = False) -> Any:
    return _Dumped(body.model_dump(mode="json", exclude_unset=exclude_unset))


class CaseService(RecordService[Case, CaseOut]):
    kind = CASES
    not_null = ("subject", "channel", "type", "priority", "status")

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.custom_fields = CustomFieldService(uow)

    view = staticmethod(represent_case)

    async def _policy(self, case: Case) -> SlaPolicy | None:
        relationship = None
        if case.company_id is not None:
            relationship = (await self.uow.session.execute(select(Company.relationship).where(
                Company.tenant_id == self.uow.tenant_id, Company.id == case.company_id))).scalar_one_or_none()
        return sla.choose(await SlaPolicyService(self.uow).ordered(), case, relationship)

    async def _current_policy(self, case: Case) -> SlaPolicy | None:
        return await policy_of(self.uow, case)

    async def columns(self, changes: dict[str, Any], current: Case | None) -> dict[str, Any]:
        columns = dict(changes)
        if "tags" in changes:
            columns["tags"] = changes["tags"] or []
        references = (("contact_id", ContactService), ("company_id", CompanyService), ("assignee_id", UserService))
        for field, service in references:
            if changes.get(field) is not None:
                await service(self.uow).require(field, changes[field])
        if changes.get("deal_id") is not None:
            await DealService(self.uow).require("deal_id", changes["deal_id"])
        columns.update(await self.custom_fields.columns_for(OBJECT_TYPE, changes, current))
        return columns

    async def list_conditions(self, params: CaseListParams,
                              query: Mapping[str, str]) -> tuple[list[Any], SortKey | None]:
        conditions = await self.custom_fields.filter_conditions(OBJECT_TYPE, Case,
                                                                custom_field_params(query))
        if params.q:
            conditions.append(await self._matching(params.q))
        # `?tag=` newest first from the tag's own index (kit/record_values.py); not in CASES.filters.
        tag, sort = array_value_list_filter(CASES, "tags", params.tag, params)
        return conditions + tag, sort

    async def _matching(self, q: str) -> Any:
        """`q`: cases whose subject has every word of it (as typed, a word it begins, or one typo away, from
        the search-term index), or whose number it is (CASE-1042 or 1042, the unique number index). Both
        are index lookups under row-level security (ILIKE on the subject was a scan of the tenant's cases)."""
        matches = []
        words = await SUBJECT_WORDS.expand(self.uow.session, q)
        if words and all(word.terms for word in words):
            matches.append(await every_word_condition(self.uow.session, OBJECT_TYPE, Case, self.records.tenant_id,
                                                      words))
        number = _NUMBER.match(q)
        if number:
            matches.append(Case.number == int(number.group(1)))
        return or_(*matches) if matches else false()

    async def create(self, body: Any) -> CaseOut:
        columns = await self.columns(body.model_dump(), None)  # defaults too: the SLA depends on them
        number = (await self.uow.session.execute(text(
            "INSERT INTO tenant_counters (tenant_id, name, value) VALUES (:t, 'case', 1) "
            "ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_counters.value + 1 RETURNING value"),
            {"t": self.uow.tenant_id})).scalar_one()
        case = Case(**columns, number=number, created_at=utcnow(), sla_paused_minutes=0.0, reopened_count=0)
        sla.schedule(case, await self._policy(case))
        return await self.records.create(case, self.represent)

    async def update(self, record_id: uuid.UUID, body: Any, expected: int | None) -> CaseOut:
        case = await self.records.get(record_id, for_update=True)
        changes = body.model_dump(exclude_unset=True)
        self._check_not_null(changes)
        columns = await self.columns(changes, case)
        status = columns.pop("status", case.status)
        sla.check_transition(case.status, status)
        policy = await self._current_policy(case)
        before = self.represent(case).model_dump(mode="json")
        for name, value in columns.items():
            setattr(case, name, value)
        if any(name in columns for name in SLA_INPUTS):
            policy = await self._policy(case)
            sla.schedule(case, policy)
        if status != case.status:
            sla.change_status(case, status, policy, utcnow())
            self.uow.outbox.add("case.status_changed", OBJECT_TYPE, case.id,
                                self.represent(case).model_dump(mode="json"), {"status": before["status"]})
        return await self.records.update(case, {}, expected, self.represent, before=before)

    async def add_message(self, case_id: uuid.UUID, body: MessageCreate) -> MessageOut:
        """A reply or internal note; the first public outbound reply answers the case."""
        case = await self.records.get(case_id, for_update=True)
        if body.author_user_id is not None:
            await UserService(self.uow).require("author_user_id", body.author_user_id)
        if body.author_contact_id is not None:
            await ContactService(self.uow).require("author_contact_id", body.author_contact_id)
        now = utcnow()
        message = CaseMessage(tenant_id=self.uow.tenant_id, id=uuid7(), case_id=case.id, created_at=now,
                              **body.model_dump())
        self.uow.session.add(message)
        out = represent_message(message)
        self.uow.outbox.add("case_message.created", "case_message", message.id, out.model_dump(mode="json"))
        if body.direction == "outbound" and not body.internal and case.first_response_at is None:
            before = self.represent(case).model_dump(mode="json")
            case.first_response_at = now
            case.first_response_seconds = sla.clock_reading(case, await self._current_policy(case), now)
            sla.plan_next_check(case)
            await self.records.update(case, {}, None, self.represent, before=before)
        await self.uow.session.flush()
        return out

    async def messages(self, case_id: uuid.UUID, params: Any) -> tuple[list[MessageOut], str | None]:
        await self.records.get(case_id)
        stmt = select(CaseMessage).where(CaseMessage.tenant_id == self.uow.tenant_id, CaseMessage.case_id == case_id)
        sort = resolve_sort(params.sort, {"created_at": CaseMessage.created_at}, default="created_at")
        rows, cursor = await paginate(self.uow.session, stmt, sort, CaseMessage.id, params.limit, params.cursor)
        return [represent_message(m) for m in rows], cursor

    async def record_satisfaction(self, case_id: uuid.UUID, body: SatisfactionCreate) -> CaseOut:
        case = await self.records.get(case_id, for_update=True)
        if case.status not in sla.DONE:
            raise Conflict("Satisfaction is recorded once the case is resolved")
        if case.satisfaction_score is not None:
            raise Conflict("Satisfaction was already recorded for this case")
        return await self.records.update(case, {"satisfaction_score": body.score,
                                                "satisfaction_comment": body.comment,
                                                "satisfaction_at": utcnow()}, None, self.represent)
