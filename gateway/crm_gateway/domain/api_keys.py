"""API keys of external systems: ``crm_<prefix>_<secret>``, scopes ``<service>:<verb>`` as the
services registry lists them (``sales:read``, ``orders:fulfil``, ...)."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Collection, Iterable, Mapping

from crm_shared.domain import InvalidField

KEY_PREFIX = "crm"
PREFIX_LENGTH = 8
PREFIX_ALPHABET = string.ascii_lowercase + string.digits
SCOPE_PATTERN = re.compile(r"^(?P<service>[a-z][a-z0-9_-]*):(?P<verb>[a-z][a-z0-9_-]*)$")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_key() -> tuple[str, str, str]:
    """(prefix, secret, full key). The prefix is shown in lists; the secret only once."""
    prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = secrets.token_urlsafe(32)
    return prefix, secret, format_key(prefix, secret)


def format_key(prefix: str, secret: str) -> str:
    return f"{KEY_PREFIX}_{prefix}_{secret}"


def parse_key(key: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None. The secret may itself contain '_'."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def validate_scopes(scopes: Iterable[str], service_scopes: Mapping[str, Collection[str]]) -> list[str]:
    """The requested scopes without repeats; each must be one that its service understands
    (``service_scopes``: service -> its scopes, from the registry)."""
    result: list[str] = []
    for index, scope in enumerate(scopes):
        match = SCOPE_PATTERN.match(scope)
        if not match:
            raise InvalidField(f"scopes.{index}", "expected <service>:<verb>, e.g. sales:read")
        service = match["service"]
        if service not in service_scopes:
            raise InvalidField(
                f"scopes.{index}", f"unknown service {service!r}; known: {', '.join(sorted(service_scopes))}"
            )
        if scope not in service_scopes[service]:
            raise InvalidField(
                f"scopes.{index}",
                f"the {service} service has no scope {scope!r}; its scopes: {', '.join(service_scopes[service])}",
            )
        if scope not in result:
            result.append(scope)
    if not result:
        raise InvalidField("scopes", "at least one scope is required")
    return result


def required_scope(service: str, method: str) -> str:
    """Reads need <service>:read, everything else <service>:write."""
    return f"{service}:{'read' if method.upper() in READ_METHODS else 'write'}"
