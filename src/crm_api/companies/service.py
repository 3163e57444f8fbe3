"""Companies: rules and queries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_

from crm_api.companies.schemas import CompanyCreate, CompanyListParams, CompanyOut
from crm_api.custom_fields.service import CustomFieldService
from crm_api.kit.errors import ValidationFailed
from crm_api.kit.filtering import custom_field_params, eq, has_element, ieq, timestamp_filters
from crm_api.kit.records import Records, RecordType
from crm_api.kit.schemas import address_columns, address_out, money_out
from crm_api.kit.search import like_pattern
from crm_api.kit.uow import UnitOfWork
from crm_api.models.company import Company
from crm_api.tenants.service import money_columns
from crm_api.users.service import UserService

OBJECT_TYPE = "company"
KIND = RecordType(
    Company, OBJECT_TYPE,
    filters={
        "owner_id": eq(Company.owner_id), "relationship": eq(Company.relationship),
        "industry": ieq(Company.industry), "tag": has_element(Company.tags), "domain": ieq(Company.domain),
        "city": ieq(Company.address_city), "country": lambda v: Company.address_country == v.upper(),
        **timestamp_filters(Company),
    },
    sorts={"created_at": Company.created_at, "updated_at": Company.updated_at, "name": func.lower(Company.name)},
)


def represent(company: Company) -> CompanyOut:
    return CompanyOut(
        id=company.id, created_at=company.created_at, updated_at=company.updated_at, version=company.version,
        name=company.name, domain=company.domain, industry=company.industry,
        employee_count=company.employee_count,
        annual_revenue=money_out(company.annual_revenue_amount, company.annual_revenue_currency),
        relationship=company.relationship, address=address_out(company), phone=company.phone,
        website=company.website, owner_id=company.owner_id, tags=list(company.tags or []),
        custom_fields=dict(company.custom_fields or {}),
    )


class CompanyService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.records: Records[Company] = Records(uow, KIND)
        self.custom_fields = CustomFieldService(uow)

    async def _columns(self, changes: dict[str, Any], current: Company | None) -> dict[str, Any]:
        """Column values for the API fields in `changes`, validated against the tenant's data."""
        if "name" in changes and changes["name"] is None:
            raise ValidationFailed.field("name", "cannot be null")
        columns = {k: v for k, v in changes.items() if k not in ("address", "annual_revenue", "custom_fields")}
        if "address" in changes:
            columns.update(address_columns(changes["address"]))
        if "annual_revenue" in changes:
            columns.update(await money_columns(self.uow, "annual_revenue", changes["annual_revenue"]))
        if "tags" in changes:
            columns["tags"] = changes["tags"] or []
        if "owner_id" in changes:
            await UserService(self.uow).require("owner_id", changes["owner_id"])
        if "custom_fields" in changes or current is None:
            columns["custom_fields"] = await self.custom_fields.merge_values(
                OBJECT_TYPE, current.custom_fields if current else {}, changes.get("custom_fields"))
        return columns

    async def list(self, params: CompanyListParams, query: Any) -> tuple[list[CompanyOut], str | None]:
        conditions = await self.custom_fields.filter_conditions(OBJECT_TYPE, Company.custom_fields,
                                                                custom_field_params(query))
        if params.q:
            pattern = like_pattern(params.q)
            conditions.append(or_(func.lower(Company.name).like(pattern), func.lower(Company.domain).like(pattern)))
        rows, cursor = await self.records.list(params, conditions)
        return [represent(r) for r in rows], cursor

    async def get(self, company_id: uuid.UUID) -> CompanyOut:
        return represent(await self.records.get(company_id))

    async def create(self, body: CompanyCreate) -> CompanyOut:
        columns = await self._columns(body.model_dump(exclude_unset=True), None)
        return await self.records.create(Company(**columns), represent)

    async def update(self, company_id: uuid.UUID, body: Any, expected: int | None) -> CompanyOut:
        company = await self.records.get(company_id, for_update=True)
        columns = await self._columns(body.model_dump(exclude_unset=True), company)
        return await self.records.update(company, columns, expected, represent)

    async def delete(self, company_id: uuid.UUID, expected: int | None) -> None:
        company = await self.records.get(company_id, for_update=True)
        await self.records.trash(company, expected, represent)

    async def restore(self, company_id: uuid.UUID) -> CompanyOut:
        return await self.records.restore(company_id, represent)

    async def require(self, field: str, company_id: uuid.UUID | None) -> None:
        """422 when `company_id` is given and names no live company of the tenant."""
        await self.records.require_reference(field, company_id)

    async def get_live(self, company_id: uuid.UUID) -> Company:
        """The company, 404 when it does not exist for the tenant."""
        return await self.records.get(company_id)
