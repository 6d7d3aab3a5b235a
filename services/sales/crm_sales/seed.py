"""Demo and benchmark data for the sales service.

``seed_demo(db)`` loads a few hundred realistic customers through the normal create path
(audit entries and outbox events included), the same ones every time, then a demo pipeline on
them (``seed_pipeline``: leads, opportunities, activities); running it again adds nothing.
These fixed customers are documented for tests, the README and demos:

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

What a benchmark needs of the seeded data, as plain values (benchmarks use the service through its
``main``, ``config``, ``seed``, ``services`` and ``domain`` only, never its tables):
``sample_phones(db, n)`` (``PhoneSample``: customer id and E.164 phone, a random sample),
``taken_identifiers(db)`` (every IIN/BIN and phone in use), ``branch_customer_ids(db, branch)``,
``sample_customers(db, n)`` (``CustomerRow``, a random sample), and for the outbox relay
``customer_event_payloads(n)`` (crm.sales.customer.created payloads built with the service's own
``customer_state``) and ``seed_customer_events(db, n)`` (writes them into the outbox with the
service's ``EventWriter``, to ``CUSTOMER_EVENTS_TOPIC``).
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, Role
from crm_shared.db import Database, new_id, utcnow
from crm_shared.domain import DomainError
from crm_shared.errors import Problem
from crm_shared.idempotency import find_replay, remember
from crm_shared.identifiers import make_bin, make_iin
from crm_shared.reference import INITIAL_BRANCHES, INITIAL_BRANCHES_BY_CODE

from .db.models import Address, Contact, Customer, CustomerPhone
from .domain.customers import CustomerStatus, customer_search_text, name_key
from .domain.pipeline import ActivityKind, LeadStatus, ProductLine, Stage
from .events.publishers import CUSTOMER, CUSTOMER_TOPIC, EVENTS, customer_state
from .services import customer_service
from .services.activity_service import NewActivity, log_activity
from .services.customer_service import NewAddress, NewBusiness, NewContact, NewCustomer, NewIndividual
from .services.lead_service import ConversionOpportunity, NewLead, change_lead, convert_lead, register_lead
from .services.opportunity_service import NewOpportunity, change_opportunity, open_opportunity
from .services.staff_directory_service import record_staff_member

log = logging.getLogger("crm.sales.seed")

DEMO_CUSTOMER_COUNT = 300
SEED = 20240915
BATCH = 50


@dataclass(frozen=True)
class DemoOwner:
    id: str
    username: str
    full_name: str
    role: Role
    region: str | None = None
    branch: str | None = None

    def principal(self) -> Principal:
        return Principal(
            self.id, self.username, self.role, region=self.region, branch=self.branch, full_name=self.full_name
        )


# The gateway's demo users who own customers (crm_gateway.seed.DEMO_USERS holds all of them).
ADMIN = DemoOwner("user-admin", "admin", "Aliya Seitkali (administrator)", Role.ADMIN)
ALMATY_AGENT = DemoOwner("user-almaty-agent", "almaty.agent", "Dana Nurlanovna", Role.BRANCH_AGENT, "KZ-75", "ALA-01")
ALMATY_MANAGER = DemoOwner(
    "user-almaty-manager", "almaty.manager", "Yerlan Abenov", Role.BRANCH_MANAGER, "KZ-75", "ALA-01"
)
KARAGANDA_AGENT = DemoOwner(
    "user-karaganda-agent", "karaganda.agent", "Irina Kim", Role.BRANCH_AGENT, "KZ-35", "KAR-01"
)
KARAGANDA_MANAGER = DemoOwner(
    "user-karaganda-manager", "karaganda.manager", "Serik Zhumabekov", Role.BRANCH_MANAGER, "KZ-35", "KAR-01"
)
DEMO_OWNERS = (ADMIN, ALMATY_AGENT, ALMATY_MANAGER, KARAGANDA_AGENT, KARAGANDA_MANAGER)
# Older than any event of the gateway's: the directory's own entries win over these.
DEMO_STAFF_AS_OF = datetime(2000, 1, 1, tzinfo=UTC)
OWNERS_BY_BRANCH = {"ALA-01": (ALMATY_AGENT, ALMATY_MANAGER), "KAR-01": (KARAGANDA_AGENT, KARAGANDA_MANAGER)}
# Share of the generated customers each branch gets (the two staffed branches get more).
BRANCH_WEIGHTS = {b.code: 1 for b in INITIAL_BRANCHES} | {"ALA-01": 5, "KAR-01": 4}

FIXED: tuple[tuple[DemoOwner, NewCustomer], ...] = (
    (
        ALMATY_AGENT,
        NewIndividual(
            iin="900515412345",
            first_name="Aigerim",
            middle_name="Nurlanovna",
            last_name="Seitkali",
            phone="+77011234567",
            email="aigerim.seitkali@example.kz",
            language="kk",
            branch_code="ALA-01",
            marketing_consent=True,
            data_processing_consent=True,
            addresses=(
                NewAddress(
                    kind="registration",
                    city="Almaty",
                    street="Abay Ave",
                    building="150",
                    apartment="12",
                    postal_code="050000",
                ),
            ),
        ),
    ),
    (
        ADMIN,
        NewIndividual(
            iin="851103343210",
            first_name="Daniyar",
            middle_name="Serikovich",
            last_name="Bekov",
            phone="+77051112233",
            language="ru",
            branch_code="ALA-02",
            data_processing_consent=True,
        ),
    ),
    (
        KARAGANDA_MANAGER,
        NewBusiness(
            bin="040540123456",
            legal_name="Karaganda Steel Service",
            legal_form="LLP",
            phone="+77212410000",
            email="office@ksteel.example.kz",
            language="ru",
            branch_code="KAR-01",
            data_processing_consent=True,
            contacts=(
                NewContact(
                    name="Serik Akhmetov",
                    position="Chief engineer",
                    phone="+77017654321",
                    email="s.akhmetov@ksteel.example.kz",
                ),
            ),
            addresses=(
                NewAddress(
                    kind="service", city="Karaganda", street="Bukhar Zhyrau Blvd", building="49", postal_code="100000"
                ),
            ),
        ),
    ),
    (
        ADMIN,
        NewBusiness(
            bin="150340234562",
            legal_name="Astana Digital Solutions",
            legal_form="LLP",
            phone="+77172555000",
            email="hello@astanadigital.example.kz",
            language="en",
            branch_code="AST-01",
            data_processing_consent=True,
            marketing_consent=True,
        ),
    ),
)

KAZAKH_MALE = (
    "Nurlan",
    "Yerlan",
    "Daniyar",
    "Arman",
    "Askar",
    "Bauyrzhan",
    "Serik",
    "Marat",
    "Timur",
    "Aidos",
    "Yerzhan",
    "Almas",
    "Dauren",
    "Kairat",
    "Zhandos",
    "Nursultan",
    "Olzhas",
    "Berik",
)
KAZAKH_FEMALE = (
    "Aigerim",
    "Dana",
    "Aizhan",
    "Gulnara",
    "Saule",
    "Madina",
    "Dinara",
    "Zhanar",
    "Aruzhan",
    "Kamila",
    "Assel",
    "Ainur",
    "Botagoz",
    "Zarina",
    "Akbota",
    "Moldir",
)
KAZAKH_SURNAMES = (
    "Nurlanov",
    "Abenov",
    "Zhumabekov",
    "Tokhtarov",
    "Sadykov",
    "Bekov",
    "Akhmetov",
    "Omarov",
    "Kassymov",
    "Iskakov",
    "Suleimenov",
    "Baimukhanov",
    "Mukanov",
    "Nurpeisov",
    "Tulegenov",
    "Yesenov",
    "Karimov",
    "Zhakupov",
)
KAZAKH_UNCHANGING_SURNAMES = ("Seitkali", "Kudaibergen", "Amanzhol", "Sarsen")
RUSSIAN_MALE = ("Иван", "Сергей", "Алексей", "Дмитрий", "Андрей", "Михаил", "Владимир", "Николай", "Павел")
RUSSIAN_FEMALE = ("Ольга", "Ирина", "Татьяна", "Елена", "Наталья", "Светлана", "Анна", "Юлия")
RUSSIAN_SURNAMES = (
    "Иванов",
    "Петров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Волков",
    "Федоров",
    "Морозов",
    "Ким",
    "Пак",
    "Новиков",
    "Соколов",
)
RUSSIAN_FATHERS = ("Иван", "Сергей", "Петр", "Николай", "Владимир", "Александр", "Виктор")
BUSINESS_WORDS = (
    "Almaty",
    "Steppe",
    "Kazakh",
    "Caspian",
    "Altyn",
    "Nomad",
    "Baiterek",
    "Tulpar",
    "Saryarka",
    "Zhetysu",
    "Irbis",
    "Kokzhiek",
    "Yessil",
    "Ulytau",
    "Khan Tengri",
    "Samruk",
    "Shanyraq",
    "Dala",
)
BUSINESS_TRADES = (
    "Trade House",
    "Logistics",
    "Agro Invest",
    "Oil Service",
    "Digital",
    "Construction",
    "Motors",
    "Energy",
    "Foods",
    "Security",
    "Dairy",
    "Pharm",
    "Textile",
    "Telecom Service",
    "Med Center",
    "Auto Parts",
    "Hotel Group",
    "Consulting",
)
LEGAL_FORMS = ("LLP", "LLP", "LLP", "JSC", "IE")
MOBILE_PREFIXES = ("700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778")
STREETS = (
    "Abay Ave",
    "Dostyk Ave",
    "Tole Bi St",
    "Satpayev St",
    "Respublika Ave",
    "Kabanbay Batyr Ave",
    "Gogol St",
    "Zhibek Zholy St",
    "Bukhar Zhyrau Blvd",
    "Al-Farabi Ave",
    "Auezov St",
    "Lenin St",
)
POSTAL_CODES = {
    "Almaty": "050000",
    "Astana": "010000",
    "Shymkent": "160000",
    "Karaganda": "100000",
    "Temirtau": "101400",
    "Pavlodar": "140000",
    "Aktobe": "030000",
    "Atyrau": "060000",
    "Oskemen": "070000",
    "Semey": "071400",
    "Kostanay": "110000",
}


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
        return self._unique(
            lambda: make_bin(registered, self.rng.choice((4, 4, 4, 5, 6)), self.rng.randrange(0, 100000))
        )

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
        return {
            "kind": "individual",
            "iin": iin,
            "birth_date": born,
            "first_name": first,
            "last_name": last,
            "middle_name": middle if self.rng.random() < 0.85 else None,
            "language": "ru" if russian else self.rng.choice(("kk", "kk", "ru", "en")),
        }

    def company(self) -> dict[str, Any]:
        name = f"{self.rng.choice(BUSINESS_WORDS)} {self.rng.choice(BUSINESS_TRADES)}"
        return {
            "kind": "business",
            "bin": self.bin(),
            "legal_name": name,
            "legal_form": self.rng.choice(LEGAL_FORMS),
            "language": self.rng.choice(("kk", "ru", "ru", "en")),
        }

    def branch(self) -> str:
        codes = list(BRANCH_WEIGHTS)
        return self.rng.choices(codes, weights=[BRANCH_WEIGHTS[c] for c in codes])[0]

    def owner(self, branch_code: str) -> DemoOwner:
        return self.rng.choice(OWNERS_BY_BRANCH.get(branch_code, (ADMIN,)))

    def address(self, branch_code: str) -> NewAddress:
        city = INITIAL_BRANCHES_BY_CODE[branch_code].city
        return NewAddress(
            kind=self.rng.choice(("registration", "service", "service", "billing")),
            city=city,
            street=self.rng.choice(STREETS),
            building=str(self.rng.randrange(1, 250)),
            apartment=str(self.rng.randrange(1, 180)) if self.rng.random() < 0.6 else None,
            postal_code=POSTAL_CODES.get(city),
        )

    def demo_customer(self) -> tuple[DemoOwner, NewCustomer]:
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
            "addresses": (self.address(branch_code),) if self.rng.random() < 0.7 else (),
        }
        if fields.pop("kind") == "individual":
            fields.pop("birth_date")  # derived from the IIN by the create
            request = NewIndividual(**fields, **common)
        else:
            contacts = (
                (
                    NewContact(
                        name=f"{self.rng.choice(KAZAKH_MALE + KAZAKH_FEMALE)} {self.rng.choice(KAZAKH_SURNAMES)}",
                        position=self.rng.choice(("Director", "Chief accountant", "IT manager", "Office manager")),
                        phone=self.mobile(),
                    ),
                )
                if self.rng.random() < 0.7
                else ()
            )
            request = NewBusiness(**fields, **common, contacts=contacts)
        return self.owner(branch_code), request


def demo_customers(count: int = DEMO_CUSTOMER_COUNT) -> list[tuple[DemoOwner, NewCustomer]]:
    """The fixed customers followed by ``count - len(FIXED)`` generated ones; the same on every call."""
    fixed_ids = {r.iin if r.kind == "individual" else r.bin for _, r in FIXED} | {r.phone for _, r in FIXED}
    generator = _Generator(SEED, taken=fixed_ids)
    return list(FIXED) + [generator.demo_customer() for _ in range(max(count - len(FIXED), 0))]


async def seed_demo_staff(db: Database) -> None:
    """The demo owners in the staff directory, as the gateway's user events will leave them, so
    that the demo records show their owners by name even before the directory consumer has run."""
    async with db.unit_of_work() as session:
        for owner in (*DEMO_OWNERS, CALL_CENTER, KARAGANDA_REGIONAL):
            await record_staff_member(
                session,
                owner.id,
                username=owner.username,
                full_name=owner.full_name,
                role=owner.role.value,
                region_code=owner.region,
                branch_code=owner.branch,
                active=True,
                as_of=DEMO_STAFF_AS_OF,
            )


async def seed_demo(db: Database) -> dict[str, int]:
    """Creates the demo customers that do not exist yet (by IIN/BIN), then the demo pipeline on
    them (``seed_pipeline``); returns what it did: customers ``created`` / ``existing`` /
    ``skipped``, then the pipeline's counts. Running it again adds nothing.
    (One parameter only: `crm seed` passes the settings too when a seed takes two.)"""
    await seed_demo_staff(db)
    wanted = demo_customers(DEMO_CUSTOMER_COUNT)
    tax_ids = [r.iin if r.kind == "individual" else r.bin for _, r in wanted]
    async with db.read_only() as session:
        existing = set(await session.scalars(select(Customer.tax_id).where(Customer.tax_id.in_(tax_ids))))
    missing = [(owner, request) for (owner, request), tax_id in zip(wanted, tax_ids) if tax_id not in existing]
    created = skipped = 0
    for start in range(0, len(missing), BATCH):
        async with db.unit_of_work() as session:
            for owner, request in missing[start : start + BATCH]:
                try:
                    # A duplicate is refused before anything is written, so the batch goes on.
                    await customer_service.create_customer(session, owner.principal(), request)
                    created += 1
                except (Problem, DomainError) as problem:  # e.g. someone registered this phone by hand meanwhile
                    log.warning("demo customer skipped: %s", problem.detail)
                    skipped += 1
    log.info("demo customers: %d created, %d already there, %d skipped", created, len(existing), skipped)
    return {"created": created, "existing": len(existing), "skipped": skipped} | await seed_pipeline(db)


# --- the demo pipeline: leads, opportunities, activities -------------------------------------------
#
# Each story (one lead's life, one opportunity's, one activity) runs in its own transaction through
# the same functions as the REST API, so it writes its audit entries and outbox events. It is
# recorded as an Idempotency-Key of its actor ("demo-seed:<story>") in the same transaction: a
# second run finds the key and skips the story, and a run that stopped half-way resumes.

CALL_CENTER = DemoOwner("user-callcenter", "callcenter", "Aigerim Bekova", Role.CALL_CENTER_AGENT)
KARAGANDA_REGIONAL = DemoOwner(
    "user-karaganda-regional", "karaganda.regional", "Gulnara Tokhtarova", Role.REGIONAL_MANAGER, "KZ-35"
)
STORY_KEY_PREFIX = "demo-seed:"
# The customer that a lead conversion registers (so it is not one of demo_customers()).
CONVERTED_CUSTOMER_IIN = "960418422415"
CONVERTED_CUSTOMER_PHONE = "+77025550199"


@dataclass(frozen=True)
class CustomerRef:
    """The ``index``-th demo customer of a branch, in demo_customers() order (the fixed ones first)."""

    branch_code: str
    index: int = 0


@dataclass(frozen=True)
class DemoLead:
    key: str
    owner: DemoOwner
    lead: NewLead
    status: LeadStatus  # where the story leaves the lead
    disqualify_reason: str | None = None
    link_customer: CustomerRef | None = None  # converted: link this customer...
    new_customer: dict[str, Any] | None = None  # ...or register this individual (over the lead's phone, e-mail, branch)
    converted_by: DemoOwner | None = None  # default: the owner
    opportunity: dict[str, Any] = field(default_factory=dict)  # ConversionOpportunity fields
    close_in_days: int = 30


@dataclass(frozen=True)
class DemoOpportunity:
    key: str
    customer: CustomerRef
    name: str
    product_line: ProductLine
    amount_tiyn: int
    stages: tuple[Stage, ...]  # the opening stage, then each move
    close_reason: str | None = None
    close_in_days: int = 30
    actor: DemoOwner | None = None  # default: the customer's owner


@dataclass(frozen=True)
class DemoActivity:
    key: str
    customer: CustomerRef
    kind: ActivityKind
    subject: str
    days_from_now: int  # negative: it happened (done then); positive: it is due then
    body: str | None = None
    outcome: str | None = None
    actor: DemoOwner | None = None  # default: the customer's owner
    pending: bool = False  # a task whose day has passed and that is not done yet (overdue)


DEMO_LEADS: tuple[DemoLead, ...] = (
    DemoLead(
        "lead-ala-new",
        ALMATY_AGENT,
        NewLead(
            source="web",
            name="Yerlan Tulegenov",
            phone="+77015550101",
            interest="internet",
            notes="Asked on the website for 500 Mbit/s fibre at home",
        ),
        LeadStatus.NEW,
    ),
    DemoLead(
        "lead-ala-contacted",
        ALMATY_MANAGER,
        NewLead(
            source="call_center",
            name="Madina Iskakova",
            phone="+77025550102",
            email="madina.iskakova@example.kz",
            interest="mobile",
        ),
        LeadStatus.CONTACTED,
    ),
    DemoLead(
        "lead-ala-qualified",
        ALMATY_AGENT,
        NewLead(
            source="partner",
            partner_id="partner-almaty-dealer",
            name="Arman Karimov",
            company_name="Tulpar Motors",
            phone="+77275550103",
            interest="bundle",
            notes="Office of 40 people: internet, fixed lines, mobile",
        ),
        LeadStatus.QUALIFIED,
    ),
    DemoLead(
        "lead-ala-disqualified",
        ALMATY_MANAGER,
        NewLead(
            source="campaign",
            campaign_id="campaign-spring-tv",
            name="Olga Petrova",
            email="olga.petrova@example.kz",
            interest="tv",
        ),
        LeadStatus.DISQUALIFIED,
        disqualify_reason="Lives outside the area the branch serves",
    ),
    DemoLead(
        "lead-ala-converted-new",
        ALMATY_AGENT,
        NewLead(
            source="branch_walk_in",
            name="Aruzhan Sadykova",
            phone=CONVERTED_CUSTOMER_PHONE,
            email="aruzhan.sadykova@example.kz",
            interest="bundle",
        ),
        LeadStatus.CONVERTED,
        new_customer={
            "iin": CONVERTED_CUSTOMER_IIN,
            "first_name": "Aruzhan",
            "last_name": "Sadykova",
            "language": "kk",
            "data_processing_consent": True,
        },
        converted_by=ALMATY_MANAGER,
        opportunity={"stage": "proposal", "amount_tiyn": 1_199_000, "name": "Home bundle: fibre 300 and TV"},
    ),
    DemoLead(
        "lead-ala-converted-existing",
        ALMATY_AGENT,
        NewLead(source="call_center", name="Aigerim Seitkali", phone="+77011234567", interest="tv"),
        LeadStatus.CONVERTED,
        link_customer=CustomerRef("ALA-01", 0),
        opportunity={"amount_tiyn": 499_000, "name": "TV package for Aigerim Seitkali"},
        close_in_days=14,
    ),
    DemoLead(
        "lead-kar-new",
        KARAGANDA_AGENT,
        NewLead(source="branch_walk_in", name="Serik Nurpeisov", phone="+77215550201", interest="fixed_line"),
        LeadStatus.NEW,
    ),
    DemoLead(
        "lead-kar-contacted",
        KARAGANDA_MANAGER,
        NewLead(
            source="web",
            name="Irina Smirnova",
            company_name="Saryarka Logistics",
            email="irina@saryarka.example.kz",
            interest="internet",
        ),
        LeadStatus.CONTACTED,
    ),
    DemoLead(
        "lead-kar-qualified",
        KARAGANDA_AGENT,
        NewLead(
            source="campaign",
            campaign_id="campaign-business-fibre",
            name="Dauren Zhakupov",
            company_name="Ulytau Energy",
            phone="+77215550203",
            interest="internet",
        ),
        LeadStatus.QUALIFIED,
    ),
    DemoLead(
        "lead-kar-disqualified",
        KARAGANDA_AGENT,
        NewLead(
            source="partner",
            partner_id="partner-karaganda-agent",
            name="Test Test",
            phone="+77215550204",
            interest="mobile",
        ),
        LeadStatus.DISQUALIFIED,
        disqualify_reason="A test entry the partner sent by mistake",
    ),
    DemoLead(
        "lead-kar-converted",
        KARAGANDA_MANAGER,
        NewLead(
            source="branch_walk_in",
            name="Serik Akhmetov",
            company_name="Karaganda Steel Service",
            phone="+77017654321",
            interest="fixed_line",
            notes="Second site in Temirtau needs 20 lines",
        ),
        LeadStatus.CONVERTED,
        link_customer=CustomerRef("KAR-01", 0),
        opportunity={"stage": "qualification", "amount_tiyn": 360_000_000},
        close_in_days=60,
    ),
)

DEMO_OPPORTUNITIES: tuple[DemoOpportunity, ...] = (
    DemoOpportunity(
        "opp-ala-prospecting",
        CustomerRef("ALA-01", 1),
        "Fibre 300 Mbit/s at home",
        ProductLine.INTERNET,
        899_000,
        (Stage.PROSPECTING,),
        close_in_days=45,
    ),
    DemoOpportunity(
        "opp-ala-proposal",
        CustomerRef("ALA-01", 3),
        "Family mobile plan, 4 SIMs",
        ProductLine.MOBILE,
        1_596_000,
        (Stage.QUALIFICATION, Stage.PROPOSAL),
        close_in_days=20,
    ),
    DemoOpportunity(
        "opp-ala-negotiation",
        CustomerRef("ALA-01", 4),
        "Office bundle for 25 seats",
        ProductLine.BUNDLE,
        87_500_000,
        (Stage.PROPOSAL, Stage.NEGOTIATION),
        close_in_days=10,
    ),
    DemoOpportunity(
        "opp-ala-won",
        CustomerRef("ALA-01", 2),
        "Fibre 500 and TV Premium",
        ProductLine.BUNDLE,
        1_490_000,
        (Stage.NEGOTIATION, Stage.CLOSED_WON),
        close_reason="Signed a 24-month contract with installation included",
    ),
    DemoOpportunity(
        "opp-ala02-lost",
        CustomerRef("ALA-02", 0),
        "Home internet upgrade",
        ProductLine.INTERNET,
        699_000,
        (Stage.PROSPECTING, Stage.CLOSED_LOST),
        close_reason="Moving to Astana next month",
    ),
    DemoOpportunity(
        "opp-kar-qualification",
        CustomerRef("KAR-01", 1),
        "Mobile plan with 50 GB",
        ProductLine.MOBILE,
        449_000,
        (Stage.PROSPECTING, Stage.QUALIFICATION),
    ),
    DemoOpportunity(
        "opp-kar-won",
        CustomerRef("KAR-01", 0),
        "Dedicated 1 Gbit/s line for the plant",
        ProductLine.INTERNET,
        540_000_000,
        (Stage.PROPOSAL, Stage.NEGOTIATION, Stage.CLOSED_WON),
        close_reason="Won the tender against two competitors",
    ),
    DemoOpportunity(
        "opp-kar-lost",
        CustomerRef("KAR-01", 2),
        "Fixed lines for the warehouse",
        ProductLine.FIXED_LINE,
        48_000_000,
        (Stage.QUALIFICATION, Stage.CLOSED_LOST),
        close_reason="Chose a competitor's cheaper offer",
    ),
    DemoOpportunity(
        "opp-kar02-prospecting",
        CustomerRef("KAR-02", 2),
        "Internet for the trade house",
        ProductLine.INTERNET,
        120_000_000,
        (Stage.PROSPECTING,),
        actor=KARAGANDA_REGIONAL,
    ),
    DemoOpportunity(
        "opp-ast-proposal",
        CustomerRef("AST-01", 0),
        "Cloud PBX and fixed lines",
        ProductLine.FIXED_LINE,
        210_000_000,
        (Stage.QUALIFICATION, Stage.PROPOSAL),
        close_in_days=21,
    ),
    DemoOpportunity(
        "opp-shy-negotiation",
        CustomerRef("SHY-01", 3),
        "Fleet mobile plan, 120 SIMs",
        ProductLine.MOBILE,
        432_000_000,
        (Stage.PROPOSAL, Stage.NEGOTIATION),
        close_in_days=7,
    ),
    DemoOpportunity(
        "opp-pav-won",
        CustomerRef("PAV-01", 0),
        "Showroom internet and TV",
        ProductLine.BUNDLE,
        36_000_000,
        (Stage.NEGOTIATION, Stage.CLOSED_WON),
        close_reason="Accepted the 12-month discount",
    ),
)

DEMO_ACTIVITIES: tuple[DemoActivity, ...] = (
    DemoActivity(
        "act-ala-call",
        CustomerRef("ALA-01", 0),
        ActivityKind.NOTE,
        "Follow-up on the TV offer",
        -3,
        outcome="Interested; wants the sports channels too",
    ),
    DemoActivity(
        "act-ala-meeting",
        CustomerRef("ALA-01", 4),
        ActivityKind.MEETING,
        "Site survey at the office",
        2,
        body="Check the riser for the fibre entry; bring the bundle price list",
    ),
    DemoActivity("act-ala-note", CustomerRef("ALA-01", 2), ActivityKind.NOTE, "Prefers calls after 18:00", -1),
    DemoActivity(
        "act-ala-task-overdue",
        CustomerRef("ALA-01", 0),
        ActivityKind.TASK,
        "Call back about the router installation",
        -2,
        actor=ALMATY_AGENT,
        pending=True,
    ),
    DemoActivity(
        "act-ala-task-upcoming",
        CustomerRef("ALA-01", 2),
        ActivityKind.TASK,
        "Send the bundle contract",
        3,
        actor=ALMATY_AGENT,
    ),
    DemoActivity(
        "act-ala02-callcentre",
        CustomerRef("ALA-02", 0),
        ActivityKind.NOTE,
        "Slow internet in the evening",
        -1,
        outcome="Restarted the router remotely; speed back to normal",
        actor=CALL_CENTER,
    ),
    DemoActivity(
        "act-kar-note",
        CustomerRef("KAR-01", 0),
        ActivityKind.NOTE,
        "Tender documents received",
        -5,
        body="Technical requirements: 1 Gbit/s, 99.9% availability, 4-hour repair",
    ),
    DemoActivity(
        "act-kar-meeting",
        CustomerRef("KAR-01", 2),
        ActivityKind.MEETING,
        "Price negotiation",
        -10,
        outcome="They asked for 15% off; we offered 8%",
    ),
    DemoActivity(
        "act-kar02-call",
        CustomerRef("KAR-02", 2),
        ActivityKind.NOTE,
        "Introduction call",
        -2,
        outcome="Send a commercial offer by Friday",
        actor=KARAGANDA_REGIONAL,
    ),
    DemoActivity("act-ast-task", CustomerRef("AST-01", 0), ActivityKind.TASK, "Prepare the cloud PBX demo", 7),
    DemoActivity(
        "act-shy-callcentre",
        CustomerRef("SHY-01", 3),
        ActivityKind.NOTE,
        "Asked about roaming prices",
        -4,
        outcome="Sent the roaming tariff by e-mail",
        actor=CALL_CENTER,
    ),
)


class StorySkipped(Exception):
    """A story's customer is not there (not seeded, or merged away): the story is left out."""


