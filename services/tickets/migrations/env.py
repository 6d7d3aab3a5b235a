from crm_shared import models as platform_models  # noqa: F401  (outbox, inbox, idempotency, audit tables)
from crm_shared.db import PlatformBase
from crm_shared.migrations import run_env
from crm_tickets.db import models  # noqa: F401  (register every table on TicketsBase.metadata)
from crm_tickets.db.base import TicketsBase

run_env([TicketsBase.metadata, PlatformBase.metadata])
