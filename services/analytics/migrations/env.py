from crm_analytics.db import models  # noqa: F401  (register every table on AnalyticsBase.metadata)
from crm_analytics.db.base import AnalyticsBase
from crm_shared import models as platform_models  # noqa: F401  (outbox, inbox, idempotency, audit tables)
from crm_shared.db import PlatformBase
from crm_shared.migrations import run_env

run_env([AnalyticsBase.metadata, PlatformBase.metadata])
