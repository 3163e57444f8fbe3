"""/v1/custom-fields"""

from crm_api.custom_fields.schemas import CustomFieldCreate, CustomFieldListParams, CustomFieldOut, CustomFieldUpdate
from crm_api.custom_fields.service import CustomFieldService
from crm_api.kit.resource_routes import add_record_routes
from crm_api.kit.routing import CrmRouter

router = CrmRouter(tags=["custom fields"])
add_record_routes(router, resource="custom-fields", label="custom field", service=CustomFieldService,
                  create=CustomFieldCreate, update=CustomFieldUpdate, out=CustomFieldOut, params=CustomFieldListParams)
