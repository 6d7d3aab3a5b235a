"""The layout rules a newcomer can rely on, checked over the whole tree (no infrastructure): no
service reaches into another service's package, not even from its tests; the platform and the
contracts import no service; the benchmarks use a service only through its public entry points
(main, config, seed, services, domain); every service is in every import contract; and no
package has a circle of imports. The layering inside each service is import-linter's job
(.importlinter, run by `make lint`)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICE_DIRS = {
    path.name: path for path in sorted((ROOT / "services").iterdir()) if (path / "pyproject.toml").is_file()
}
SERVICE_PACKAGES = {f"crm_{name}" for name in SERVICE_DIRS} | {"crm_gateway"}
PLATFORM_PACKAGES = ("crm_shared", "crm_contracts", "crm_cli")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def python_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.py") if ".venv" not in p.parts and "build" not in p.parts]


def foreign_imports(folder: Path, own: set[str], forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files(folder)
        for line, module in imported_modules(path)
        if module.split(".")[0] in forbidden - own
    ]


@pytest.mark.parametrize("name", sorted(SERVICE_DIRS))
def test_a_service_imports_no_other_service_not_even_in_its_tests(name):
    assert foreign_imports(SERVICE_DIRS[name], {f"crm_{name}"}, SERVICE_PACKAGES) == []


def test_the_gateway_imports_no_service():
    assert foreign_imports(ROOT / "gateway", {"crm_gateway"}, SERVICE_PACKAGES) == []


@pytest.mark.parametrize("folder", ["shared", "contracts", "cli/crm_cli"])
def test_the_platform_and_the_contracts_import_no_service(folder):
    # crm_cli reaches services only through the registry's "module:attribute" strings.
    assert foreign_imports(ROOT / folder, set(), SERVICE_PACKAGES) == []


# What a benchmark may use of a service: its app, settings, demo/bulk seed, use cases and pure rules.
BENCH_ALLOWED_PARTS = {"main", "config", "seed", "services", "domain"}


def test_benchmarks_use_services_through_their_public_entry_points_only():
    reaching_in = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files(ROOT / "bench")
        for line, module in imported_modules(path)
        if module.split(".")[0] in SERVICE_PACKAGES - {"crm_gateway"}
        and (len(module.split(".")) < 2 or module.split(".")[1] not in BENCH_ALLOWED_PARTS)
    ]
    assert reaching_in == []


def circles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.find_modules_directly_imported_by(module) & modules:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return groups


def test_no_circles_of_imports_in_any_package():
    packages = sorted(SERVICE_PACKAGES | set(PLATFORM_PACKAGES))
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True)
    modules = set(graph.modules)
    found = []
    for package in packages:
        own = {m for m in modules if m == package or m.startswith(package + ".")}
        found += circles(graph, own)
    assert found == [], "circles of imports: " + "; ".join(" -> ".join(group) for group in found)


def test_every_service_package_is_in_every_import_contract():
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    packages = {f"crm_{name}" for name in SERVICE_DIRS}
    assert packages <= set(config["importlinter"]["root_packages"].split())
    assert packages | {"crm_gateway"} <= set(config["importlinter:contract:services-independent"]["modules"].split())
    assert packages <= set(config["importlinter:contract:service-layers"]["containers"].split())
    assert {f"{p}.domain" for p in packages} <= set(
        config["importlinter:contract:pure-domain"]["source_modules"].split()
    )
