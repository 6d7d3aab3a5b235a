from crm_shared.settings import ServiceSettings, service_config


class PartnersSettings(ServiceSettings):
    """Environment prefix CRM_PARTNERS_ (e.g. CRM_PARTNERS_DATABASE_URL, CRM_PARTNERS_GRPC_PORT)."""

    model_config = service_config("PARTNERS")

    service_name: str = "partners"
    http_port: int = 8104
    grpc_port: int = 50104
    grpc_enabled: bool = True
