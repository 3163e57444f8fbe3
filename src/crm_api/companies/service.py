"""Companies: rules and queries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, func

from crm_api.companies.schemas import CompanyListParams, CompanyOut
from crm_api.custom_fields.service import CustomFieldService
from crm_api.kit.filtering import custom_field_params, eq, follow_up_filters, key_eq, timestamp_filters
from crm_api.kit.pagination import SortKey
from crm_api.kit.record_service import RecordService
from crm_api.kit.record_values import array_value_list_filter
from crm_api.kit.records import RecordType
from crm_api.kit.schemas import address_columns, address_out, money_out
from crm_api.kit.search import TermIndex
from crm_api.kit.uow import UnitOfWork
from crm_api.models.company import Company
from crm_api.tenants.service import money_columns
from crm_api.users.service import UserService

OBJECT_TYPE = "company"
KIND = RecordType(
    Company, OBJECT_TYPE,
    filters={
        "owner_id": eq(Company.owner_id), "relationship": eq(Company.relationship),
        "industry": key_eq(Company.industry_key),
        "domain": key_eq(Company.domain_key),
        "city": key_eq(Company.address_city_key), "country": lambda v: Company.address_country == v.upper(),
        **timestamp_filters(Company), **follow_up_filters(Company),
    },
    sorts={"created_at": Company.created_at, "updated_at": Company.updated_at,
           "name": func.lower(Company.name, type_=String)},
    search=TermIndex(OBJECT_TYPE),
)


def represent(company: Company) -> CompanyOut:
    # Built without validation, as contacts are: stored values were validated when written.
    return CompanyOut.model_construct(
        id=company.id, created_at=company.created_at, updated_at=company.updated_at, version=company.version,
        name=company.name, domain=company.domain, industry=company.industry,
        employee_count=company.employee_count,
        annual_revenue=money_out(company.annual_revenue_amount, company.annual_revenue_currency),
        relationship=company.relationship, address=address_out(company), phone=company.phone,
        website=company.website, owner_id=company.owner_id, tags=list(company.tags or []),
        custom_fields=dict(company.custom_fields or {}),
        last_activity_at=company.last_activity_at, next_activity_at=company.next_activity_at,
    )


class CompanyService(RecordService[Company, CompanyOut]):
    kind = KIND
    not_null = ("name",)

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.custom_fields = CustomFieldService(uow)

    view = staticmethod(represent)

    async def columns(self, changes: dict[str, Any], current: Company | None) -> dict[str, Any]:
        """Column values for the API fields in `changes`, validated against the tenant's data."""
        columns = {k: v for k, v in changes.items() if k not in ("address", "annual_revenue", "custom_fields")}
        if "address" in changes:
            columns.update(address_columns(changes["address"]))
        if "annual_revenue" in changes:
            columns.update(await money_columns(self.uow, "annual_revenue", changes["annual_revenue"],
                                               current.annual_revenue_currency if current else None))
        if "tags" in changes:
            columns["tags"] = changes["tags"] or []
        if "owner_id" in changes:
            await UserService(self.uow).require("owner_id", changes["owner_id"])
        columns.update(await self.custom_fields.columns_for(OBJECT_TYPE, changes, current))
        return columns

    async def list_conditions(self, params: CompanyListParams,
                              query: Mapping[str, str]) -> tuple[list[Any], SortKey | None]:
        conditions = await self.custom_fields.filter_conditions(OBJECT_TYPE, Company,
                                                                custom_field_params(query))
        # `?tag=` newest first from the tag's own index (kit/record_values.py); not in KIND.filters.
        tag, sort = array_value_list_filter(KIND, "tags", params.tag, params)
        return conditions + tag, sort

    async def get_live(self, company_id: uuid.UUID) -> Company:
        """The company, 404 when it does not exist for the tenant."""
        return await self.records.get(company_id)
