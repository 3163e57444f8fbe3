"""/v1/campaigns"""

from crm_api.campaigns.schemas import CampaignCreate, CampaignListParams, CampaignOut, CampaignUpdate
from crm_api.campaigns.service import CampaignService
from crm_api.kit.resource_routes import add_record_routes
from crm_api.kit.routing import CrmRouter

router = CrmRouter(tags=["campaigns"])
add_record_routes(router, resource="campaigns", label="campaign", service=CampaignService, create=CampaignCreate,
                  update=CampaignUpdate, out=CampaignOut, params=CampaignListParams)
