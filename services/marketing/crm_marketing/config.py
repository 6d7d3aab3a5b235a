from datetime import time

from crm_shared.clients.sales import SalesClientSettings
from crm_shared.outbound import OutboundSettings
from crm_shared.settings import service_config


class MarketingSettings(SalesClientSettings, OutboundSettings):
    """Environment prefix CRM_MARKETING_ (e.g. CRM_MARKETING_DATABASE_URL, CRM_MARKETING_SMPP_PORT,
    CRM_MARKETING_SALES_GRPC_TARGET: where opt-outs are reported to sales)."""

    model_config = service_config("MARKETING")

    service_name: str = "marketing"
    http_port: int = 8102
    grpc_port: int = 50102
    grpc_enabled: bool = True

    # campaign sending
    sender_enabled: bool = True
    send_rate_per_s: float = 50.0  # messages per second, per process
    send_batch_size: int = 100
    sender_idle_s: float = 1.0
    # a row claimed this long ago and still not marked: its process died mid-send (resent with the
    # same reference); longer than a send can take (outbound_timeout_s)
    claim_lease_s: float = 60.0
    quiet_from: time = time(21, 0)  # no SMS from this local time ...
    quiet_until: time = time(9, 0)  # ... until this one, in the customer's region
    # the public address of GET /api/v1/marketing/opt-out/{token}, the link in every campaign e-mail
    opt_out_base_url: str = "http://127.0.0.1:8000/api/v1/marketing/opt-out"
    # listen for customers' SMS replies ("STOP") on a bound SMPP session even while nothing is sent
    sms_replies_enabled: bool = True

    # loyalty
    points_per_tenge: float = 0.01  # one point per 100 tenge paid
    silver_from_tiyn: int = 100_000_00  # 12-month spend for silver: 100,000 tenge
    gold_from_tiyn: int = 300_000_00
    points_valid_days: int = 365
    expiry_interval_s: float = 3600.0
