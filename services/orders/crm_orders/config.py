from crm_shared.settings import ServiceSettings, service_config


class OrdersSettings(ServiceSettings):
    """Environment prefix CRM_ORDERS_ (e.g. CRM_ORDERS_DATABASE_URL, CRM_ORDERS_SALES_GRPC_TARGET)."""

    model_config = service_config("ORDERS")

    service_name: str = "orders"
    http_port: int = 8105
    grpc_port: int = 50105
    grpc_enabled: bool = True
    # crm.sales.v1.CustomerService: is the customer there, and visible to the caller?
    sales_grpc_target: str = "127.0.0.1:50101"