class DemoCustomerIndex:
    """The demo customers the stories refer to (by branch and position), and who owns each."""

    def __init__(self) -> None:
        self.by_branch: dict[str, list[tuple[DemoOwner, str]]] = defaultdict(list)
        for owner, request in demo_customers(DEMO_CUSTOMER_COUNT):
            self.by_branch[request.branch_code].append(
                (owner, request.iin if request.kind == "individual" else request.bin)
            )

    def owner(self, ref: CustomerRef) -> DemoOwner:
        return self.by_branch[ref.branch_code][ref.index][0]

    async def get(self, session: AsyncSession, ref: CustomerRef) -> Customer:
        tax_id = self.by_branch[ref.branch_code][ref.index][1]
        customer = await session.scalar(select(Customer).where(Customer.tax_id == tax_id))
        if customer is None or customer.status == CustomerStatus.MERGED:
            raise StorySkipped(f"customer {tax_id} of {ref.branch_code} is not there")
        return customer


LEAD_PATHS: dict[LeadStatus, tuple[LeadStatus, ...]] = {
    LeadStatus.NEW: (),
    LeadStatus.CONTACTED: (LeadStatus.CONTACTED,),
    LeadStatus.QUALIFIED: (LeadStatus.CONTACTED, LeadStatus.QUALIFIED),
    LeadStatus.DISQUALIFIED: (LeadStatus.CONTACTED, LeadStatus.DISQUALIFIED),
    LeadStatus.CONVERTED: (LeadStatus.CONTACTED, LeadStatus.QUALIFIED),  # then the conversion
}


