from crm_shared.settings import ServiceSettings, service_config


class MarketingSettings(ServiceSettings):
    """Environment prefix CRM_MARKETING_ (e.g. CRM_MARKETING_DATABASE_URL, CRM_MARKETING_GRPC_PORT)."""

    model_config = service_config("MARKETING")

    service_name: str = "marketing"
    http_port: int = 8102
    grpc_port: int = 50102
    grpc_enabled: bool = True
