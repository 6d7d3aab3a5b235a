"""No endpoint silently ignores a query parameter: a GET naming one its route does not declare is
refused with a 422 naming the parameter (a filter the caller believes applied, e.g. a ``q`` that a
list does not know, would otherwise return everything).

Every app built by ``crm_shared.app.create_service_app`` applies ``refuse_unknown_query_parameters``
to each route. A route that reads further parameters itself (a TMF filter such as
``creationDate.gt``, the gateway's forwarding) says which with ``@extra_query_parameters(...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from .errors import field_problem

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
ANY = ""  # the prefix of every name: the route takes any parameter (it forwards them)
_EXTRA = "__crm_extra_query_parameters__"
_known_by_route: dict[int, tuple[frozenset[str], tuple[str, ...]]] = {}


def extra_query_parameters(*prefixes: str) -> Callable[[Endpoint], Endpoint]:
    """Marks an endpoint that reads the query parameters whose names start with one of
    ``prefixes`` itself (``ANY`` for all)."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _EXTRA, prefixes)
        return endpoint

    return mark


def accepted_query_parameters(route: APIRoute) -> tuple[frozenset[str], tuple[str, ...]]:
    """(the names the route declares, the prefixes it reads itself)."""
    known = _known_by_route.get(id(route))
    if known is None:
        declared = frozenset(_query_parameter_names(route.dependant))
        known = (declared, tuple(getattr(route.endpoint, _EXTRA, ())))
        _known_by_route[id(route)] = known
    return known


def _query_parameter_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_parameter_names(dependency)
    return names


async def refuse_unknown_query_parameters(request: Request) -> None:
    if request.method not in ("GET", "HEAD"):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared, prefixes = accepted_query_parameters(route)
    for name in request.query_params:
        if name not in declared and not any(name.startswith(prefix) for prefix in prefixes):
            accepted = ", ".join(sorted(declared)) or "none"
            raise field_problem(name, f"is not a query parameter of this endpoint (it takes: {accepted})")
