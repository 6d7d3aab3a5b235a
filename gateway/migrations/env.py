from crm_gateway.db import models  # noqa: F401  (register every table on GatewayBase.metadata)
from crm_gateway.db.base import GatewayBase
from crm_shared import models as platform_models  # noqa: F401  (register the platform tables)
from crm_shared.db import PlatformBase
from crm_shared.migrations import run_env

run_env([GatewayBase.metadata, PlatformBase.metadata])