def _close_date(days: int) -> date:
    return utcnow().date() + timedelta(days=days)


async def _lead_story(session: AsyncSession, story: DemoLead, customers: DemoCustomerIndex) -> Counter:
    owner = story.owner.principal()
    lead = await register_lead(session, owner, story.lead)
    made = Counter(leads=1)
    for status in LEAD_PATHS[story.status]:
        reason = story.disqualify_reason if status == LeadStatus.DISQUALIFIED else None
        patch = {"status": status, "disqualify_reason": reason} if reason else {"status": status}
        await change_lead(session, owner, lead, patch)
    if story.status == LeadStatus.CONVERTED:
        linked = await customers.get(session, story.link_customer) if story.link_customer else None
        fields = story.new_customer
        conversion = await convert_lead(
            session,
            (story.converted_by or story.owner).principal(),
            lead,
            customer_id=linked.id if linked else None,
            new_customer=None if fields is None else lambda defaults: NewIndividual(**(defaults | fields)),
            opportunity=ConversionOpportunity(
                **story.opportunity, expected_close_date=_close_date(story.close_in_days)
            ),
        )
        made.update(customers=int(conversion.customer_created), opportunities=1)
    return made


async def _opportunity_story(session: AsyncSession, story: DemoOpportunity, customers: DemoCustomerIndex) -> Counter:
    actor = (story.actor or customers.owner(story.customer)).principal()
    customer = await customers.get(session, story.customer)
    opening, *moves = story.stages
    opportunity = await open_opportunity(
        session,
        actor,
        NewOpportunity(
            customer_id=customer.id,
            name=story.name,
            product_line=story.product_line,
            stage=opening,
            amount_tiyn=story.amount_tiyn,
            expected_close_date=_close_date(story.close_in_days),
        ),
    )
    for stage in moves:
        reason = story.close_reason if stage in (Stage.CLOSED_WON, Stage.CLOSED_LOST) else None
        patch = {"stage": stage, "close_reason": reason} if reason else {"stage": stage}
        await change_opportunity(session, actor, opportunity, patch)
    return Counter(opportunities=1)


