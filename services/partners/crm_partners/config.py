from pydantic import Field

from crm_shared.clients.sales import SalesClientSettings
from crm_shared.settings import service_config


class PartnersSettings(SalesClientSettings):
    """Environment prefix CRM_PARTNERS_ (e.g. CRM_PARTNERS_DATABASE_URL, CRM_PARTNERS_GRPC_PORT)."""

    model_config = service_config("PARTNERS")

    service_name: str = "partners"
    http_port: int = 8104
    grpc_port: int = 50104
    grpc_enabled: bool = True
    # sales' REST API, where an approved deal's customer and lead are created
    sales_url: str = "http://127.0.0.1:8101"
    sales_http_timeout_s: float = Field(10.0, gt=0)
    # how long a submitted deal protects its customer from other partners' registrations
    deal_protection_days: int = Field(90, ge=1)
