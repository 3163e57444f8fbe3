"""Leads: rules, duplicates against leads and contacts, and conversion.

Conversion runs in the request's one unit of work: the contact, company and deal are created
through their own services, and any error rolls all of it back (everything or nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, func, or_

from crm_api.campaigns.service import CampaignService
from crm_api.companies.schemas import CompanyCreate
from crm_api.companies.service import CompanyService
from crm_api.companies.service import represent as company_out
from crm_api.contacts.schemas import ContactCreate
from crm_api.contacts.service import ContactService
from crm_api.custom_fields.service import CustomFieldService
from crm_api.deals.schemas import DealCreate
from crm_api.deals.service import DealService
from crm_api.kit.clock import utcnow
from crm_api.kit.errors import Conflict, DuplicateRecord, ValidationFailed
from crm_api.kit.events import changed_fields
from crm_api.kit.filtering import custom_field_params, eq, gte, key_eq, timestamp_filters
from crm_api.kit.pagination import SortKey
from crm_api.kit.record_service import RecordService
from crm_api.kit.records import RecordType
from crm_api.kit.search import TermIndex
from crm_api.kit.uow import UnitOfWork
from crm_api.leads.schemas import LeadConversion, LeadConvert, LeadListParams, LeadOut
from crm_api.models.company import Company
from crm_api.models.contact import Contact
from crm_api.models.lead import Lead
from crm_api.users.service import UserService

OBJECT_TYPE = "lead"
KIND = RecordType(
    Lead, OBJECT_TYPE,
    filters={
        "status": eq(Lead.status), "source": eq(Lead.source), "owner_id": eq(Lead.owner_id),
        "campaign_id": eq(Lead.campaign_id), "email": key_eq(Lead.email_key), "score_min": gte(Lead.score),
        "score_max": lambda v: Lead.score <= v, **timestamp_filters(Lead),
    },
    sorts={"created_at": Lead.created_at, "updated_at": Lead.updated_at, "score": Lead.score},
    search=TermIndex(OBJECT_TYPE),
)


def represent(lead: Lead) -> LeadOut:
    return LeadOut(
        id=lead.id, created_at=lead.created_at, updated_at=lead.updated_at, version=lead.version,
        first_name=lead.first_name, last_name=lead.last_name, email=lead.email, phone=lead.phone,
        company_name=lead.company_name, company_domain=lead.company_domain, job_title=lead.job_title,
        source=lead.source, source_detail=lead.source_detail, campaign_id=lead.campaign_id,  # type: ignore[arg-type]
        status=lead.status, disqualify_reason=lead.disqualify_reason, owner_id=lead.owner_id,  # type: ignore[arg-type]
        score=lead.score, custom_fields=dict(lead.custom_fields or {}), converted_at=lead.converted_at,
        converted_contact_id=lead.converted_contact_id, converted_company_id=lead.converted_company_id,
        converted_deal_id=lead.converted_deal_id,
    )


class LeadService(RecordService[Lead, LeadOut]):
    kind = KIND
    not_null = ("status", "score")

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.session = uow.session
        self.custom_fields = CustomFieldService(uow)

    view = staticmethod(represent)

    async def _lead_by_email(self, email: str) -> uuid.UUID | None:
        # `email IS NOT NULL` lets the planner use the partial unique index on the key.
        stmt = self.records.select().with_only_columns(Lead.id).where(Lead.email.is_not(None),
                                                                      Lead.email_key == func.lower(email))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def _contact_by_email(self, email: str) -> uuid.UUID | None:
        stmt = (ContactService(self.uow).records.select().with_only_columns(Contact.id)
                .where(Contact.email.is_not(None), Contact.email_key == email.lower()))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def conflict(self, constraint: str, lead: Any) -> Exception | None:
        if constraint != "leads_email_key":
            return None
        existing = await self._lead_by_email(lead.email)
        return DuplicateRecord(f"A lead with email {lead.email} exists", existing_id=existing, existing_type="lead")

    async def _check_duplicate(self, email: str, current: Lead | None) -> None:
        """409 when the email is an existing contact's (other than the one this lead became) or lead's."""
        contact_id = await self._contact_by_email(email)
        if contact_id is not None and (current is None or contact_id != current.converted_contact_id):
            raise DuplicateRecord(f"{email} is the email of an existing contact", existing_id=contact_id,
                                  existing_type="contact")
        lead_id = await self._lead_by_email(email)
        if lead_id is not None and (current is None or lead_id != current.id):
            raise DuplicateRecord(f"A lead with email {email} exists", existing_id=lead_id, existing_type="lead")

    async def columns(self, changes: dict[str, Any], current: Lead | None) -> dict[str, Any]:
        columns = {k: v for k, v in changes.items() if k != "custom_fields"}
        identity = {k: columns.get(k, getattr(current, k, None))
                    for k in ("first_name", "last_name", "email", "company_name")}
        if not any(identity.values()):
            raise ValidationFailed.field("first_name", "a lead needs a first_name, last_name, email or company_name")
        if current is not None and current.status == "converted" and "status" in changes:
            raise ValidationFailed.field("status", "a converted lead stays converted")
        status = columns.get("status", current.status if current else "new")
        reason = columns.get("disqualify_reason", current.disqualify_reason if current else None)
        if status == "disqualified" and not reason:
            raise ValidationFailed.field("disqualify_reason", "is required when the status is disqualified")
        if changes.get("email"):
            await self._check_duplicate(changes["email"], current)
        if "owner_id" in changes:
            await UserService(self.uow).require("owner_id", changes["owner_id"])
        if "campaign_id" in changes:
            await CampaignService(self.uow).require("campaign_id", changes["campaign_id"])
        columns.update(await self.custom_fields.columns_for(OBJECT_TYPE, changes, current))
        return columns

    async def list_conditions(self, params: LeadListParams,
                              query: Mapping[str, str]) -> tuple[list[Any], SortKey | None]:
        conditions = await self.custom_fields.filter_conditions(OBJECT_TYPE, Lead,
                                                                custom_field_params(query))
        return conditions, None

    async def _matching_company(self, lead: Lead) -> Company | None:
        """A live company whose domain is the lead's company_domain or whose name is its company_name."""
        matches = []
        if lead.company_domain:
            matches.append(Company.domain_key == func.lower(lead.company_domain))
        if lead.company_name:
            matches.append(Company.name_key == func.lower(lead.company_name))
        if not matches:
            return None
        by_domain = Company.domain_key == func.lower(lead.company_domain or "")
        stmt = (CompanyService(self.uow).records.select().where(or_(*matches))
                .order_by(case((by_domain, 0), else_=1), Company.created_at, Company.id).limit(1))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def convert(self, lead_id: uuid.UUID, body: LeadConvert) -> LeadConversion:
        """Create or link the contact, the company and optionally a deal; mark the lead converted."""
        lead = await self.records.get(lead_id, for_update=True)
        if lead.status == "converted":
            raise Conflict("The lead is already converted", existing_id=lead.converted_contact_id,
                           existing_type="contact")
        companies, contacts = CompanyService(self.uow), ContactService(self.uow)

        company, company_created = None, False
        if body.company_id is not None:
            await companies.require("company_id", body.company_id)
            company = await companies.get_live(body.company_id)
        else:
            company = await self._matching_company(lead)
            if company is None and lead.company_name and body.create_company:
                created = await companies.create(CompanyCreate(name=lead.company_name, domain=lead.company_domain,
                                                               owner_id=lead.owner_id))
                company, company_created = await companies.get_live(created.id), True

        contact_id = body.contact_id
        if contact_id is not None:
            await contacts.require("contact_id", contact_id)
        elif lead.email:
            contact_id = await self._contact_by_email(lead.email)
        contact_created = contact_id is None
        if contact_id is None:
            contact = await contacts.create(ContactCreate(
                first_name=lead.first_name, last_name=lead.last_name, email=lead.email, phone=lead.phone,
                job_title=lead.job_title, company_id=company.id if company else None, owner_id=lead.owner_id,
                source=lead.source, campaign_id=lead.campaign_id,
                lifecycle_stage="opportunity" if body.deal else "lead"))
        else:
            contact = await contacts.get(contact_id)

        deal = None
        if body.deal is not None:
            given = body.deal.model_dump(exclude_unset=True)
            title = given.pop("title", None) or lead.company_name or " ".join(
                p for p in (lead.first_name, lead.last_name) if p) or lead.email or "Deal"
            given.setdefault("owner_id", lead.owner_id)
            deal = await DealService(self.uow).create(DealCreate(
                title=title, company_id=company.id if company else None, contact_ids=[contact.id],
                source=lead.source, campaign_id=lead.campaign_id, **given))

        before = self.represent(lead).model_dump(mode="json")
        now = utcnow()
        lead.status, lead.converted_at = "converted", now
        lead.converted_contact_id = contact.id
        lead.converted_company_id = company.id if company else None
        lead.converted_deal_id = deal.id if deal else None
        lead.version += 1
        lead.updated_at = now
        await self.session.flush()
        out = self.represent(lead)
        data = out.model_dump(mode="json")
        self.uow.outbox.add("lead.converted", OBJECT_TYPE, lead.id, data, changed_fields(before, data))
        return LeadConversion(lead=out, contact=contact, contact_created=contact_created,
                              company=company_out(company) if company else None, company_created=company_created,
                              deal=deal)