async def _activity_story(session: AsyncSession, story: DemoActivity, customers: DemoCustomerIndex) -> Counter:
    actor = (story.actor or customers.owner(story.customer)).principal()
    customer = await customers.get(session, story.customer)
    when = utcnow() + timedelta(days=story.days_from_now)
    happened = story.days_from_now < 0 and not story.pending
    await log_activity(
        session,
        actor,
        NewActivity(
            kind=story.kind,
            related_type="customer",
            related_id=customer.id,
            subject=story.subject,
            body=story.body,
            outcome=story.outcome,
            done_at=when if happened else None,
            due_at=None if happened else when,
        ),
    )
    return Counter(activities=1)


async def seed_pipeline(db: Database) -> dict[str, int]:
    """Leads in every status, opportunities in every stage (some won, some lost, with reasons),
    calls, meetings, tasks and notes on the demo customers, in several branches and by several
    owners; each story once. Returns the records this run created, and how many stories were
    already there (``stories_existing``) or left out (``stories_skipped``)."""
    customers = DemoCustomerIndex()
    stories = (
        [(story, _lead_story, story.owner) for story in DEMO_LEADS]
        + [(story, _opportunity_story, story.actor or customers.owner(story.customer)) for story in DEMO_OPPORTUNITIES]
        + [(story, _activity_story, story.actor or customers.owner(story.customer)) for story in DEMO_ACTIVITIES]
    )
    made: Counter = Counter()
    existing = skipped = 0
    for story, tell, actor in stories:
        key, marker = STORY_KEY_PREFIX + story.key, {"demo_story": story.key}
        try:
            async with db.unit_of_work() as session:
                if await find_replay(session, actor.principal(), key, marker) is not None:
                    existing += 1
                    continue
                told = await tell(session, story, customers)
                remember(session, actor.principal(), key, marker, 201, dict(told))
        except (Problem, DomainError, StorySkipped) as reason:  # e.g. a demo customer merged by hand meanwhile
            log.warning("demo story %s skipped: %s", story.key, getattr(reason, "detail", None) or reason)
            skipped += 1
            continue
        made += told
    log.info("demo pipeline: %s created, %d stories already there, %d skipped", dict(made), existing, skipped)
    return {
        "leads": made["leads"],
        "opportunities": made["opportunities"],
        "activities": made["activities"],
        "customers_by_conversion": made["customers"],
        "stories_existing": existing,
        "stories_skipped": skipped,
    }


