"""The demo catalogue: a realistic set of Kazakh telecom offerings (fixed internet, IPTV, mobile,
fixed line, bundles), one retired and some sold in a few regions only. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from crm_shared.db import Database, utcnow

from .db.models import Offering
from .services.catalog_service import snapshot


@dataclass(frozen=True)
class DemoOffering:
    id: str
    name: str
    product_line: str
    one_off_kzt: int
    monthly_kzt: int
    characteristics: dict[str, str]
    region_codes: tuple[str, ...] = ()
    status: str = "active"
    bundled: tuple[str, ...] = ()
    description: str = ""

    @property
    def names(self) -> dict[str, str]:
        kk, ru = NAMES[self.id]
        return {"kk": kk, "ru": ru, "en": self.name}


CITIES = ("KZ-75", "KZ-71", "KZ-79")  # Almaty, Astana, Shymkent
# The demo offerings' names in Kazakh and Russian (English: DemoOffering.name).
NAMES: dict[str, tuple[str, str]] = {
    "inet-adsl-8": ("ADSL 8 Мбит/с", "ADSL 8 Мбит/с"),
    "inet-gpon-100": ("Оптика 100 Мбит/с", "Оптика 100 Мбит/с"),
    "inet-gpon-300": ("Оптика 300 Мбит/с", "Оптика 300 Мбит/с"),
    "inet-gpon-500": ("Оптика 500 Мбит/с", "Оптика 500 Мбит/с"),
    "inet-gpon-1000": ("Оптика 1 Гбит/с", "Оптика 1 Гбит/с"),
    "inet-lte-home": ("Үйге арналған LTE 50 ГБ", "Домашний LTE 50 ГБ"),
    "tv-base": ("IPTV Базалық (120 арна)", "IPTV Базовый (120 каналов)"),
    "tv-max": ("IPTV Max (200 арна)", "IPTV Максимальный (200 каналов)"),
    "tv-kids": ("IPTV Балалар қосымшасы", "IPTV Детский (дополнение)"),
    "mob-start": ("Мобильді Старт 10 ГБ", "Мобильный Старт 10 ГБ"),
    "mob-plus": ("Мобильді Плюс 30 ГБ", "Мобильный Плюс 30 ГБ"),
    "mob-unlim": ("Мобильді Шексіз", "Мобильный Безлимитный"),
    "fix-home": ("Үй телефоны", "Домашний телефон"),
    "fix-business": ("Бизнеске арналған телефон желісі", "Телефонная линия для бизнеса"),
    "bundle-home-duo": ("Үй Дуо: Оптика 100 + IPTV Базалық", "Домашний Дуо: Оптика 100 + IPTV Базовый"),
    "bundle-family-trio": (
        "Отбасылық Трио: Оптика 300 + IPTV Max + Мобильді Плюс",
        "Семейное Трио: Оптика 300 + IPTV Максимальный + Мобильный Плюс",
    ),
}
DEMO_CATALOGUE: tuple[DemoOffering, ...] = (
    DemoOffering(
        "inet-adsl-8",
        "ADSL 8 Mbit/s",
        "internet",
        5000,
        3990,
        {"download_speed_mbps": "8", "technology": "adsl"},
        status="retired",
        description="Copper broadband, no longer sold",
    ),
    DemoOffering(
        "inet-gpon-100",
        "Fibre 100 Mbit/s",
        "internet",
        10000,
        6990,
        {"download_speed_mbps": "100", "technology": "gpon"},
    ),
    DemoOffering(
        "inet-gpon-300",
        "Fibre 300 Mbit/s",
        "internet",
        10000,
        9990,
        {"download_speed_mbps": "300", "technology": "gpon"},
    ),
    DemoOffering(
        "inet-gpon-500",
        "Fibre 500 Mbit/s",
        "internet",
        10000,
        12990,
        {"download_speed_mbps": "500", "technology": "gpon"},
    ),
    DemoOffering(
        "inet-gpon-1000",
        "Fibre 1 Gbit/s",
        "internet",
        15000,
        17990,
        {"download_speed_mbps": "1000", "technology": "gpon"},
        region_codes=CITIES,
    ),
    DemoOffering(
        "inet-lte-home", "Home LTE 50 GB", "internet", 19990, 5990, {"data_allowance_gb": "50", "technology": "lte"}
    ),
    DemoOffering("tv-base", "IPTV Base (120 channels)", "tv", 0, 2990, {"channels": "120", "hd_channels": "30"}),
    DemoOffering("tv-max", "IPTV Max (200 channels)", "tv", 0, 4990, {"channels": "200", "hd_channels": "80"}),
    DemoOffering("tv-kids", "IPTV Kids add-on", "tv", 0, 990, {"channels": "15"}),
    DemoOffering("mob-start", "Mobile Start 10 GB", "mobile", 500, 2490, {"data_allowance_gb": "10", "minutes": "300"}),
    DemoOffering("mob-plus", "Mobile Plus 30 GB", "mobile", 500, 3990, {"data_allowance_gb": "30", "minutes": "600"}),
    DemoOffering(
        "mob-unlim", "Mobile Unlimited", "mobile", 500, 6990, {"data_allowance_gb": "unlimited", "minutes": "unlimited"}
    ),
    DemoOffering("fix-home", "Home phone line", "fixed_line", 3000, 990, {"local_minutes": "unlimited"}),
    DemoOffering(
        "fix-business", "Business phone line", "fixed_line", 5000, 2990, {"local_minutes": "unlimited", "lines": "1"}
    ),
    DemoOffering(
        "bundle-home-duo",
        "Home Duo: Fibre 100 + IPTV Base",
        "bundle",
        10000,
        8490,
        {"download_speed_mbps": "100", "channels": "120"},
        bundled=("inet-gpon-100", "tv-base"),
    ),
    DemoOffering(
        "bundle-family-trio",
        "Family Trio: Fibre 300 + IPTV Max + Mobile Plus",
        "bundle",
        10000,
        15990,
        {"download_speed_mbps": "300", "channels": "200", "data_allowance_gb": "30"},
        bundled=("inet-gpon-300", "tv-max", "mob-plus"),
    ),
)


def make_offering(demo: DemoOffering) -> Offering:
    now = utcnow()
    return Offering(
        id=demo.id,
        name=demo.name,
        names=demo.names,
        description=demo.description,
        product_line=demo.product_line,
        status=demo.status,
        one_off_price_tiyn=demo.one_off_kzt * 100,
        recurring_price_tiyn=demo.monthly_kzt * 100,
        currency="KZT",
        characteristics=dict(demo.characteristics),
        region_codes=list(demo.region_codes),
        bundled_offering_ids=list(demo.bundled),
        version=1,
        created_at=now,
        updated_at=now,
    )


async def add_offerings(db: Database, offerings: list[DemoOffering]) -> int:
    """Adds the offerings whose id is not in the catalogue yet, and gives the demo offerings already
    there (a catalogue from before offerings had names in three languages) their names; returns how
    many it added."""
    async with db.unit_of_work() as session:
        existing = set(await session.scalars(select(Offering.id)))
        by_id = {demo.id: demo for demo in offerings}
        for offering in await session.scalars(select(Offering).where(Offering.id.in_(existing & set(by_id)))):
            if not offering.names:
                offering.names = by_id[offering.id].names
        added = 0
        for demo in offerings:
            if demo.id in existing:
                continue
            offering = make_offering(demo)
            session.add(offering)
            snapshot(session, offering)
            added += 1
    return added


async def seed_demo(db: Database) -> dict[str, int]:
    added = await add_offerings(db, list(DEMO_CATALOGUE))
    return {"offerings_created": added, "offerings_existing": len(DEMO_CATALOGUE) - added}
