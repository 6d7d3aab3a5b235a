from crm_shared.settings import ServiceSettings, service_config


class WebhooksSettings(ServiceSettings):
    """Environment prefix CRM_WEBHOOKS_ (e.g. CRM_WEBHOOKS_DATABASE_URL, CRM_WEBHOOKS_MAX_ATTEMPTS)."""

    model_config = service_config("WEBHOOKS")

    service_name: str = "webhooks"
    http_port: int = 8107
    grpc_port: int = 50107
    grpc_enabled: bool = False  # no gRPC API of its own: REST and the deliveries
    # Delivery: a failed attempt is retried after retry_base_s * 2^(attempts-1) (at most
    # retry_max_s); after max_attempts failures the delivery is parked until a redrive.
    max_attempts: int = 8
    retry_base_s: float = 2.0
    retry_max_s: float = 900.0
    delivery_timeout_s: float = 10.0
    dispatch_interval_s: float = 0.5
    # Subscribers refuse a signature older than this (documented for them; sent in the status).
    replay_window_s: int = 300
    # Callback URLs on loopback, private or link-local addresses: allowed only in the dev profile
    # unless set explicitly (server-side request forgery).
    allow_private_callbacks: bool | None = None

    @property
    def private_callbacks_allowed(self) -> bool:
        if self.allow_private_callbacks is not None:
            return self.allow_private_callbacks
        return self.profile == "dev"