# From this many customers on, a bulk seed on PostgreSQL loads the rows without the tables'
# secondary indexes and builds them once afterwards (each row kept in the trigram GIN index while
# loading a million rows takes the most of an hour on a busy 2-core machine; one build, minutes).
DEFER_INDEXES_FROM = 100_000


async def seed_bulk(db: Database, n: int, *, seed: int | None = None, chunk: int = 5000) -> int:
    """Inserts ``n`` customers with one phone each, spread over the demo branches and owners,
    with multi-row inserts (COPY on PostgreSQL) and without audit or events (benchmark data), then
    brings the planner's statistics and the visibility map up to date. Returns ``n``."""
    tables = (Customer.__table__, CustomerPhone.__table__)
    deferred = db.is_postgres and n >= DEFER_INDEXES_FROM
    if deferred:
        await _drop_secondary_indexes(db, tables)
    try:
        await _load_bulk(db, n, seed=seed, chunk=chunk)
    finally:
        if deferred:
            await _create_secondary_indexes(db, tables)
    if db.is_postgres:
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:
                await autocommit.exec_driver_sql(f"VACUUM (ANALYZE) {table.name}")
    return n


def _secondary_indexes(table) -> list:
    return [index for index in table.indexes if not index.unique]


async def _drop_secondary_indexes(db: Database, tables) -> None:
    async with db.engine.begin() as connection:
        for table in tables:
            for index in _secondary_indexes(table):
                await connection.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")


