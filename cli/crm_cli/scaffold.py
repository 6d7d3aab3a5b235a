"""`crm new-service NAME`: a new service, runnable and tested from its first minute, laid out by
the service recipe (docs/development.md, "The service recipe").

It writes, under a root (the repository, or a copy of its ``contracts/`` in a test):

- ``services/<name>/``: the package ``crm_<name>`` with one aggregate (REST with Idempotency-Key,
  If-Match and cursor pages; a gRPC Get; the created/updated events through the outbox; a
  consumer of its own topic keeping per-branch counts; access rules; demo data), its first
  migration and its tests (unit, and integration against PostgreSQL and the broker);
- ``contracts/proto/crm/<name>/v1/<aggregate>_service.proto`` and its generated stubs;
- the topic file and one JSON Schema per event type in ``contracts/crm_contracts/events/``.

The files come from ``templates/`` (package data): ``<path>.tmpl`` becomes ``<path>`` with the
placeholders ``__service__``, ``__Aggregate__``, ... replaced (see ``NewService.placeholders``);
placeholders in file and folder names too. The new Python files are then put through the
repository's ruff (imports sorted, formatted), because where the package's own imports sort, and
where a line has to wrap, depends on the names chosen.

What the scaffold cannot do for you (the registry entry, `make install`, the deployment files) it
prints as the next steps.
"""

from __future__ import annotations

import builtins
import importlib.util
import io
import json
import keyword
import re
import shutil
import subprocess
import sys
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml

TEMPLATE_SUFFIX = ".tmpl"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
MAX_NAME_LENGTH = 24  # the generated lines stay readable, and the index names within PostgreSQL's 63
# Names a service cannot take: packages that exist already (crm_shared, crm_contracts, crm_cli,
# crm_gateway) and the repository's own folders.
RESERVED_SERVICE_NAMES = {"shared", "contracts", "cli", "gateway", "services", "tests", "bench", "deploy", "docs"}
# Ports: service N of the suite listens on 8100+N (HTTP) and 50100+N (gRPC). The services still to
# come have theirs reserved (docs/development.md, "Ports").
HTTP_PORT_BASE, GRPC_PORT_BASE = 8100, 50100
PLANNED_PORT_SLOTS = {"marketing": 2, "partners": 4, "analytics": 6}
MAX_PORT_SLOT = 99


class ScaffoldError(Exception):
    """What stops a scaffold, in words for the person who asked for it."""


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def words(name: str) -> str:
    return name.replace("_", " ")


def plural_of(noun: str) -> str:
    """The plural of an English noun by the regular rules (``--plural`` for the others):
    card → cards, category → categories, address → addresses, survey → surveys."""
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", noun):
        return noun + "es"
    return noun + "s"


@dataclass(frozen=True)
class NewService:
    name: str  # the service: crm_<name>, /api/v1/<name>/, CRM_<NAME>_*, crm.<name>.*
    aggregate: str  # its first aggregate, singular, as events and tables name it
    plural: str
    http_port: int
    grpc_port: int

    @property
    def package(self) -> str:
        return f"crm_{self.name}"

    @property
    def topic(self) -> str:
        return f"crm.{self.name}.{self.aggregate}.v1"

    @property
    def grpc_service(self) -> str:
        return f"crm.{self.name}.v1.{camel(self.aggregate)}Service"

    @property
    def proto_path(self) -> str:
        return f"contracts/proto/crm/{self.name}/v1/{self.aggregate}_service.proto"

    def placeholders(self) -> dict[str, str]:
        """What each ``__placeholder__`` of the templates stands for."""
        return {
            "service": self.name,
            "Service": camel(self.name),
            "SERVICE": self.name.upper(),
            "service_words": words(self.name),
            "Service_words": words(self.name).capitalize(),
            "service_dashed": self.name.replace("_", "-"),
            "aggregate": self.aggregate,
            "Aggregate": camel(self.aggregate),
            "aggregates": self.plural,
            "aggregate_words": words(self.aggregate),
            "aggregates_words": words(self.plural),
            "Aggregates_words": words(self.plural).capitalize(),
            "aggregate_path": self.aggregate.replace("_", "-"),
            "aggregates_path": self.plural.replace("_", "-"),
            "http_port": str(self.http_port),
            "grpc_port": str(self.grpc_port),
        }

    def render(self, text: str) -> str:
        values = self.placeholders()
        pattern = re.compile("__(" + "|".join(sorted(values, key=len, reverse=True)) + ")__")
        return pattern.sub(lambda match: values[match.group(1)], text)


# --- choosing the names and ports ------------------------------------------------------------


