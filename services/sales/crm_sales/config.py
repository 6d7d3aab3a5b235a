from pydantic import Field

from crm_shared.clients.orders import OrdersClientSettings
from crm_shared.clients.tickets import TicketsClientSettings
from crm_shared.outbound import OutboundSettings
from crm_shared.settings import service_config


class SalesSettings(OrdersClientSettings, TicketsClientSettings, OutboundSettings):
    """Environment prefix CRM_SALES_ (e.g. CRM_SALES_DATABASE_URL, CRM_SALES_KAFKA_BOOTSTRAP_SERVERS;
        CRM_SALES_ORDERS_GRPC_TARGET and CRM_SALES_TICKETS_GRPC_TARGET: the PersonalDataService of orders
        and tickets that the personal-data export asks, with their deadlines ..._GRPC_TIMEOUT_S; CRM_SALES_SMTP_*:
    the mail relay task reminders go through, crm_shared.outbound)."""

    model_config = service_config("SALES")

    service_name: str = "sales"
    http_port: int = 8101
    grpc_port: int = 50101
    grpc_enabled: bool = True
    # Look-ups by IIN/BIN (REST ?iin=/?bin=, gRPC SearchCustomers iin_bin) a caller who sees
    # identifiers masked may make per minute (crm_sales.domain.lookups); beyond it a 429.
    identifier_lookups_per_minute: int = Field(10, ge=0)
    # E-mail reminders of due and overdue tasks (crm_sales.background.TaskReminders): a pass every
    # interval sends each task's reminder once to its owner's address (the staff directory's).
    task_reminders_enabled: bool = True
    task_reminder_interval_s: float = Field(60.0, gt=0)
    console_url: str = "http://127.0.0.1:8000/"  # where a reminder sends the person (their tasks)
    # Customer CSV imports (background.ImportWorker): rows per transaction, batches of a job run at
    # the same time (each its own transaction and connection), how often an idle worker
    # looks for queued jobs, and how long a running job's worker may stay silent before another
    # replica (or this one, restarted) takes the job over from its last committed batch.
    import_worker_enabled: bool = True
    import_batch_size: int = Field(500, ge=1, le=10_000)
    import_concurrency: int = Field(4, ge=1, le=16)
    import_poll_interval_s: float = Field(2.0, gt=0)
    import_lease_s: float = Field(60.0, gt=0)
