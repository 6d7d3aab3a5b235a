from crm_sales.db import models  # noqa: F401  (registers every table on SalesBase.metadata)
from crm_sales.db.base import SalesBase
from crm_shared.db import PlatformBase
from crm_shared.migrations import run_env

run_env([SalesBase.metadata, PlatformBase.metadata])
