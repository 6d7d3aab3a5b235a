from crm_orders.db import models  # noqa: F401  (register every table on OrdersBase.metadata)
from crm_orders.db.base import OrdersBase
from crm_shared import models as platform_models  # noqa: F401  (outbox, inbox, idempotency, audit tables)
from crm_shared.db import PlatformBase
from crm_shared.migrations import run_env

run_env([OrdersBase.metadata, PlatformBase.metadata])