def check_name(value: str, what: str, max_length: int = MAX_NAME_LENGTH) -> str:
    if not NAME_PATTERN.match(value):
        raise ScaffoldError(
            f"{what} {value!r} must be lowercase letters and digits, words joined by single underscores, "
            "starting with a letter (e.g. loyalty, partner_programme)"
        )
    if len(value) > max_length:
        raise ScaffoldError(f"{what} {value!r} is longer than {max_length} characters")
    return value


def check_service_name(name: str, taken: Iterable[str] = ()) -> str:
    check_name(name, "the service name")
    if name in RESERVED_SERVICE_NAMES:
        raise ScaffoldError(f"the service name {name!r} is taken by the repository itself; choose another")
    if name in set(taken):
        raise ScaffoldError(f"a service named {name!r} is in the services registry already")
    for class_name in (f"{camel(name)}Settings", f"{camel(name)}Base"):
        if class_name in names_in_use():
            raise ScaffoldError(f"the service name {name!r} cannot be: its class {class_name} would hide another")
    return name


def check_aggregate(aggregate: str, plural: str) -> tuple[str, str]:
    check_name(aggregate, "the aggregate")
    check_name(plural, "the plural", MAX_NAME_LENGTH + len("es"))
    if aggregate == plural:
        raise ScaffoldError(f"the plural of {aggregate!r} must differ from it (--plural)")
    for noun in (aggregate, plural, camel(aggregate)):
        if noun in names_in_use():
            raise ScaffoldError(
                f"the aggregate {aggregate!r} cannot be: the generated code uses {noun!r} for something else "
                "already (a Python name, or one of the template's own); choose another noun"
            )
    return aggregate, plural


@cache
def names_in_use() -> frozenset[str]:
    """The Python names the generated code binds besides the aggregate's own (its variables,
    parameters, functions, imports), and the builtins and keywords: an aggregate named like one of
    them would shadow it or not parse. Attribute names and keyword arguments at a call are no
    such names, so they do not count."""
    found = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins))
    for path, text in _template_files(_templates()):
        # the modules and packages beside the aggregate's own (api/schemas.py, events/, ...)
        found |= {part.split(".")[0] for part in path.split("/") if "__" not in part}
        if path.endswith(".py"):
            found |= _bound_names(text)
    return frozenset(found)


def _bound_names(source: str) -> set[str]:
    code = [
        token
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    ]
    names, depth = set(), 0
    for before, token, after in zip([None, *code], code, [*code[1:], None]):
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        elif token.type == tokenize.NAME and "__" not in token.string:
            attribute = before is not None and before.string == "."
            keyword_argument = depth > 0 and after is not None and after.string == "="
            if not attribute and not keyword_argument:
                names.add(token.string)
    return names


def default_ports(name: str, taken: Iterable[int]) -> tuple[int, int]:
    """The service's planned slot (docs/development.md, "Ports"), else the first slot free of the
    registry's ports and of every planned slot."""
    taken = set(taken)
    if name in PLANNED_PORT_SLOTS:
        slots: Iterable[int] = [PLANNED_PORT_SLOTS[name]]
    else:
        slots = (n for n in range(1, MAX_PORT_SLOT + 1) if n not in PLANNED_PORT_SLOTS.values())
    for slot in slots:
        if HTTP_PORT_BASE + slot not in taken and GRPC_PORT_BASE + slot not in taken:
            return HTTP_PORT_BASE + slot, GRPC_PORT_BASE + slot
    raise ScaffoldError("no free port pair left in 8101..8199 / 50101..50199: choose --http-port and --grpc-port")


def plan(
    name: str,
    *,
    aggregate: str | None = None,
    plural: str | None = None,
    http_port: int | None = None,
    grpc_port: int | None = None,
    taken_names: Iterable[str] = (),
    taken_ports: Iterable[int] = (),
) -> NewService:
    """The new service's names and ports, checked against what the suite has already; the
    aggregate defaults to the service name without a trailing s (partners → partner)."""
    check_service_name(name, taken_names)
    if aggregate is None:
        aggregate = name[:-1] if name.endswith("s") and len(name) > 1 else name
    aggregate, plural = check_aggregate(aggregate, plural or plural_of(aggregate))
    taken_ports = set(taken_ports)
    default_http, default_grpc = default_ports(name, taken_ports)
    http_port, grpc_port = http_port or default_http, grpc_port or default_grpc
    for option, port in (("--http-port", http_port), ("--grpc-port", grpc_port)):
        if not 1024 <= port <= 65535:
            raise ScaffoldError(f"{option} {port} is not a port a service may listen on (1024..65535)")
        if port in taken_ports:
            raise ScaffoldError(f"{option} {port} is taken by a service in the registry")
    if http_port == grpc_port:
        raise ScaffoldError("--http-port and --grpc-port must differ")
    return NewService(name, aggregate, plural, http_port, grpc_port)


