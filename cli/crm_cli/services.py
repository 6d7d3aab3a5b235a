"""The services registry as the `crm` command uses it.

The table itself (ServiceSpec, SERVICES and its lookups) is `crm_shared.registry`, re-exported
here; this module adds what only the CLI needs: importing a service's app factory, settings and
seed function, and telling which of them are not there yet.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from typing import Any

from crm_shared.registry import (
    SERVICES,
    ServiceSpec,
    UnknownService,
    backend_services,
    gateway,
    get_service,
    public_prefixes,
    service_names,
    source_root,
    start_order,
)

__all__ = [
    "SERVICES",
    "NotAvailable",
    "ServiceSpec",
    "UnknownService",
    "backend_services",
    "gateway",
    "get_service",
    "load",
    "missing_parts",
    "module_available",
    "public_prefixes",
    "run_seed",
    "service_names",
    "settings_for",
    "source_root",
    "start_order",
]


class NotAvailable(RuntimeError):
    """A registry entry points at code that is not there (yet)."""


def module_available(import_path: str) -> bool:
    module = import_path.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def load(import_path: str) -> Any:
    """Import "module:attribute"; NotAvailable names what is missing."""
    module_name, _, attribute = import_path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise NotAvailable(f"{import_path} is not available: {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise NotAvailable(f"{import_path} is not available: {module_name} has no {attribute!r}") from None


def missing_parts(spec: ServiceSpec, *, need_seed: bool = False) -> list[str]:
    """What of this service's code is not there yet (empty when it can be started)."""
    missing = []
    for label, path in (("app factory", spec.app_factory), ("settings", spec.settings_class)):
        if not module_available(path):
            missing.append(f"{label} {path}")
    if not (spec.migrations_path() / "env.py").is_file():
        missing.append(f"migrations {spec.migrations_dir}/env.py")
    if need_seed and spec.seed and not module_available(spec.seed):
        missing.append(f"seed {spec.seed}")
    return missing


def settings_for(spec: ServiceSpec, **overrides: Any):
    """The service's settings from its environment (CRM_<SVC>_*), with explicit overrides."""
    return load(spec.settings_class)(**overrides)


async def run_seed(spec: ServiceSpec, db, settings) -> Any:
    """Seed functions take (db) or (db, settings); settings go only to one that names them."""
    if not spec.seed:
        return None
    seed = load(spec.seed)
    if "settings" in inspect.signature(seed).parameters:
        return await seed(db, settings=settings)
    return await seed(db)
