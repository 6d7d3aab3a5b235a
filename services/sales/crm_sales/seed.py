"""Demo and benchmark data for the sales service.

``seed_demo(db)`` loads a few hundred realistic customers through the normal create path
(audit entries and outbox events included), the same ones every time; running it again adds
nothing. These fixed customers are documented for tests, the README and demos:

=====================================  ============  ==============  ======  ========================
customer                               IIN / BIN     primary phone   branch  owner
=====================================  ============  ==============  ======  ========================
Seitkali Aigerim Nurlanovna            900515412345  +77011234567    ALA-01  user-almaty-agent
Bekov Daniyar Serikovich               851103343210  +77051112233    ALA-02  user-admin
Karaganda Steel Service (LLP)          040540123456  +77212410000    KAR-01  user-karaganda-manager
Astana Digital Solutions (LLP)         150340234562  +77172555000    AST-01  user-admin
=====================================  ============  ==============  ======  ========================

``seed_bulk(db, n)`` inserts ``n`` customers (one phone each) with multi-row inserts and no
events, for benchmarks.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, select

from crm_shared.auth import Principal, Role
from crm_shared.db import Database, new_id, utcnow
from crm_shared.errors import Problem
from crm_shared.reference import BRANCHES_BY_CODE, DEMO_BRANCHES

from . import customer_service
from .api.customer_schemas import AddressIn, BusinessCreate, ContactIn, IndividualCreate
from .db.models import Customer, CustomerPhone
from .domain.customers import name_key
from .domain.identifiers import make_bin, make_iin

log = logging.getLogger("crm.sales.seed")

DEMO_CUSTOMER_COUNT = 300
SEED = 20240915
BATCH = 50


@dataclass(frozen=True)
class DemoOwner:
    id: str
    username: str
    role: Role
    region: str | None = None
    branch: str | None = None

    def principal(self) -> Principal:
        return Principal(self.id, self.username, self.role, region=self.region, branch=self.branch)


# The gateway's demo users who own customers (crm_gateway.seed.DEMO_USERS holds all of them).
ADMIN = DemoOwner("user-admin", "admin", Role.ADMIN)
ALMATY_AGENT = DemoOwner("user-almaty-agent", "almaty.agent", Role.BRANCH_AGENT, "KZ-75", "ALA-01")
ALMATY_MANAGER = DemoOwner("user-almaty-manager", "almaty.manager", Role.BRANCH_MANAGER, "KZ-75", "ALA-01")
KARAGANDA_AGENT = DemoOwner("user-karaganda-agent", "karaganda.agent", Role.BRANCH_AGENT, "KZ-35", "KAR-01")
KARAGANDA_MANAGER = DemoOwner("user-karaganda-manager", "karaganda.manager", Role.BRANCH_MANAGER, "KZ-35", "KAR-01")
OWNERS_BY_BRANCH = {"ALA-01": (ALMATY_AGENT, ALMATY_MANAGER), "KAR-01": (KARAGANDA_AGENT, KARAGANDA_MANAGER)}
# Share of the generated customers each branch gets (the two staffed branches get more).
BRANCH_WEIGHTS = {b.code: 1 for b in DEMO_BRANCHES} | {"ALA-01": 5, "KAR-01": 4}

FIXED: tuple[tuple[DemoOwner, IndividualCreate | BusinessCreate], ...] = (
    (ALMATY_AGENT, IndividualCreate(
        kind="individual", iin="900515412345", first_name="Aigerim", middle_name="Nurlanovna", last_name="Seitkali",
        phone="+77011234567", email="aigerim.seitkali@example.kz", language="kk", branch_code="ALA-01",
        marketing_consent=True, data_processing_consent=True,
        addresses=[AddressIn(kind="registration", city="Almaty", street="Abay Ave", building="150", apartment="12",
                             postal_code="050000")])),
    (ADMIN, IndividualCreate(
        kind="individual", iin="851103343210", first_name="Daniyar", middle_name="Serikovich", last_name="Bekov",
        phone="+77051112233", language="ru", branch_code="ALA-02", data_processing_consent=True)),
    (KARAGANDA_MANAGER, BusinessCreate(
        kind="business", bin="040540123456", legal_name="Karaganda Steel Service", legal_form="LLP",
        phone="+77212410000", email="office@ksteel.example.kz", language="ru", branch_code="KAR-01",
        data_processing_consent=True,
        contacts=[ContactIn(name="Serik Akhmetov", position="Chief engineer", phone="+77017654321",
                            email="s.akhmetov@ksteel.example.kz")],
        addresses=[AddressIn(kind="service", city="Karaganda", street="Bukhar Zhyrau Blvd", building="49",
                             postal_code="100000")])),
    (ADMIN, BusinessCreate(
        kind="business", bin="150340234562", legal_name="Astana Digital Solutions", legal_form="LLP",
        phone="+77172555000", email="hello@astanadigital.example.kz", language="en", branch_code="AST-01",
        data_processing_consent=True, marketing_consent=True)),
)

KAZAKH_MALE = ("Nurlan", "Yerlan", "Daniyar", "Arman", "Askar", "Bauyrzhan", "Serik", "Marat", "Timur", "Aidos",
               "Yerzhan", "Almas", "Dauren", "Kairat", "Zhandos", "Nursultan", "Olzhas", "Berik")
KAZAKH_FEMALE = ("Aigerim", "Dana", "Aizhan", "Gulnara", "Saule", "Madina", "Dinara", "Zhanar", "Aruzhan",
                 "Kamila", "Assel", "Ainur", "Botagoz", "Zarina", "Akbota", "Moldir")
KAZAKH_SURNAMES = ("Nurlanov", "Abenov", "Zhumabekov", "Tokhtarov", "Sadykov", "Bekov", "Akhmetov", "Omarov",
                   "Kassymov", "Iskakov", "Suleimenov", "Baimukhanov", "Mukanov", "Nurpeisov", "Tulegenov",
                   "Yesenov", "Karimov", "Zhakupov")
KAZAKH_UNCHANGING_SURNAMES = ("Seitkali", "Kudaibergen", "Amanzhol", "Sarsen")
RUSSIAN_MALE = ("Иван", "Сергей", "Алексей", "Дмитрий", "Андрей", "Михаил", "Владимир", "Николай", "Павел")
RUSSIAN_FEMALE = ("Ольга", "Ирина", "Татьяна", "Елена", "Наталья", "Светлана", "Анна", "Юлия")
RUSSIAN_SURNAMES = ("Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Волков", "Федоров", "Морозов", "Ким",
                    "Пак", "Новиков", "Соколов")
RUSSIAN_FATHERS = ("Иван", "Сергей", "Петр", "Николай", "Владимир", "Александр", "Виктор")
BUSINESS_WORDS = ("Almaty", "Steppe", "Kazakh", "Caspian", "Altyn", "Nomad", "Baiterek", "Tulpar", "Saryarka",
                  "Zhetysu", "Irbis", "Kokzhiek", "Yessil", "Ulytau", "Khan Tengri", "Samruk", "Shanyraq", "Dala")
BUSINESS_TRADES = ("Trade House", "Logistics", "Agro Invest", "Oil Service", "Digital", "Construction", "Motors",
                   "Energy", "Foods", "Security", "Dairy", "Pharm", "Textile", "Telecom Service", "Med Center",
                   "Auto Parts", "Hotel Group", "Consulting")
LEGAL_FORMS = ("LLP", "LLP", "LLP", "JSC", "IE")
MOBILE_PREFIXES = ("700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778")
STREETS = ("Abay Ave", "Dostyk Ave", "Tole Bi St", "Satpayev St", "Respublika Ave", "Kabanbay Batyr Ave",
           "Gogol St", "Zhibek Zholy St", "Bukhar Zhyrau Blvd", "Al-Farabi Ave", "Auezov St", "Lenin St")
POSTAL_CODES = {"Almaty": "050000", "Astana": "010000", "Shymkent": "160000", "Karaganda": "100000",
                "Temirtau": "101400", "Pavlodar": "140000", "Aktobe": "030000", "Atyrau": "060000",
                "Oskemen": "070000", "Semey": "071400", "Kostanay": "110000"}


def _patronymic(father: str, female: bool, russian: bool) -> str:
    if russian:
        stem = {"Николай": "Николаев", "Петр": "Петров"}.get(father, father + "ов")
        return stem + ("на" if female else "ич")
    return father + ("ovna" if female else "ovich")


class _Generator:
    """Deterministic demo people and companies with unique identifiers and phones."""

    def __init__(self, seed: int, taken: set[str] | None = None) -> None:
        self.rng = random.Random(seed)
        self.taken = set(taken or ())

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value and value not in self.taken:
                self.taken.add(value)
                return value

    def iin(self, female: bool) -> tuple[str, date]:
        born = date(1950, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 55))
        return self._unique(lambda: make_iin(born, female, self.rng.randrange(0, 10000))), born

    def bin(self) -> str:
        registered = date(1995, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 29))
        return self._unique(lambda: make_bin(registered, self.rng.choice((4, 4, 4, 5, 6)),
                                             self.rng.randrange(0, 100000)))

    def mobile(self) -> str:
        return self._unique(lambda: f"+7{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(0, 10_000_000):07d}")

    def person(self) -> dict[str, Any]:
        female = self.rng.random() < 0.5
        russian = self.rng.random() < 0.3
        if russian:
            first = self.rng.choice(RUSSIAN_FEMALE if female else RUSSIAN_MALE)
            last = self.rng.choice(RUSSIAN_SURNAMES)
            last = last + "а" if female and last.endswith("ов") else last
            middle = _patronymic(self.rng.choice(RUSSIAN_FATHERS), female, True)
        else:
            first = self.rng.choice(KAZAKH_FEMALE if female else KAZAKH_MALE)
            if self.rng.random() < 0.15:
                last = self.rng.choice(KAZAKH_UNCHANGING_SURNAMES)
            else:
                last = self.rng.choice(KAZAKH_SURNAMES) + ("a" if female else "")
            middle = _patronymic(self.rng.choice(KAZAKH_MALE), female, False)
        iin, born = self.iin(female)
        return {"kind": "individual", "iin": iin, "birth_date": born, "first_name": first, "last_name": last,
                "middle_name": middle if self.rng.random() < 0.85 else None,
                "language": "ru" if russian else self.rng.choice(("kk", "kk", "ru", "en"))}

    def company(self) -> dict[str, Any]:
        name = f"{self.rng.choice(BUSINESS_WORDS)} {self.rng.choice(BUSINESS_TRADES)}"
        return {"kind": "business", "bin": self.bin(), "legal_name": name, "legal_form": self.rng.choice(LEGAL_FORMS),
                "language": self.rng.choice(("kk", "ru", "ru", "en"))}

    def branch(self) -> str:
        codes = list(BRANCH_WEIGHTS)
        return self.rng.choices(codes, weights=[BRANCH_WEIGHTS[c] for c in codes])[0]

    def owner(self, branch_code: str) -> DemoOwner:
        return self.rng.choice(OWNERS_BY_BRANCH.get(branch_code, (ADMIN,)))

    def address(self, branch_code: str) -> AddressIn:
        city = BRANCHES_BY_CODE[branch_code].city
        return AddressIn(kind=self.rng.choice(("registration", "service", "service", "billing")), city=city,
                         street=self.rng.choice(STREETS), building=str(self.rng.randrange(1, 250)),
                         apartment=str(self.rng.randrange(1, 180)) if self.rng.random() < 0.6 else None,
                         postal_code=POSTAL_CODES.get(city))

    def demo_customer(self) -> tuple[DemoOwner, IndividualCreate | BusinessCreate]:
        branch_code = self.branch()
        fields = self.person() if self.rng.random() < 0.8 else self.company()
        local = fields.get("first_name") or fields["legal_name"].split()[0]
        email = f"{local.lower()}.{self.rng.randrange(100, 999)}@example.kz" if local.isascii() else None
        common = {
            "phone": self.mobile(),
            "email": email if self.rng.random() < 0.6 else None,
            "branch_code": branch_code,
            "data_processing_consent": self.rng.random() < 0.95,
            "marketing_consent": self.rng.random() < 0.4,
            "addresses": [self.address(branch_code)] if self.rng.random() < 0.7 else [],
        }
        if fields["kind"] == "individual":
            fields.pop("birth_date")  # derived from the IIN by the create
            request = IndividualCreate(**fields, **common)
        else:
            contacts = [ContactIn(name=f"{self.rng.choice(KAZAKH_MALE + KAZAKH_FEMALE)} "
                                       f"{self.rng.choice(KAZAKH_SURNAMES)}",
                                  position=self.rng.choice(("Director", "Chief accountant", "IT manager", "Office manager")),
                                  phone=self.mobile())] if self.rng.random() < 0.7 else []
            request = BusinessCreate(**fields, **common, contacts=contacts)
        return self.owner(branch_code), request


def demo_customers(count: int = DEMO_CUSTOMER_COUNT) -> list[tuple[DemoOwner, IndividualCreate | BusinessCreate]]:
    """The fixed customers followed by ``count - len(FIXED)`` generated ones; the same on every call."""
    fixed_ids = {r.iin if r.kind == "individual" else r.bin for _, r in FIXED} | {r.phone for _, r in FIXED}
    generator = _Generator(SEED, taken=fixed_ids)
    return list(FIXED) + [generator.demo_customer() for _ in range(max(count - len(FIXED), 0))]


async def seed_demo(db: Database) -> dict[str, int]:
    """Creates the demo customers that do not exist yet (by IIN/BIN); returns what it did.
    (One parameter only: `crm seed` passes the settings too when a seed takes two.)"""
    wanted = demo_customers(DEMO_CUSTOMER_COUNT)
    tax_ids = [r.iin if r.kind == "individual" else r.bin for _, r in wanted]
    async with db.read_only() as session:
        existing = set(await session.scalars(select(Customer.tax_id).where(Customer.tax_id.in_(tax_ids))))
    missing = [(owner, request) for (owner, request), tax_id in zip(wanted, tax_ids) if tax_id not in existing]
    created = skipped = 0
    for start in range(0, len(missing), BATCH):
        async with db.unit_of_work() as session:
            for owner, request in missing[start:start + BATCH]:
                try:
                    # A duplicate is refused before anything is written, so the batch goes on.
                    await customer_service.create_customer(session, owner.principal(), request)
                    created += 1
                except Problem as problem:  # e.g. someone registered this phone by hand meanwhile
                    log.warning("demo customer skipped: %s", problem.detail)
                    skipped += 1
    log.info("demo customers: %d created, %d already there, %d skipped", created, len(existing), skipped)
    return {"created": created, "existing": len(existing), "skipped": skipped}


async def seed_bulk(db: Database, n: int, *, seed: int | None = None, chunk: int = 5000) -> int:
    """Inserts ``n`` customers with one phone each, spread over the demo branches and owners,
    with multi-row inserts and without audit or events (benchmark data). Returns ``n``."""
    async with db.read_only() as session:
        taken = set(await session.scalars(select(Customer.tax_id)))
    generator = _Generator(seed if seed is not None else random.randrange(1 << 30), taken=taken)
    customer_table, phone_table = Customer.__table__, CustomerPhone.__table__
    for start in range(0, n, chunk):
        now = utcnow()
        customers: list[dict[str, Any]] = []
        phones: list[dict[str, Any]] = []
        for _ in range(min(chunk, n - start)):
            branch_code = generator.branch()
            owner = generator.owner(branch_code)
            fields = generator.person() if generator.rng.random() < 0.8 else generator.company()
            individual = fields["kind"] == "individual"
            tax_id = fields["iin"] if individual else fields["bin"]
            phone = generator.mobile()
            customer_id = new_id()
            customers.append({
                "id": customer_id, "kind": fields["kind"], "tax_id": tax_id,
                "first_name": fields.get("first_name"), "last_name": fields.get("last_name"),
                "middle_name": fields.get("middle_name"),
                "birth_date": fields.get("birth_date"), "legal_name": fields.get("legal_name"),
                "legal_form": fields.get("legal_form"),
                "name_key": name_key(fields["kind"], first_name=fields.get("first_name"),
                                     last_name=fields.get("last_name"), middle_name=fields.get("middle_name"),
                                     legal_name=fields.get("legal_name")),
                "primary_phone": phone, "email": None, "language": fields["language"],
                "marketing_consent": False, "marketing_consent_at": None,
                "data_processing_consent": True, "data_processing_consent_at": now,
                "status": "active", "merged_into_id": None, "owner_id": owner.id, "owner_name": owner.username,
                "branch_code": branch_code, "region_code": BRANCHES_BY_CODE[branch_code].region_code,
                "version": 1, "created_at": now, "updated_at": now,
            })
            phones.append({"id": new_id(), "customer_id": customer_id, "e164": phone, "label": "mobile",
                           "created_at": now})
        async with db.unit_of_work() as session:
            if db.is_postgres:
                await _copy_rows(session, customer_table, customers)
                await _copy_rows(session, phone_table, phones)
            else:
                await session.execute(insert(customer_table), customers)
                await session.execute(insert(phone_table), phones)
    return n


async def _copy_rows(session, table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL COPY through asyncpg: an order of magnitude faster than multi-row INSERTs."""
    columns = list(rows[0])
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(
        table.name, records=[tuple(row[c] for c in columns) for row in rows], columns=columns)
