"""`crm new-service`: the names and ports it accepts, and a generated service whose own tests pass
against the real PostgreSQL and broker, whose contracts hold together, and whose code the
repository's ruff settings accept (integration, about a minute)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_cli import scaffold
from crm_cli.main import app
from crm_cli.services import ServiceSpec

REPO = Path(__file__).resolve().parents[2]
RUFF_CONFIG = REPO / "pyproject.toml"
# A second service with long names of several words: hyphenated paths, CamelCase classes, long
# lines and identifiers; ruff and its unit tests must be as happy with it as with a short one.
LONG = ("customer_feedback_survey", "satisfaction_survey_item")  # MAX_NAME_LENGTH each
GENERATED_TESTS_TIMEOUT_S = 150

runner = CliRunner()


def copy_of_contracts(root: Path) -> Path:
    """A temporary repository root holding a copy of contracts/ (what the scaffold writes into)."""
    shutil.copytree(REPO / "contracts", root / "contracts", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def new_service(*args: str):
    return runner.invoke(app, ["new-service", *args])


# --- names, plurals and ports (no infrastructure) -------------------------------------------------


@pytest.mark.parametrize(
    ("noun", "plural"),
    [("card", "cards"), ("category", "categories"), ("address", "addresses"), ("survey", "surveys"), ("box", "boxes")],
)
def test_the_plural_follows_the_regular_english_rules(noun, plural):
    assert scaffold.plural_of(noun) == plural


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Loyalty", "lowercase letters and digits"),
        ("loyalty-cards", "lowercase letters and digits"),
        ("2loyalty", "lowercase letters and digits"),
        ("loyalty__cards", "lowercase letters and digits"),
        ("loyalty_", "lowercase letters and digits"),
        ("a" * 25, "longer than 24 characters"),
        ("shared", "taken by the repository itself"),
        ("sales", "in the services registry already"),
        ("platform", "its class PlatformBase would hide another"),
    ],
)
def test_a_bad_or_taken_service_name_is_refused_saying_why(name, message):
    result = new_service(name, "--root", str(REPO))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("aggregate", "message"),
    [
        ("Card", "lowercase letters and digits"),
        ("class", "cannot be: the generated code uses"),  # a keyword
        ("session", "cannot be: the generated code uses"),  # a name the generated code uses
        ("list", "cannot be: the generated code uses"),  # a builtin
        ("schema", "uses 'schemas'"),  # its router would be api/schemas.py
        ("index", "uses 'Index'"),  # its class would hide sqlalchemy's Index
    ],
)
def test_an_aggregate_the_generated_code_could_not_use_is_refused(aggregate, message):
    with pytest.raises(scaffold.ScaffoldError, match=message):
        scaffold.plan("loyalty", aggregate=aggregate)


def test_the_aggregate_defaults_to_the_service_name_in_the_singular():
    assert scaffold.plan("partners").aggregate == "partner"
    assert scaffold.plan("loyalty").aggregate == "loyalty"
    assert scaffold.plan("loyalty", aggregate="category").plural == "categories"
    assert scaffold.plan("loyalty", aggregate="person", plural="people").plural == "people"


def test_ports_take_the_planned_slot_or_the_first_free_one():
    taken = [8101, 50101, 8103, 50103, 8105, 50105]
    assert (scaffold.plan("marketing", taken_ports=taken).http_port, scaffold.plan("marketing").grpc_port) == (
        8102,
        50102,
    )
    loyalty = scaffold.plan("loyalty", taken_ports=taken)
    assert (loyalty.http_port, loyalty.grpc_port) == (8107, 50107)  # 2, 4 and 6 wait for their services
    with pytest.raises(scaffold.ScaffoldError, match="--http-port 8101 is taken"):
        scaffold.plan("loyalty", http_port=8101, taken_ports=taken)
    with pytest.raises(scaffold.ScaffoldError, match="must differ"):
        scaffold.plan("loyalty", http_port=8150, grpc_port=8150)


def test_an_existing_service_folder_is_refused_and_nothing_is_written(tmp_path):
    root = copy_of_contracts(tmp_path)
    (root / "services" / "loyalty").mkdir(parents=True)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = new_service("loyalty", "--aggregate", "card", "--root", str(root))
    assert result.exit_code == 2
    assert "services/loyalty exists already" in result.output
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_a_root_without_the_contracts_is_refused(tmp_path):
    result = new_service("loyalty", "--root", str(tmp_path))
    assert result.exit_code == 2 and "--root must be the repository" in result.output


# --- a generated service, run --------------------------------------------------------------------


def run_generated_tests(root: Path, name: str) -> subprocess.CompletedProcess:
    """The new service's tests, alone, as `python -m pytest services/<name>/tests` runs them; the
    temporary contracts (the copy plus the new files) are imported instead of the installed ones."""
    service = root / "services" / name
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(service), str(root / "contracts")])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(service / "tests")],
        cwd=service,
        env=env,
        capture_output=True,
        text=True,
        timeout=GENERATED_TESTS_TIMEOUT_S,
    )


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*scaffold.ruff_command(), *args, "--config", str(RUFF_CONFIG)], capture_output=True, text=True
    )


@pytest.mark.integration
def test_a_generated_service_runs_its_own_tests_green(tmp_path):
    root = copy_of_contracts(tmp_path)
    result = new_service("loyalty", "--aggregate", "card", "--root", str(root))
    assert result.exit_code == 0, result.output
    long_name, long_aggregate = LONG
    long_result = new_service(long_name, "--aggregate", long_aggregate, "--root", str(root))
    assert long_result.exit_code == 0, long_result.output

    # What the scaffold printed: the registry entry is a valid ServiceSpec of this registry.
    assert "services registry (SERVICES" in result.output and "make install" in result.output
    entry = result.output.split("ServiceSpec(", 1)[1].split("\n    ),", 1)[0]
    spec = eval(f"ServiceSpec({entry})", {"ServiceSpec": ServiceSpec})
    assert (spec.name, spec.app_factory, spec.http_port) == (
        "loyalty",
        "crm_loyalty.main:create_app",
        8108,
    )  # slots 1-7 are taken
    assert "tests/deploy/test_manifests.py" in result.output and "x-loyalty-build" in result.output

    # The recipe's file set, and the contracts.
    service = root / "services" / "loyalty"
    for part in (
        "pyproject.toml",
        "README.md",
        "crm_loyalty/main.py",
        "crm_loyalty/config.py",
        "crm_loyalty/api/cards.py",
        "crm_loyalty/api/schemas.py",
        "crm_loyalty/services/card_service.py",
        "crm_loyalty/domain/cards.py",
        "crm_loyalty/db/base.py",
        "crm_loyalty/db/models.py",
        "crm_loyalty/access.py",
        "crm_loyalty/events/publishers.py",
        "crm_loyalty/events/consumers.py",
        "crm_loyalty/grpc/server.py",
        "crm_loyalty/seed.py",
        "migrations/env.py",
        "migrations/versions/0001_loyalty.py",
        "tests/conftest.py",
        "tests/test_card_rules.py",
    ):
        assert (service / part).is_file(), part
    contracts = root / "contracts"
    assert (contracts / "proto/crm/loyalty/v1/card_service.proto").is_file()
    assert (contracts / "crm_contracts/grpc/crm/loyalty/v1/card_service_pb2_grpc.py").is_file()
    from crm_contracts.events import catalogue_problems

    events = contracts / "crm_contracts" / "events"
    assert catalogue_problems(events / "topics", events / "schemas") == []
    assert {p.name for p in (events / "schemas").glob("crm.loyalty.*")} == {
        "crm.loyalty.card.created.json",
        "crm.loyalty.card.updated.json",
    }

    # The stubs are what `make proto` would make of the new protos, and buf lints them clean.
    generator = scaffold._load_generator(contracts)
    generator.generate(tmp_path / "fresh")
    for fresh in (tmp_path / "fresh" / "crm" / "loyalty").rglob("*.py*"):
        committed = contracts / "crm_contracts" / "grpc" / fresh.relative_to(tmp_path / "fresh")
        assert committed.read_text() == fresh.read_text(), committed
    buf = Path(sys.executable).parent / "buf"
    if buf.exists():
        linted = subprocess.run([str(buf), "lint"], cwd=contracts, capture_output=True, text=True)
        assert linted.returncode == 0, linted.stdout + linted.stderr

    # The code keeps the repository's ruff settings.
    generated = [str(service), str(root / "services" / long_name)]
    checked = ruff("check", *generated)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = ruff("format", "--check", *generated)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr

    # And the service's own tests pass, both services' (the long one's with its own names).
    for name in ("loyalty", long_name):
        run = run_generated_tests(root, name)
        summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
        assert run.returncode == 0 and "passed" in summary and "failed" not in summary, run.stdout + run.stderr


def test_a_new_service_joins_every_import_contract(tmp_path):
    from crm_cli.scaffold import add_to_import_contracts

    contracts = tmp_path / ".importlinter"
    original = (REPO / ".importlinter").read_text()
    contracts.write_text(original)
    assert add_to_import_contracts(contracts, "crm_loyalty") == original
    config = configparser.ConfigParser()
    config.read_string(contracts.read_text())

    def values(section: str, option: str) -> list[str]:
        return config[section][option].split()

    assert "crm_loyalty" in values("importlinter", "root_packages")
    assert "crm_loyalty" in values("importlinter:contract:services-independent", "modules")
    assert "crm_loyalty" in values("importlinter:contract:platform-imports-no-service", "forbidden_modules")
    assert "crm_loyalty" in values("importlinter:contract:service-layers", "containers")
    assert "crm_loyalty.domain" in values("importlinter:contract:pure-domain", "source_modules")
    assert "crm_loyalty" not in values("importlinter:contract:pure-domain", "forbidden_modules")
    assert contracts.read_text().count("# Import contracts") == 1  # comments kept
