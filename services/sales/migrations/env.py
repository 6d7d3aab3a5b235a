from crm_sales.db import models, pipeline_models  # noqa: F401  (register every table on SalesBase.metadata)
from crm_sales.db.base import SalesBase
from crm_shared import models as platform_models  # noqa: F401  (outbox, inbox, idempotency, audit tables)
from crm_shared.db import PlatformBase
from crm_shared.migrations import run_env

run_env([SalesBase.metadata, PlatformBase.metadata])
