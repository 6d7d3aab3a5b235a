"""Demo data for the dev profile: staff users (password "demo") and an external billing system's
API key. Idempotent; refused outside the dev profile. The sales demo data uses these user ids
as record owners."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from crm_shared.db import Database, utcnow

from .config import GatewaySettings
from .db.models import ApiKey, User
from .domain.api_keys import format_key
from .events.publishers import publish_user
from .passwords import Passwords

DEMO_PASSWORD = "demo"


@dataclass(frozen=True)
class DemoUser:
    id: str
    username: str
    full_name: str
    role: str
    region_code: str | None = None
    branch_code: str | None = None
    language: str = "ru"
    partner_id: str | None = None

    @property
    def email(self) -> str:  # the demo mailboxes, caught by the dev SMTP sink
        return f"{self.username}@qazaq-telecom.kz"


DEMO_PARTNER_ID = "partner-almaty-dealer"  # the partners service's demo dealer (crm_partners.seed)

DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("user-admin", "admin", "Aliya Seitkali (administrator)", "admin", language="en"),
    DemoUser("user-almaty-agent", "almaty.agent", "Dana Nurlanovna", "branch_agent", "KZ-75", "ALA-01", "kk"),
    DemoUser("user-almaty-manager", "almaty.manager", "Yerlan Abenov", "branch_manager", "KZ-75", "ALA-01"),
    DemoUser("user-karaganda-agent", "karaganda.agent", "Irina Kim", "branch_agent", "KZ-35", "KAR-01"),
    DemoUser("user-karaganda-manager", "karaganda.manager", "Serik Zhumabekov", "branch_manager", "KZ-35", "KAR-01"),
    DemoUser("user-karaganda-regional", "karaganda.regional", "Gulnara Tokhtarova", "regional_manager", "KZ-35"),
    DemoUser("user-callcenter", "callcenter", "Aigerim Bekova", "call_center_agent", language="kk"),
    DemoUser("user-analyst", "analyst", "Timur Sadykov", "hq_analyst", language="en"),
    # Answers data subjects: exports and erases a person's data (national, identifiers unmasked).
    DemoUser("user-privacy-officer", "privacy.officer", "Privacy Officer", "privacy_officer"),
    # Head-office marketing: segments and campaigns (national, identifiers masked).
    DemoUser("user-marketer", "marketer", "Madina Omarova (marketing)", "marketer", language="kk"),
    # Manages dealers and agents and approves their deals; a user of the demo dealer.
    DemoUser("user-channel-manager", "channel.manager", "Madina Ospanova", "channel_manager", language="en"),
    DemoUser("user-dealer-almaty", "dealer.almaty", "Almaty Telecom Dealer", "partner", partner_id=DEMO_PARTNER_ID),
)

# A fixed, publicly known key: it only exists in dev databases (the seed refuses production).
DEMO_API_KEY_ID = "apikey-demo-billing"
DEMO_API_KEY_PREFIX = "demobill"
DEMO_API_KEY_SECRET = "dev-only-billing-secret-not-for-production"
DEMO_API_KEY = format_key(DEMO_API_KEY_PREFIX, DEMO_API_KEY_SECRET)
DEMO_API_KEY_SCOPES = ["sales:read"]


@dataclass(frozen=True)
class DemoApiKey:
    id: str
    name: str
    prefix: str
    secret: str
    scopes: tuple[str, ...]

    @property
    def key(self) -> str:
        return format_key(self.prefix, self.secret)


# The orders service's external systems: billing reads orders and reports invoices and payments;
# OSS (network provisioning) reports fulfilment.
DEMO_ORDERS_BILLING_KEY = DemoApiKey(
    "apikey-demo-orders-billing",
    "Demo billing system (orders)",
    "demoordb",
    "dev-only-orders-billing-secret-not-for-production",
    ("orders:read", "orders:billing"),
)
DEMO_OSS_KEY = DemoApiKey(
    "apikey-demo-oss",
    "Demo OSS fulfilment system",
    "demooss",
    "dev-only-oss-secret-not-for-production",
    ("orders:read", "orders:fulfil"),
)
# The network operations (OSS) system of the tickets service: opens trouble tickets and reports
# mass incidents (outages); sales:read because tickets checks customers with sales as this key;
# webhooks:* to listen to ticket events at the TMF621 hub.
DEMO_TICKETS_OSS_KEY = DemoApiKey(
    "apikey-demo-tickets-oss",
    "Demo OSS network operations (tickets)",
    "demonoc",
    "dev-only-noc-secret-not-for-production",
    ("tickets:read", "tickets:write", "tickets:incidents", "sales:read", "webhooks:read", "webhooks:write"),
)
DEMO_SYSTEM_KEYS = (DEMO_ORDERS_BILLING_KEY, DEMO_OSS_KEY, DEMO_TICKETS_OSS_KEY)


@dataclass(frozen=True)
class SeedResult:
    users_created: list[str]
    api_key_created: bool
    api_key: str


async def seed_demo(db: Database, settings: GatewaySettings) -> SeedResult:
    if settings.profile != "dev":
        raise RuntimeError(f"demo data is for the dev profile only (profile is {settings.profile!r})")
    passwords = Passwords.for_settings(settings)
    password_hash = await passwords.hash(DEMO_PASSWORD)
    created: list[str] = []
    async with db.unit_of_work() as session:
        existing = set(await session.scalars(select(User.id)))
        taken_names = set(await session.scalars(select(User.username)))
        for demo in DEMO_USERS:
            if demo.id in existing or demo.username in taken_names:
                continue
            now = utcnow()
            user = User(
                id=demo.id,
                username=demo.username,
                full_name=demo.full_name,
                password_hash=password_hash,
                role=demo.role,
                region_code=demo.region_code,
                branch_code=demo.branch_code,
                partner_id=demo.partner_id,
                language=demo.language,
                email=demo.email,
                active=True,
                version=1,
                token_generation=1,
                created_at=now,
                updated_at=now,
            )
            session.add(user)
            await publish_user(session, "created", user)
            created.append(demo.username)
        key_exists = await session.get(ApiKey, DEMO_API_KEY_ID) is not None
        if not key_exists:
            session.add(
                ApiKey(
                    id=DEMO_API_KEY_ID,
                    name="Demo billing system",
                    prefix=DEMO_API_KEY_PREFIX,
                    secret_hash=await passwords.hash(DEMO_API_KEY_SECRET),
                    scopes=DEMO_API_KEY_SCOPES,
                    active=True,
                    created_by="seed",
                    created_at=utcnow(),
                )
            )
        for demo_key in DEMO_SYSTEM_KEYS:
            if await session.get(ApiKey, demo_key.id) is None:
                session.add(
                    ApiKey(
                        id=demo_key.id,
                        name=demo_key.name,
                        prefix=demo_key.prefix,
                        secret_hash=await passwords.hash(demo_key.secret),
                        scopes=list(demo_key.scopes),
                        active=True,
                        created_by="seed",
                        created_at=utcnow(),
                    )
                )
    result = SeedResult(users_created=created, api_key_created=not key_exists, api_key=DEMO_API_KEY)
    print(
        f"gateway demo data: {len(created)} users created (password {DEMO_PASSWORD!r}); "
        f"billing API key ({', '.join(DEMO_API_KEY_SCOPES)}): {DEMO_API_KEY}; "
        + "; ".join(f"{k.name} ({', '.join(k.scopes)}): {k.key}" for k in DEMO_SYSTEM_KEYS)
    )
    return result
