import os
import re
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import PydanticBaseSettingsSource

from crm_shared.outbound import OutboundSettings
from crm_shared.registry import ServiceSpec
from crm_shared.settings import ServiceSettings, service_config

SERVICE_URL_SETTING = re.compile(r"^(?P<service>[a-z][a-z0-9_]*)_url$")


class ServiceUrlsFromEnvironment(PydanticBaseSettingsSource):
    """CRM_GATEWAY_<NAME>_URL for any service name, as <name>_url: what pydantic-settings' own
    environment source would give for a declared field, without declaring one per service."""

    def get_field_value(self, field, field_name):  # abstract in the base class; unused here
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        prefix = self.config.get("env_prefix", "").lower()
        found = {}
        for variable, value in os.environ.items():
            name = variable.lower()  # as pydantic-settings matches: case-insensitively
            setting = name[len(prefix) :]
            if (
                name.startswith(prefix)
                and SERVICE_URL_SETTING.match(setting)
                and setting not in self.settings_cls.model_fields
            ):
                found[setting] = value
        return found


class GatewaySettings(ServiceSettings, OutboundSettings):
    """Environment prefix CRM_GATEWAY_ (e.g. CRM_GATEWAY_JWT_SECRET, CRM_GATEWAY_SALES_URL)."""

    model_config = service_config("GATEWAY")

    service_name: str = "gateway"
    http_port: int = 8000
    # Signs the public access tokens (not the internal caller token, which has its own secret).
    jwt_secret: str = Field("", repr=False)
    access_token_ttl_s: int = Field(3600, gt=0)
    # The dev profile's outbox (crm_shared.outbound.sinks), read by GET /api/v1/admin/dev-outbox.
    dev_outbox_file: str = "var/dev-outbox.jsonl"

    # Base URLs of the routed services by registry name, given as <name>_url (CRM_GATEWAY_SALES_URL,
    # or sales_url=... as a keyword) for whichever services the registry has: a new service needs
    # no field here. Without one, a service is at its registry port on this machine (upstream_url).
    service_urls: dict[str, str] = Field(default_factory=dict)
    upstream_timeout_s: float = Field(30.0, gt=0)
    upstream_connect_timeout_s: float = Field(3.0, gt=0)
    upstream_max_connections: int = Field(200, gt=0)
    # The authenticated gRPC edge for external systems (grpc_edge.py): off unless a port is set
    # (0: any free port, for tests).
    grpc_edge_port: int | None = Field(None, ge=0, le=65535)
    grpc_edge_host: str = "127.0.0.1"

    # Token bucket per user / API key, shared by every gateway process through the database.
    rate_limit_enabled: bool = True
    rate_limit_per_minute: float = Field(1200, gt=0)
    rate_limit_burst: int = Field(200, ge=1)
    # Failed sign-ins (successful ones cost nothing) are counted per client address (wrong API keys
    # too), per account, and per account from one address; crm_gateway/throttling.py says why.
    auth_failures_per_minute: float = Field(10, gt=0)  # per address: generous, many share a NAT
    auth_failures_burst: int = Field(30, ge=1)
    account_failures_per_minute: float = Field(1, gt=0)
    account_failures_burst: int = Field(10, ge=1)
    account_address_failures_per_minute: float = Field(1, gt=0)
    account_address_failures_burst: int = Field(5, ge=1)
    # A user who signed in from an address within this many days is not held back there by the
    # address's or the account's throttle (only by the account-from-this-address one).
    known_origin_days: int = Field(30, ge=0)

    # The customer self-service portal (api/portal.py): one-time SMS codes and customer tokens. The
    # SMS goes out through crm_shared.outbound (CRM_GATEWAY_SMPP_HOST, ..._SMPP_PORT).
    portal_code_ttl_s: int = Field(300, gt=0)
    portal_code_wrong_attempts: int = Field(5, ge=1)  # wrong guesses that kill a code
    portal_codes_per_phone_per_hour: float = Field(5, gt=0)  # codes sent to one phone
    portal_codes_per_phone_burst: int = Field(3, ge=1)
    portal_codes_per_address_per_hour: float = Field(30, gt=0)  # codes asked from one client address
    portal_codes_per_address_burst: int = Field(10, ge=1)
    portal_guesses_per_phone_per_hour: float = Field(10, gt=0)  # code checks for one phone, any code
    portal_guesses_per_phone_burst: int = Field(10, ge=1)
    portal_guesses_per_address_per_hour: float = Field(120, gt=0)
    portal_guesses_per_address_burst: int = Field(30, ge=1)
    customer_token_ttl_s: int = Field(1800, gt=0)

    # How long a verified API key or user account is trusted from memory before the database is
    # asked again: a revoked key or deactivated user stops working within this window.
    credential_cache_s: float = Field(15.0, ge=0)

    # Argon2id cost of password and API-key hashes (argon2-cffi's defaults; lower only for tests).
    password_hash_time_cost: int = Field(3, ge=1)
    password_hash_memory_kib: int = Field(65536, ge=1024)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            ServiceUrlsFromEnvironment(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    @model_validator(mode="before")
    @classmethod
    def _gather_service_urls(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        urls = dict(data.get("service_urls") or {})
        rest = {}
        for key, value in data.items():
            match = SERVICE_URL_SETTING.match(key)
            if match and key not in cls.model_fields:
                urls[match["service"]] = value
            else:
                rest[key] = value
        return rest | {"service_urls": urls}

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return (*super().secret_fields(), "jwt_secret")

    def upstream_url(self, service: ServiceSpec) -> str:
        """The base URL of a routed service: its <name>_url, else its registry port on this machine."""
        return self.service_urls.get(service.name) or f"http://127.0.0.1:{service.http_port}"
