"""One OpenAPI document for the public API: the gateway's own routes plus every routed service's.

Service paths already carry /api/v1/<service>/...; their components are renamed
``<service>.<name>`` (and every $ref with them) so that two services' ``Customer`` cannot clash.
"""

from __future__ import annotations

import copy
from typing import Any

SECURITY_SCHEMES = {
    "OAuth2Password": {
        "type": "oauth2",
        "description": "Staff sign-in: username and password give a Bearer access token.",
        "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
    },
    "BearerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "ApiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An external system's key, crm_<prefix>_<secret> (also accepted as 'Authorization: ApiKey <key>').",
    },
}
DEFAULT_SECURITY = [{"OAuth2Password": []}, {"BearerToken": []}, {"ApiKeyHeader": []}]
PUBLIC_OPERATIONS = {("/api/v1/auth/token", "post")}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    """Every reference to a renamed component: each ``$ref``, and the schema references that a
    ``discriminator``'s ``mapping`` holds as plain strings."""
    if isinstance(node, dict):
        renamed = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                renamed[key] = renames.get(value, value)
            elif key == "discriminator" and isinstance(value, dict) and isinstance(value.get("mapping"), dict):
                mapping = {tag: renames.get(target, target) for tag, target in value["mapping"].items()}
                renamed[key] = {**value, "mapping": mapping}
            else:
                renamed[key] = _rename_refs(value, renames)
        return renamed
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def namespace_service(
    service: str, document: dict[str, Any], extra_prefixes: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, components) of one service, restricted to /api/v1/<service>/ (and the other public
    prefixes the gateway routes to it, e.g. /tmf-api/...) and namespaced."""
    prefixes = (f"/api/v1/{service}/", *extra_prefixes)
    components = document.get("components") or {}
    renames: dict[str, str] = {}
    for section, entries in components.items():
        if section == "securitySchemes":
            continue
        for name in entries:
            renames[f"#/components/{section}/{name}"] = f"#/components/{section}/{service}.{name}"
    paths = {
        path: _rename_refs(item, renames)
        for path, item in (document.get("paths") or {}).items()
        if path.startswith(prefixes)
    }
    namespaced = {
        section: {f"{service}.{name}": _rename_refs(value, renames) for name, value in entries.items()}
        for section, entries in components.items()
        if section != "securitySchemes"
    }
    return paths, namespaced


def merge_openapi(
    gateway_document: dict[str, Any],
    services: dict[str, dict[str, Any] | None],
    routed_prefixes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``routed_prefixes``: public prefix -> service (crm_shared.registry.public_prefixes)."""
    merged = copy.deepcopy(gateway_document)
    merged["info"] = {**merged.get("info", {}), "title": "Qazaq CRM public API"}
    paths = merged.setdefault("paths", {})
    components = merged.setdefault("components", {})
    unavailable = []
    for service, document in services.items():
        if document is None:
            unavailable.append(service)
            continue
        extra = tuple(prefix.rstrip("/") + "/" for prefix, owner in (routed_prefixes or {}).items() if owner == service)
        service_paths, service_components = namespace_service(service, document, extra)
        paths.update(service_paths)
        for section, entries in service_components.items():
            components.setdefault(section, {}).update(entries)
    components["securitySchemes"] = {**components.get("securitySchemes", {}), **SECURITY_SCHEMES}
    merged["security"] = DEFAULT_SECURITY
    for path, method in PUBLIC_OPERATIONS:
        operation = paths.get(path, {}).get(method)
        if operation is not None:
            operation["security"] = []
    if unavailable:
        merged["x-unavailable-services"] = sorted(unavailable)
    return merged