async def _create_secondary_indexes(db: Database, tables) -> None:
    async with db.engine.begin() as connection:
        await connection.exec_driver_sql("SET maintenance_work_mem = '256MB'")
        for table in tables:
            for index in _secondary_indexes(table):
                await connection.run_sync(lambda sync, index=index: index.create(sync, checkfirst=False))


async def _load_bulk(db: Database, n: int, *, seed: int | None, chunk: int) -> None:
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
            customers.append(
                {
                    "id": customer_id,
                    "kind": fields["kind"],
                    "tax_id": tax_id,
                    "first_name": fields.get("first_name"),
                    "last_name": fields.get("last_name"),
                    "middle_name": fields.get("middle_name"),
                    "birth_date": fields.get("birth_date"),
                    "legal_name": fields.get("legal_name"),
                    "legal_form": fields.get("legal_form"),
                    "name_key": name_key(
                        fields["kind"],
                        first_name=fields.get("first_name"),
                        last_name=fields.get("last_name"),
                        middle_name=fields.get("middle_name"),
                        legal_name=fields.get("legal_name"),
                    ),
                    "search_text": customer_search_text(
                        first_name=fields.get("first_name"),
                        last_name=fields.get("last_name"),
                        middle_name=fields.get("middle_name"),
                        legal_name=fields.get("legal_name"),
                    ),
                    "primary_phone": phone,
                    "email": None,
                    "language": fields["language"],
                    "marketing_consent": False,
                    "marketing_consent_at": None,
                    "data_processing_consent": True,
                    "data_processing_consent_at": now,
                    "status": "active",
                    "merged_into_id": None,
                    "owner_id": owner.id,
                    "owner_name": owner.full_name,
                    "branch_code": branch_code,
                    "region_code": INITIAL_BRANCHES_BY_CODE[branch_code].region_code,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            phones.append(
                {"id": new_id(), "customer_id": customer_id, "e164": phone, "label": "mobile", "created_at": now}
            )
        async with db.unit_of_work() as session:
            if db.is_postgres:
                await _copy_rows(session, customer_table, customers)
                await _copy_rows(session, phone_table, phones)
            else:
                await session.execute(insert(customer_table), customers)
                await session.execute(insert(phone_table), phones)


async def _copy_rows(session, table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL COPY through asyncpg: an order of magnitude faster than multi-row INSERTs."""
    columns = list(rows[0])
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(
        table.name, records=[tuple(row[c] for c in columns) for row in rows], columns=columns
    )


# --- what benchmarks read of the seeded data, and the outbox they relay ---------------------------


@dataclass(frozen=True)
class PhoneSample:
    customer_id: str
    e164: str


@dataclass(frozen=True)
class CustomerRow:
    id: str
    kind: str
    first_name: str | None
    last_name: str | None
    legal_name: str | None
    branch_code: str
    region_code: str


async def sample_phones(db: Database, n: int) -> list[PhoneSample]:
    """Up to ``n`` customer phones picked at random, each with its customer's id."""
    async with db.read_only() as session:
        rows = await session.execute(
            select(CustomerPhone.customer_id, CustomerPhone.e164).order_by(func.random()).limit(n)
        )
        return [PhoneSample(customer_id, e164) for customer_id, e164 in rows]


async def taken_identifiers(db: Database) -> set[str]:
    """Every customer IIN/BIN and every customer phone (E.164) in use: what a new customer may not reuse."""
    async with db.read_only() as session:
        taken = set(await session.scalars(select(Customer.tax_id)))
        taken |= set(await session.scalars(select(CustomerPhone.e164)))
    return taken


async def branch_customer_ids(db: Database, branch_code: str) -> list[str]:
    """The ids of every customer of the branch (any status)."""
    async with db.read_only() as session:
        return list(await session.scalars(select(Customer.id).where(Customer.branch_code == branch_code)))


async def sample_customers(db: Database, n: int) -> list[CustomerRow]:
    """Up to ``n`` customers picked at random (any status), as plain rows."""
    async with db.read_only() as session:
        rows = await session.execute(
            select(
                Customer.id,
                Customer.kind,
                Customer.first_name,
                Customer.last_name,
                Customer.legal_name,
                Customer.branch_code,
                Customer.region_code,
            )
            .order_by(func.random())
            .limit(n)
        )
        return [CustomerRow(*row) for row in rows]


CUSTOMER_EVENTS_TOPIC = CUSTOMER_TOPIC  # where seed_customer_events' events are published
EVENT_PAYLOAD_POOL = 500


def _event_customer(rng: random.Random) -> Customer:
    """An Almaty individual with one phone, an address and sometimes a contact (not stored)."""
    now = utcnow()
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    iin = make_iin(born, rng.random() < 0.5, rng.randrange(10000)) or "900515412345"
    phone = f"+7701{rng.randrange(10_000_000):07d}"
    customer = Customer(
        id=new_id(),
        kind="individual",
        tax_id=iin,
        first_name="Aigerim",
        last_name="Seitkali",
        middle_name="Nurlanovna",
        birth_date=born,
        legal_name=None,
        legal_form=None,
        name_key="seitkali aigerim",
        primary_phone=phone,
        email=f"client{rng.randrange(10**6)}@example.kz",
        language="kk",
        marketing_consent=True,
        marketing_consent_at=now,
        data_processing_consent=True,
        data_processing_consent_at=now,
        status="active",
        merged_into_id=None,
        owner_id=ALMATY_AGENT.id,
        owner_name=ALMATY_AGENT.full_name,
        branch_code="ALA-01",
        region_code="KZ-75",
        version=1,
        created_at=now,
        updated_at=now,
    )
    customer.phones = [CustomerPhone(id=new_id(), customer_id=customer.id, e164=phone, label="mobile", created_at=now)]
    customer.contacts = (
        [
            Contact(
                id=new_id(),
                customer_id=customer.id,
                name="Serik Akhmetov",
                position="Chief engineer",
                phone="+77017654321",
                email="s.akhmetov@example.kz",
                created_at=now,
            )
        ]
        if rng.random() < 0.3
        else []
    )
    customer.addresses = [
        Address(
            id=new_id(),
            customer_id=customer.id,
            kind="registration",
            region_code="KZ-75",
            city="Almaty",
            street="Abay Ave",
            building=str(rng.randrange(1, 250)),
            apartment=str(rng.randrange(1, 180)),
            postal_code="050000",
            created_at=now,
        )
    ]
    return customer


def customer_event_payloads(n: int, *, seed: int = 11) -> list[dict[str, Any]]:
    """``n`` crm.sales.customer.created payloads as the service publishes them (about 1.2 kB of
    JSON each): a pool of distinct customers' states built with ``customer_state``, each payload
    one of them under a new customer id. The same customers for the same ``seed``."""
    rng = random.Random(seed)
    pool = [customer_state(_event_customer(rng)) for _ in range(EVENT_PAYLOAD_POOL)]
    return [rng.choice(pool) | {"id": new_id()} for _ in range(n)]


async def seed_customer_events(db: Database, n: int, *, seed: int = 11, batch: int = 1000) -> int:
    """Writes ``n`` unsent crm.sales.customer.created events (``customer_event_payloads``) into
    the outbox with the service's EventWriter, ``batch`` per transaction, with no customer rows
    behind them (relay benchmark data). Returns ``n``."""
    payloads = customer_event_payloads(n, seed=seed)
    for start in range(0, n, batch):
        async with db.unit_of_work() as session:
            for state in payloads[start : start + batch]:
                await EVENTS.add(
                    session,
                    aggregate=CUSTOMER,
                    action="created",
                    subject=state["id"],
                    data=state,
                    region=state["region_code"],
                    branch=state["branch_code"],
                )
    return n
