"""All SQLAlchemy models, one file per aggregate; imported here so metadata is complete."""

from crm_api.kit.models import Base
from crm_api.models.api_key import ApiKey
from crm_api.models.campaign import Campaign
from crm_api.models.company import Company
from crm_api.models.contact import Contact
from crm_api.models.custom_field import CustomField
from crm_api.models.deal import Deal, DealBoardTotal, DealStageHistory
from crm_api.models.event import Event
from crm_api.models.idempotency import IdempotencyRecord
from crm_api.models.lead import Lead
from crm_api.models.lost_reason import LostReason
from crm_api.models.pipeline import Pipeline, PipelineStage
from crm_api.models.record_value import RecordValue
from crm_api.models.tenant import Tenant
from crm_api.models.user import User
from crm_api.models.webhook import WebhookDelivery, WebhookEndpoint

__all__ = ["ApiKey", "Base", "Campaign", "Company", "Contact", "CustomField", "Deal", "DealBoardTotal",
           "DealStageHistory", "Event", "IdempotencyRecord", "Lead", "LostReason", "Pipeline", "PipelineStage",
           "RecordValue", "Tenant", "User",
           "WebhookDelivery", "WebhookEndpoint"]
