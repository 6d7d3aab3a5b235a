from crm_shared import models as platform_models  # noqa: F401  (outbox, inbox, idempotency, audit tables)
from crm_shared.db import PlatformBase
from crm_shared.migrations import run_env
from crm_webhooks.db import models  # noqa: F401  (register every table on WebhooksBase.metadata)
from crm_webhooks.db.base import WebhooksBase

run_env([WebhooksBase.metadata, PlatformBase.metadata])
