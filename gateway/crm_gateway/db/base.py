from sqlalchemy.orm import DeclarativeBase

from crm_shared.db import new_metadata


class GatewayBase(DeclarativeBase):
    """All tables the gateway owns. Platform tables come from crm_shared.db.PlatformBase."""

    metadata = new_metadata()
