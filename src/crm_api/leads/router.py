"""/v1/leads: the standard routes and conversion."""

import uuid
from typing import Annotated, Any

from fastapi import Depends

from crm_api.auth.principal import Principal, require
from crm_api.kit.resource_routes import add_record_routes
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.uow import UnitOfWork
from crm_api.leads.schemas import LeadConversion, LeadConvert, LeadCreate, LeadListParams, LeadOut, LeadUpdate
from crm_api.leads.service import LeadService

router = CrmRouter(tags=["leads"])
add_record_routes(router, resource="leads", label="lead", service=LeadService, create=LeadCreate, update=LeadUpdate,
                  out=LeadOut, params=LeadListParams)


@router.post("/leads/{record_id}/convert", response_model=LeadConversion, name="leads_convert",
             summary="Convert a lead into a contact, a company and optionally a deal, all or nothing")
async def leads_convert(record_id: uuid.UUID, body: LeadConvert, uow: Annotated[UnitOfWork, Depends(get_uow)],
                        principal: Annotated[Principal, Depends(require("leads:write"))]) -> Any:
    """Links the contact with the lead's email and the company with its name or domain, else creates them."""
    return await LeadService(uow).convert(record_id, body)
