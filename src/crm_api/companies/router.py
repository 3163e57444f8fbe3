"""/v1/companies"""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query

from crm_api.auth.principal import Principal, require
from crm_api.companies.schemas import CompanyCreate, CompanyListParams, CompanyOut, CompanyUpdate
from crm_api.companies.service import CompanyService
from crm_api.contacts.schemas import CompanyContactListParams, ContactOut
from crm_api.contacts.service import ContactService
from crm_api.kit.resource_routes import add_record_routes, page_model
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork

router = CrmRouter(tags=["companies"])
add_record_routes(router, resource="companies", label="company", service=CompanyService, create=CompanyCreate,
                  update=CompanyUpdate, out=CompanyOut, params=CompanyListParams)
ContactPage = page_model(ContactOut)


@router.get("/companies/{record_id}/contacts", response_model=ContactPage, name="companies_list_contacts",
            summary="List a company's contacts")
async def companies_list_contacts(record_id: uuid.UUID, params: Annotated[CompanyContactListParams, Query()],
                                  uow: Annotated[UnitOfWork, Depends(get_uow)],
                                  principal: Annotated[Principal, Depends(require("contacts:read"))]) -> Any:
    data, next_cursor = await ContactService(uow).list_for_company(record_id, params)
    return ContactPage(data=data, next_cursor=next_cursor)
