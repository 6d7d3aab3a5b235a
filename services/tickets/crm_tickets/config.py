from pydantic import Field

from crm_shared.clients.sales import SalesClientSettings
from crm_shared.settings import service_config


class TicketsSettings(SalesClientSettings):
    """Environment prefix CRM_TICKETS_ (e.g. CRM_TICKETS_DATABASE_URL, CRM_TICKETS_SALES_GRPC_TARGET:
    the crm.sales.v1.CustomerService a ticket's customer is asked of; `crm up` sets it)."""

    model_config = service_config("TICKETS")

    service_name: str = "tickets"
    http_port: int = 8103
    grpc_enabled: bool = True
    grpc_port: int = 50103  # crm.tickets.v1.TicketService
    # The SLA scheduler: how often it scans, how early a ticket counts as "about to breach"
    # (a fraction of its target), and how many tickets one transaction handles.
    sla_scheduler_enabled: bool = True
    sla_scan_interval_s: float = Field(30.0, gt=0)
    sla_batch_size: int = Field(500, ge=1)
    # Demo tickets queued by `crm seed` are opened once sales answers (crm_tickets.seed); idle otherwise.
    demo_stories_enabled: bool = True
    # A closed-as-resolved ticket may be reopened for this many days after it was resolved.
    reopen_window_days: int = Field(14, ge=0)
