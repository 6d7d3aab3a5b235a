from pydantic import Field

from crm_shared.settings import DEV_JWT_SECRET, ServiceSettings, service_config


class GatewaySettings(ServiceSettings):
    """Environment prefix CRM_GATEWAY_ (e.g. CRM_GATEWAY_JWT_SECRET, CRM_GATEWAY_SALES_URL)."""

    model_config = service_config("GATEWAY")

    service_name: str = "gateway"
    http_port: int = 8000
    # Signs the public access tokens (not the internal caller token, which has its own secret).
    jwt_secret: str = DEV_JWT_SECRET
    access_token_ttl_s: int = Field(3600, gt=0)

    # Base URLs of the routed services: /api/v1/<name>/... goes to <name>_url.
    sales_url: str = "http://127.0.0.1:8101"
    orders_url: str = "http://127.0.0.1:8105"
    tickets_url: str = "http://127.0.0.1:8103"
    upstream_timeout_s: float = Field(30.0, gt=0)
    upstream_connect_timeout_s: float = Field(3.0, gt=0)
    upstream_max_connections: int = Field(200, gt=0)

    # Token bucket per user / API key, shared by every gateway process through the database.
    rate_limit_enabled: bool = True
    rate_limit_per_minute: float = Field(1200, gt=0)
    rate_limit_burst: int = Field(200, ge=1)
    # Failed logins and wrong API keys per client address (successful ones cost nothing).
    auth_failures_per_minute: float = Field(10, gt=0)
    auth_failures_burst: int = Field(20, ge=1)

    # How long a verified API key or user account is trusted from memory before the database is
    # asked again: a revoked key or deactivated user stops working within this window.
    credential_cache_s: float = Field(15.0, ge=0)

    # Argon2id cost of password and API-key hashes (argon2-cffi's defaults; lower only for tests).
    password_hash_time_cost: int = Field(3, ge=1)
    password_hash_memory_kib: int = Field(65536, ge=1024)

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return (*super().secret_fields(), "jwt_secret")

    @property
    def upstreams(self) -> dict[str, str]:
        """Routed service name -> base URL. A new service is one line here plus its <name>_url field."""
        return {
            "sales": self.sales_url,
            "orders": self.orders_url,
            "tickets": self.tickets_url,
        }

    @property
    def routed_prefixes(self) -> dict[str, str]:
        """Public path prefixes outside /api/v1/<name>/ -> the routed service that serves them
        (the TM Forum facades keep their standard paths)."""
        return {
            "/tmf-api/productOrderingManagement": "orders",
            "/tmf-api/productCatalogManagement": "orders",
            "/tmf-api/troubleTicket": "tickets",
        }
