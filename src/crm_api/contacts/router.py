"""/v1/contacts"""

from typing import Annotated

from fastapi import Depends, Query

from crm_api.auth.principal import Principal, require
from crm_api.contacts.schemas import (
    ContactCreate,
    ContactListParams,
    ContactOut,
    ContactUpdate,
    DuplicateList,
    DuplicateParams,
)
from crm_api.contacts.service import ContactService
from crm_api.kit.resource_routes import add_record_routes
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork

router = CrmRouter(tags=["contacts"])


@router.get("/contacts/duplicates", response_model=DuplicateList, name="contacts_duplicates",
            summary="Find likely existing matches of a person")
async def contacts_duplicates(params: Annotated[DuplicateParams, Query()],
                              uow: Annotated[UnitOfWork, Depends(get_uow)],
                              principal: Annotated[Principal, Depends(require("contacts:read"))]) -> DuplicateList:
    """Contacts with the same email, the same phone (last nine digits) or a similar name."""
    return DuplicateList(data=await ContactService(uow).duplicates(params))


add_record_routes(router, resource="contacts", label="contact", service=ContactService, create=ContactCreate,
                  update=ContactUpdate, out=ContactOut, params=ContactListParams)