# --- writing the files -----------------------------------------------------------------------


def _templates() -> Traversable:
    return resources.files(__package__).joinpath("templates")


def _template_files(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(relative path without .tmpl, text) of every template under ``folder``."""
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _template_files(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            yield f"{prefix}{entry.name.removesuffix(TEMPLATE_SUFFIX)}", entry.read_text(encoding="utf-8")


def _write_new(path: Path, text: str, written: list[Path]) -> None:
    if path.exists():
        raise ScaffoldError(f"{path} exists already")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    written.append(path)


def preflight(root: Path, service: NewService) -> None:
    """Refuses before anything is written: a missing contracts package, or a service, proto, stub
    package or topic of this name that exists already."""
    contracts = root / "contracts"
    for needed in ("generate.py", "proto", "crm_contracts/events/topics", "crm_contracts/events/schemas"):
        if not (contracts / needed).exists():
            raise ScaffoldError(f"{contracts / needed} is missing: --root must be the repository (or a copy of it)")
    for existing in (
        root / "services" / service.name,
        contracts / "proto" / "crm" / service.name,
        contracts / "crm_contracts" / "grpc" / "crm" / service.name,
        contracts / "crm_contracts" / "events" / "topics" / f"{service.topic}.yaml",
    ):
        if existing.exists():
            raise ScaffoldError(f"{existing} exists already: is there a service named {service.name!r}?")


def create_service(root: Path, service: NewService, *, ruff_config: Path | None = None) -> list[Path]:
    """Writes the service, its gRPC contract and stubs, and its event contracts under ``root``;
    returns the files written. A step that fails takes every file written before it away again."""
    root = root.resolve()
    preflight(root, service)
    contracts = root / "contracts"
    service_folder = root / "services" / service.name
    new_folders = [
        service_folder,
        contracts / "proto" / "crm" / service.name,
        contracts / "crm_contracts" / "grpc" / "crm" / service.name,
    ]
    written: list[Path] = []
    try:
        templates = _templates()
        for relative, text in _template_files(templates.joinpath("service")):
            _write_new(service_folder / service.render(relative), service.render(text), written)
        for relative, text in _template_files(templates.joinpath("contracts")):
            _write_new(contracts / service.render(relative), service.render(text), written)
        schema = templates.joinpath("event_schema.json" + TEMPLATE_SUFFIX).read_text(encoding="utf-8")
        _write_event_schemas(contracts, service, schema, written)
        written += _generate_stubs(contracts, service)
        problems = _catalogue_problems(contracts)
        if problems:
            raise ScaffoldError("the event catalogue does not hold together:\n  " + "\n  ".join(problems))
        _tidy_python([p for p in written if p.suffix == ".py" and p.is_relative_to(service_folder)], ruff_config)
        add_to_import_contracts(root / IMPORT_CONTRACTS, service.package)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        for folder in new_folders:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return written


IMPORT_CONTRACTS = ".importlinter"
# Where a new service's package joins each import contract (section, option) -> what is added.
CONTRACT_ENTRIES = {
    ("importlinter", "root_packages"): "{package}",
    ("importlinter:contract:services-independent", "modules"): "{package}",
    ("importlinter:contract:platform-imports-no-service", "forbidden_modules"): "{package}",
    ("importlinter:contract:service-layers", "containers"): "{package}",
    ("importlinter:contract:pure-domain", "source_modules"): "{package}.domain",
}


def add_to_import_contracts(path: Path, package: str) -> str | None:
    """Adds the new package to every import contract of ``path`` (the repository's .importlinter,
    when there is one), keeping its comments and order; returns the text it had before."""
    if not path.is_file():
        return None
    before = path.read_text(encoding="utf-8")
    out: list[str] = []
    section = option = None
    pending: str | None = None
    for line in before.splitlines():
        indented = line.startswith((" ", "\t")) and line.strip()
        if pending and not indented:
            out.append(f"    {pending}")
            pending = None
        if line.startswith("[") and line.rstrip().endswith("]"):
            section, option = line.strip()[1:-1], None
        elif line.strip() and not indented and "=" in line:
            option = line.split("=", 1)[0].strip()
            entry = CONTRACT_ENTRIES.get((section, option))
            pending = entry.format(package=package) if entry else None
        out.append(line)
    if pending:
        out.append(f"    {pending}")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return before


def _write_event_schemas(contracts: Path, service: NewService, template: str, written: list[Path]) -> None:
    """One JSON Schema per event type the new topic file lists: the template's payload (the
    aggregate's state), with the type's own $id, title and description."""
    events = contracts / "crm_contracts" / "events"
    topic = yaml.safe_load((events / "topics" / f"{service.topic}.yaml").read_text(encoding="utf-8"))
    for event in topic["events"]:
        schema = json.loads(service.render(template))
        schema |= {
            "$id": f"urn:qazaq-crm:schema:{event['type']}:1",
            "title": event["type"],
            "description": event["description"],
        }
        # the key order of the schemas already in the catalogue: $schema, $id, title, description, ...
        ordered = {key: schema[key] for key in ("$schema", "$id", "title", "description")} | schema
        _write_new(events / "schemas" / f"{event['type']}.json", json.dumps(ordered, indent=2) + "\n", written)


def _load_generator(contracts: Path):
    """The root's own contracts/generate.py (a script beside the package, not part of it)."""
    spec = importlib.util.spec_from_file_location("crm_contracts_generate", contracts / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generate_stubs(contracts: Path, service: NewService) -> list[Path]:
    if importlib.util.find_spec("grpc_tools") is None:
        raise ScaffoldError("grpcio-tools is not installed (requirements-dev.txt): it generates the gRPC stubs")
    return _load_generator(contracts).add_stubs([contracts.parent / service.proto_path])


def _catalogue_problems(contracts: Path) -> list[str]:
    from crm_contracts.events import catalogue_problems

    events = contracts / "crm_contracts" / "events"
    return catalogue_problems(events / "topics", events / "schemas")


def ruff_config_for(root: Path) -> Path | None:
    """The ruff settings the new files must follow: the root's own pyproject.toml, else this
    repository's (a test's temporary root has none), else ruff's defaults."""
    for candidate in (root / "pyproject.toml", Path(__file__).resolve().parents[2] / "pyproject.toml"):
        if candidate.is_file() and "[tool.ruff" in candidate.read_text(encoding="utf-8"):
            return candidate
    return None


def ruff_command() -> list[str] | None:
    """The ruff beside this Python (the project's .venv), else one on PATH."""
    beside = Path(sys.executable).parent / "ruff"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("ruff")
    return [found] if found else None


def _tidy_python(paths: list[Path], config: Path | None) -> None:
    """Sorts the imports and formats the new Python files with the repository's ruff settings."""
    ruff = ruff_command()
    if ruff is None:
        raise ScaffoldError("ruff is not installed (requirements-dev.txt): it sorts and formats the new files")
    options = ["--config", str(config)] if config is not None else []
    for step in (["check", "--fix", "--select", "I", "--quiet"], ["format", "--quiet"]):
        done = subprocess.run([*ruff, *step, *options, *map(str, paths)], capture_output=True, text=True)
        if done.returncode != 0:
            raise ScaffoldError(f"ruff {step[0]} failed on the new files:\n{done.stdout}{done.stderr}")


# --- what is left to do by hand ----------------------------------------------------------------


def registry_entry(service: NewService, spec_fields: Iterable[str]) -> str:
    """The ServiceSpec of the new service as Python source, with the optional fields that the
    registry's ServiceSpec has (``spec_fields``)."""
    values: dict[str, object] = {
        "name": service.name,
        "app_factory": f"{service.package}.main:create_app",
        "settings_class": f"{service.package}.config:{camel(service.name)}Settings",
        "migrations_dir": f"services/{service.name}/migrations",
        "seed": f"{service.package}.seed:seed_demo",
        "http_port": service.http_port,
        "grpc_port": service.grpc_port,
        "description": words(service.plural),
        "scopes": (f"{service.name}:read", f"{service.name}:write"),
    }
    known = set(spec_fields)
    lines = [f"    {key}={_literal(value)}," for key, value in values.items() if key in known]
    return "ServiceSpec(\n" + "\n".join(lines) + "\n),"


def _literal(value: object) -> str:
    """Python source of a str, int or tuple of them, quoted the way the repository's code is."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_literal, value)) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def spec_field_names(spec_class: type) -> list[str]:
    return [field.name for field in fields(spec_class)]


def next_steps(service: NewService, root: Path, entry: str) -> str:
    template = _templates().joinpath("next_steps.txt" + TEMPLATE_SUFFIX).read_text(encoding="utf-8")
    indented_entry = "\n".join("    " + line for line in entry.splitlines())
    return service.render(template).replace("<root>", str(root)).replace("<registry entry>", indented_entry)
