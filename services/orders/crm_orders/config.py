from crm_shared.clients.sales import SalesClientSettings
from crm_shared.settings import service_config


class OrdersSettings(SalesClientSettings):
    """Environment prefix CRM_ORDERS_ (e.g. CRM_ORDERS_DATABASE_URL, CRM_ORDERS_SALES_GRPC_TARGET: the
    crm.sales.v1.CustomerService that says whether a customer is there and visible to the caller)."""

    model_config = service_config("ORDERS")

    service_name: str = "orders"
    http_port: int = 8105
    grpc_port: int = 50105
    grpc_enabled: bool = True
