from crm_partners.db import models  # noqa: F401  (register every table on PartnersBase.metadata)
from crm_partners.db.base import PartnersBase
from crm_shared import models as platform_models  # noqa: F401  (outbox, inbox, idempotency, audit tables)
from crm_shared.db import PlatformBase
from crm_shared.migrations import run_env

run_env([PartnersBase.metadata, PlatformBase.metadata])
