"""Reference data every service shares: Kazakhstan's 17 regions and 3 cities of republican
significance (ISO 3166-2:KZ codes as revised in 2022, names in kk/ru/en), and the branches.

Branch codes are stable identifiers (``<CITY>-<NN>``); each branch belongs to one region for
good. The gateway is the system of record for branches: administrators open, rename and close
them there (``/api/v1/admin/branches``) and every change is a ``crm.gateway.branch.*`` event.
``INITIAL_BRANCHES`` is the network at go-live: the gateway's and the sales service's branch
directories start from it (each side's migration installs it), so neither waits for the other
to start. Code running in a service reads its branch directory, never this list; and the list is
frozen (migrations that have run installed it): the network changes through the admin API.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    code: str  # ISO 3166-2:KZ
    kind: str  # "region" (oblys) or "city" (city of republican significance)
    name_kk: str
    name_ru: str
    name_en: str

    def name(self, language: str = "en") -> str:
        return {"kk": self.name_kk, "ru": self.name_ru}.get(language, self.name_en)


REGIONS: tuple[Region, ...] = (
    Region("KZ-71", "city", "Астана", "Астана", "Astana"),
    Region("KZ-75", "city", "Алматы", "Алматы", "Almaty"),
    Region("KZ-79", "city", "Шымкент", "Шымкент", "Shymkent"),
    Region("KZ-10", "region", "Абай облысы", "Абайская область", "Abai Region"),
    Region("KZ-11", "region", "Ақмола облысы", "Акмолинская область", "Akmola Region"),
    Region("KZ-15", "region", "Ақтөбе облысы", "Актюбинская область", "Aktobe Region"),
    Region("KZ-19", "region", "Алматы облысы", "Алматинская область", "Almaty Region"),
    Region("KZ-23", "region", "Атырау облысы", "Атырауская область", "Atyrau Region"),
    Region("KZ-27", "region", "Батыс Қазақстан облысы", "Западно-Казахстанская область", "West Kazakhstan Region"),
    Region("KZ-31", "region", "Жамбыл облысы", "Жамбылская область", "Jambyl Region"),
    Region("KZ-33", "region", "Жетісу облысы", "Жетысуская область", "Jetisu Region"),
    Region("KZ-35", "region", "Қарағанды облысы", "Карагандинская область", "Karaganda Region"),
    Region("KZ-39", "region", "Қостанай облысы", "Костанайская область", "Kostanay Region"),
    Region("KZ-43", "region", "Қызылорда облысы", "Кызылординская область", "Kyzylorda Region"),
    Region("KZ-47", "region", "Маңғыстау облысы", "Мангистауская область", "Mangystau Region"),
    Region("KZ-55", "region", "Павлодар облысы", "Павлодарская область", "Pavlodar Region"),
    Region("KZ-59", "region", "Солтүстік Қазақстан облысы", "Северо-Казахстанская область", "North Kazakhstan Region"),
    Region("KZ-61", "region", "Түркістан облысы", "Туркестанская область", "Turkistan Region"),
    Region("KZ-62", "region", "Ұлытау облысы", "Улытауская область", "Ulytau Region"),
    Region("KZ-63", "region", "Шығыс Қазақстан облысы", "Восточно-Казахстанская область", "East Kazakhstan Region"),
)
REGIONS_BY_CODE = {r.code: r for r in REGIONS}


@dataclass(frozen=True)
class Branch:
    code: str
    region_code: str
    city: str
    name_kk: str
    name_ru: str
    name_en: str


INITIAL_BRANCHES: tuple[Branch, ...] = (
    Branch("ALA-01", "KZ-75", "Almaty", "Алматы, Медеу филиалы", "Алматы, филиал Медеу", "Almaty Medeu branch"),
    Branch(
        "ALA-02", "KZ-75", "Almaty", "Алматы, Бостандық филиалы", "Алматы, филиал Бостандык", "Almaty Bostandyk branch"
    ),
    Branch("AST-01", "KZ-71", "Astana", "Астана, Есіл филиалы", "Астана, филиал Есиль", "Astana Yesil branch"),
    Branch("SHY-01", "KZ-79", "Shymkent", "Шымкент филиалы", "Шымкентский филиал", "Shymkent branch"),
    Branch("KAR-01", "KZ-35", "Karaganda", "Қарағанды филиалы", "Карагандинский филиал", "Karaganda branch"),
    Branch("KAR-02", "KZ-35", "Temirtau", "Теміртау филиалы", "Темиртауский филиал", "Temirtau branch"),
    Branch("PAV-01", "KZ-55", "Pavlodar", "Павлодар филиалы", "Павлодарский филиал", "Pavlodar branch"),
    Branch("AKT-01", "KZ-15", "Aktobe", "Ақтөбе филиалы", "Актюбинский филиал", "Aktobe branch"),
    Branch("ATY-01", "KZ-23", "Atyrau", "Атырау филиалы", "Атырауский филиал", "Atyrau branch"),
    Branch("UKA-01", "KZ-63", "Oskemen", "Өскемен филиалы", "Усть-Каменогорский филиал", "Oskemen branch"),
    Branch("SEM-01", "KZ-10", "Semey", "Семей филиалы", "Семейский филиал", "Semey branch"),
    Branch("KOS-01", "KZ-39", "Kostanay", "Қостанай филиалы", "Костанайский филиал", "Kostanay branch"),
)
INITIAL_BRANCHES_BY_CODE = {b.code: b for b in INITIAL_BRANCHES}
BRANCH_CODE_PATTERN = r"^[A-Z]{3}-[0-9]{2}$"
