"""/v1/lost-reasons"""

from crm_api.kit.resource_routes import add_record_routes
from crm_api.kit.routing import CrmRouter
from crm_api.lost_reasons.schemas import LostReasonCreate, LostReasonListParams, LostReasonOut, LostReasonUpdate
from crm_api.lost_reasons.service import LostReasonService

router = CrmRouter(tags=["lost reasons"])
add_record_routes(router, resource="lost-reasons", label="lost reason", service=LostReasonService,
                  create=LostReasonCreate, update=LostReasonUpdate, out=LostReasonOut, params=LostReasonListParams)
