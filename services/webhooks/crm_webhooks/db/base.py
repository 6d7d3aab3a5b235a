from sqlalchemy.orm import DeclarativeBase

from crm_shared.db import new_metadata


class WebhooksBase(DeclarativeBase):
    """All tables the webhooks service owns. Platform tables come from crm_shared.db.PlatformBase."""

    metadata = new_metadata()
