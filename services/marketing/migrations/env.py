from crm_marketing.db import models  # noqa: F401  (register every table on MarketingBase.metadata)
from crm_marketing.db.base import MarketingBase
from crm_shared import models as platform_models  # noqa: F401  (outbox, inbox, idempotency, audit tables)
from crm_shared.db import PlatformBase
from crm_shared.migrations import run_env

run_env([MarketingBase.metadata, PlatformBase.metadata])
