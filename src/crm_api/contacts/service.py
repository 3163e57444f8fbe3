"""Contacts: rules, search and duplicate detection."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import Float, String, desc, false, func, literal, or_, select, text, union

from crm_api.campaigns.service import CampaignService
from crm_api.companies.service import CompanyService
from crm_api.contacts.schemas import (
    CompanyContactListParams,
    ContactListParams,
    ContactOut,
    DuplicateMatch,
    DuplicateParams,
)
from crm_api.custom_fields.service import CustomFieldService
from crm_api.kit.errors import DuplicateRecord, ValidationFailed
from crm_api.kit.filtering import custom_field_params, eq, follow_up_filters, key_eq, timestamp_filters
from crm_api.kit.pagination import SortKey
from crm_api.kit.record_service import RecordService
from crm_api.kit.record_values import array_value_list_filter
from crm_api.kit.records import RecordType
from crm_api.kit.schemas import address_columns
from crm_api.kit.search import TermIndex, WordTerms
from crm_api.kit.term_match import records_with_every_word
from crm_api.kit.uow import UnitOfWork
from crm_api.models.contact import Contact
from crm_api.users.service import UserService

OBJECT_TYPE = "contact"
SEARCH = TermIndex(OBJECT_TYPE)
Reason = Literal["email", "phone", "name"]
DUPLICATE_NAME_SIMILARITY = 0.5
# Contacts having every word of a duplicate check's name (or a typo of it) scored at most: a guard
# for names made of the most common words, far above what a name finds in practice.
MAX_NAME_CANDIDATES = 2000
# A name's words (crm_search_query_words) with the indexed terms each may be: the word, terms it begins
# and terms one typo away (crm_search_expand), and terms one typo away for every word of 3+ letters.
_NAME_TERMS = text("""
    SELECT word_no, word, term FROM crm_search_expand(:kind, :name)
    UNION
    SELECT w.word_no, w.word, e FROM crm_search_query_words(:name) AS w, crm_search_edits(w.word) AS e
    WHERE w.word_no <= 6 AND length(w.word) >= 3 AND w.word !~ '^[0-9]+$'
      -- One index probe per edit (as EXISTS the planner may hash-join all of the tenant's terms).
      AND (SELECT 1 FROM search_terms s WHERE s.tenant_id = :tenant AND s.object_type = :kind AND s.term = e
           LIMIT 1) IS NOT NULL""")
KIND = RecordType(
    Contact, OBJECT_TYPE,
    filters={
        "owner_id": eq(Contact.owner_id), "company_id": eq(Contact.company_id),
        "email": lambda v: Contact.email.is_not(None) & (Contact.email_key == v.lower()),
        "city": key_eq(Contact.address_city_key),
        "country": lambda v: Contact.address_country == v.upper(),
        "lifecycle_stage": eq(Contact.lifecycle_stage), "source": eq(Contact.source),
        "campaign_id": eq(Contact.campaign_id),
        **timestamp_filters(Contact), **follow_up_filters(Contact),
    },
    sorts={"created_at": Contact.created_at, "updated_at": Contact.updated_at,
           "last_name": func.lower(func.coalesce(Contact.last_name, ""), type_=String)},
    search=SEARCH,
)


def represent(contact: Contact) -> ContactOut:
    # Validated from the record's attributes in one pydantic-core call: three times cheaper than
    # building the model field by field in Python (the largest share of a list page's CPU).
    return ContactOut.model_validate(contact, from_attributes=True)


def phone_key(phone: str) -> str | None:
    """The last nine digits of a phone number, as the database indexes them."""
    digits = re.sub(r"[^0-9]", "", phone)
    return digits[-9:] if len(digits) >= 6 else None


def duplicates_statement(tenant_id: uuid.UUID, params: DuplicateParams, words: list[WordTerms]) -> Any:
    """The SELECT of duplicate candidates with their evidence (by_email, by_phone, name_score), best first;
    None when nothing can match. `words`: the name's words with their terms (`_name_words`).

    Candidates come from indexes that work under row-level security (leakproof `=` only): the email key,
    the phone keys, and the search-term index for the name's words (a contact must have every word, or a
    term one typo from it). Only the candidates are scored.
    """
    live = (Contact.tenant_id == tenant_id) & Contact.deleted_at.is_(None)
    found: list[Any] = []
    email_match: Any = false()
    if params.email:
        # `email IS NOT NULL` lets the planner use the partial unique index on email_key.
        email_match = Contact.email.is_not(None) & (Contact.email_key == params.email.lower())
        found.append(select(Contact.id).where(live, email_match))
    key = phone_key(params.phone) if params.phone else None
    phone_match: Any = false()
    if key:
        phone_match = or_(Contact.phone_key == key, Contact.mobile_key == key)
        found += [select(Contact.id).where(live, Contact.phone_key == key),
                  select(Contact.id).where(live, Contact.mobile_key == key)]
    name_score: Any = literal(0.0, Float)
    if params.name:
        if words and all(word.terms for word in words):
            found.append(records_with_every_word(OBJECT_TYPE, tenant_id, words, MAX_NAME_CANDIDATES))
        full_name = func.lower(func.concat_ws(" ", Contact.first_name, Contact.last_name))
        name_score = func.similarity(full_name, params.name.lower()).cast(Float)
    if not found:
        return None
    return (select(Contact).where(live)
            .add_columns(email_match.label("by_email"), phone_match.label("by_phone"), name_score.label("name_score"))
            .where(Contact.id.in_(union(*found)) if len(found) > 1 else Contact.id.in_(found[0]),
                   or_(email_match, phone_match, name_score >= DUPLICATE_NAME_SIMILARITY))
            # The strongest evidence first, so the limit never drops an exact match.
            .order_by(desc("by_email"), desc("by_phone"), desc("name_score"), Contact.id).limit(200))


class ContactService(RecordService[Contact, ContactOut]):
    kind = KIND

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.custom_fields = CustomFieldService(uow)

    view = staticmethod(represent)

    async def conflict(self, constraint: str, contact: Any) -> Exception | None:
        if constraint != "contacts_email_key":
            return None
        existing = await self._id_by_email(contact.email)
        return DuplicateRecord(f"A contact with email {contact.email} exists", existing_id=existing)

    async def _id_by_email(self, email: str) -> uuid.UUID | None:
        # `email IS NOT NULL` lets the planner use the partial unique index (email_key alone does not imply it).
        stmt = select(Contact.id).where(Contact.tenant_id == self.records.tenant_id, Contact.deleted_at.is_(None),
                                        Contact.email.is_not(None), Contact.email_key == email.lower())
        return (await self.uow.session.execute(stmt)).scalar_one_or_none()

    async def columns(self, changes: dict[str, Any], current: Contact | None) -> dict[str, Any]:
        columns = {k: v for k, v in changes.items() if k not in ("address", "custom_fields")}
        if "address" in changes:
            columns.update(address_columns(changes["address"]))
        if "tags" in changes:
            columns["tags"] = changes["tags"] or []
        identity = {k: columns.get(k, getattr(current, k, None)) for k in ("first_name", "last_name", "email")}
        if not any(identity.values()):
            raise ValidationFailed.field("first_name", "a contact needs a first_name, last_name or email")
        if changes.get("email"):
            existing = await self._id_by_email(changes["email"])
            if existing is not None and (current is None or existing != current.id):
                raise DuplicateRecord(f"A contact with email {changes['email']} exists", existing_id=existing)
        if "owner_id" in changes:
            await UserService(self.uow).require("owner_id", changes["owner_id"])
        if "campaign_id" in changes:
            await CampaignService(self.uow).require("campaign_id", changes["campaign_id"])
        if "company_id" in changes:
            await CompanyService(self.uow).require("company_id", changes["company_id"])
        columns.update(await self.custom_fields.columns_for(OBJECT_TYPE, changes, current))
        return columns

    async def list_conditions(self, params: ContactListParams,
                              query: Mapping[str, str]) -> tuple[list[Any], SortKey | None]:
        conditions = await self.custom_fields.filter_conditions(OBJECT_TYPE, Contact,
                                                                custom_field_params(query))
        tag, sort = array_value_list_filter(KIND, "tags", params.tag, params)
        return conditions + tag, sort

    async def list_for_company(self, company_id: uuid.UUID,
                               params: CompanyContactListParams) -> tuple[list[ContactOut], str | None]:
        await CompanyService(self.uow).get_live(company_id)
        tag, sort = array_value_list_filter(KIND, "tags", params.tag, params)
        rows, cursor = await self.records.list(params, [Contact.company_id == company_id, *tag], sort)
        return [represent(r) for r in rows], cursor

    async def _name_words(self, name: str) -> list[WordTerms]:
        """The name's words, each with the contacts' indexed terms it may be: itself, terms it begins
        (`crm_search_expand`), and terms one typo away, also for a word found as typed and for words of
        three letters ("jon" finds john), which `q` leaves out. Every term is an index probe."""
        rows = (await self.uow.session.execute(
            _NAME_TERMS, {"tenant": self.records.tenant_id, "kind": OBJECT_TYPE, "name": name})).all()
        words: dict[int, WordTerms] = {}
        for word_no, word, term in rows:
            entry = words.setdefault(word_no, WordTerms(word, {}))
            if term is not None:
                entry.terms[term] = 0
        return [words[n] for n in sorted(words)]

    async def duplicates(self, params: DuplicateParams, limit: int = 20) -> list[DuplicateMatch]:
        """Live contacts that are likely the same person as the one described (`duplicates_statement`); a
        name counts when its trigram similarity with the contact's full name reaches DUPLICATE_NAME_SIMILARITY."""
        if not (params.name or params.email or params.phone):
            raise ValidationFailed.field("name", "give at least one of name, email or phone")
        words = await self._name_words(params.name) if params.name else []
        stmt = duplicates_statement(self.records.tenant_id, params, words)
        if stmt is None:
            return []
        matches = []
        for contact, by_email, by_phone, score_name in (await self.uow.session.execute(stmt)).all():
            evidence: dict[Reason, float | None] = {
                "email": 1.0 if by_email else None, "phone": 0.9 if by_phone else None,
                "name": 0.8 * score_name if params.name and score_name >= DUPLICATE_NAME_SIMILARITY else None}
            reasons = [reason for reason, value in evidence.items() if value is not None]
            scores = [value for value in evidence.values() if value is not None]
            score = min(1.0, max(scores) + 0.05 * (len(scores) - 1))
            matches.append(DuplicateMatch(contact=represent(contact), score=round(score, 4), reasons=reasons))
        matches.sort(key=lambda m: (-m.score, str(m.contact.id)))
        return matches[:limit]
