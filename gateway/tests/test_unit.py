"""Gateway logic without infrastructure."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from crm_gateway.authn import TtlCache, VerifiedTokens
from crm_gateway.config import GatewaySettings
from crm_gateway.domain.api_keys import format_key, new_key, parse_key, required_scope, validate_scopes
from crm_gateway.domain.branches import check_may_close, required_text
from crm_gateway.domain.users import check_own_account_change, normalise_username
from crm_gateway.openapi import merge_openapi
from crm_gateway.passwords import Passwords
from crm_gateway.services.user_service import staff_role
from crm_gateway.upstream import InternalTokens
from crm_shared.auth import Principal, Role, verify_internal_token
from crm_shared.domain import DomainError
from crm_shared.errors import conflict, field_problem, problem_of
from crm_shared.registry import get_service
from crm_shared.settings import PUBLISHED_SECRETS

STRONG = "x" * 48


def test_production_refuses_the_default_jwt_secret():
    with pytest.raises(ValidationError, match="jwt_secret"):
        GatewaySettings(profile="production", database_url="postgresql+asyncpg://db/gw", internal_token_secret=STRONG)


def test_production_starts_with_explicit_secrets():
    settings = GatewaySettings(
        profile="production",
        database_url="postgresql+asyncpg://db/gw",
        internal_token_secret=STRONG,
        jwt_secret="y" * 48,
    )
    assert settings.jwt_secret == "y" * 48
    assert "jwt_secret" in GatewaySettings.secret_fields()


def test_an_unset_jwt_secret_is_random_per_process_in_the_dev_profile():
    settings = GatewaySettings()
    assert len(settings.jwt_secret) >= 32 and settings.jwt_secret not in PUBLISHED_SECRETS
    assert settings.jwt_secret != settings.internal_token_secret
    assert GatewaySettings().jwt_secret == settings.jwt_secret


def test_the_published_jwt_secret_is_refused_even_in_the_dev_profile():
    for secret in PUBLISHED_SECRETS:
        with pytest.raises(ValidationError, match="jwt_secret is a value published"):
            GatewaySettings(jwt_secret=secret)


def test_settings_come_from_the_gateway_prefix(monkeypatch):
    monkeypatch.setenv("CRM_GATEWAY_SALES_URL", "http://sales.internal:9000/")
    monkeypatch.setenv("CRM_GATEWAY_RATE_LIMIT_PER_MINUTE", "30")
    settings = GatewaySettings()
    assert settings.upstream_url(get_service("sales")) == "http://sales.internal:9000/"
    assert settings.rate_limit_per_minute == 30
    assert settings.http_port == 8000


def test_api_key_format_round_trips_and_keeps_underscores_in_the_secret():
    prefix, secret, key = new_key()
    assert key == f"crm_{prefix}_{secret}"
    assert parse_key(key) == (prefix, secret)
    assert parse_key(format_key("abc", "s_e_c")) == ("abc", "s_e_c")
    for malformed in ("", "crm_", "crm_abc", "crm__secret", "xyz_abc_secret", "crm_abc_"):
        assert parse_key(malformed) is None


def test_two_new_keys_differ():
    assert new_key() != new_key()


def test_scopes_are_checked_against_the_routed_services():
    known = {"sales": ("sales:read", "sales:write"), "orders": ("orders:read", "orders:fulfil")}
    assert validate_scopes(["sales:read", "sales:write", "sales:read"], known) == ["sales:read", "sales:write"]
    assert validate_scopes(["orders:fulfil"], known) == ["orders:fulfil"]
    with pytest.raises(DomainError) as unknown:
        validate_scopes(["billing:read"], known)
    assert problem_of(unknown.value).errors[0]["field"] == "scopes.0"
    with pytest.raises(DomainError) as not_understood:
        validate_scopes(["sales:read", "sales:admin"], known)
    assert problem_of(not_understood.value).errors[0]["field"] == "scopes.1"
    assert "sales:read, sales:write" in problem_of(not_understood.value).errors[0]["message"]
    with pytest.raises(DomainError) as other_services_verb:
        validate_scopes(["sales:fulfil"], known)
    assert problem_of(other_services_verb.value).errors[0]["field"] == "scopes.0"
    with pytest.raises(DomainError) as malformed:
        validate_scopes(["sales"], known)
    assert problem_of(malformed.value).errors[0]["field"] == "scopes.0"


@pytest.mark.parametrize(
    "method,scope",
    [
        ("GET", "sales:read"),
        ("HEAD", "sales:read"),
        ("POST", "sales:write"),
        ("PATCH", "sales:write"),
        ("DELETE", "sales:write"),
    ],
)
def test_reads_need_read_scope_and_everything_else_write(method, scope):
    assert required_scope("sales", method) == scope


def test_system_role_and_bad_usernames_are_refused_for_staff():
    with pytest.raises(DomainError):
        staff_role("system")
    with pytest.raises(DomainError):
        staff_role("superuser")
    assert normalise_username("  Almaty.Agent ") == "almaty.agent"
    with pytest.raises(DomainError):
        normalise_username("has space")


def test_the_domains_refusals_are_answered_with_the_problem_bodies_the_edge_gave_before():
    with pytest.raises(DomainError) as blank:
        required_text("city", "  ")
    assert problem_of(blank.value).body() == field_problem("city", "may not be blank").body()
    with pytest.raises(DomainError) as staffed:
        check_may_close("KAR-01", 2)
    assert (
        problem_of(staffed.value).body()
        == conflict(
            "2 active staff still work in branch KAR-01: move or deactivate them first",
            errors=[{"field": "active", "message": "2 active staff still work here"}],
        ).body()
    )
    with pytest.raises(DomainError) as own:
        check_own_account_change(deactivating=True, changing_role=False)
    assert (
        problem_of(own.value).body()
        == conflict("administrators may not deactivate or re-role their own account; ask another admin").body()
    )


def test_cache_entries_expire_after_the_window():
    now = [100.0]
    cache: TtlCache[str, str] = TtlCache(15.0, clock=lambda: now[0])
    cache.put("k", "v")
    now[0] += 14.9
    assert cache.get("k") == (True, "v")
    now[0] += 0.1
    assert cache.get("k") == (False, None)


def test_verified_tokens_are_kept_until_they_expire_and_the_least_recently_used_go_first():
    now = [1000.0]
    tokens = VerifiedTokens(max_entries=2, clock=lambda: now[0])
    tokens.put("a", {"sub": "u1", "exp": 1010})
    tokens.put("b", {"sub": "u2", "exp": 2000})
    now[0] = 1009.9
    assert tokens.get("a") == {"sub": "u1", "exp": 1010}  # a is now the most recently used
    tokens.put("c", {"sub": "u3", "exp": 2000})
    assert tokens.get("b") is None and tokens.get("c") is not None and len(tokens) == 2
    now[0] = 1010.0
    assert tokens.get("a") is None  # expired: the full check runs again and refuses it
    assert len(tokens) == 1


def test_internal_token_is_reused_and_verifies_as_the_principal():
    tokens = InternalTokens("s" * 40)
    principal = Principal("key-1", "Billing", Role.SYSTEM, scopes=("sales:read",))
    first = tokens.token_for(principal)
    assert tokens.token_for(principal) == first
    assert verify_internal_token(first, "s" * 40) == principal
    other = Principal("user-1", "u", Role.ADMIN)
    assert tokens.token_for(other) != first


def _service_document():
    return {
        "openapi": "3.1.0",
        "paths": {
            "/api/v1/sales/customers": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CustomerCreate"}}}
                    },
                    "responses": {
                        "201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Customer"}}}}
                    },
                }
            },
            "/metrics": {"get": {"responses": {"200": {}}}},
        },
        "components": {
            "schemas": {
                "Customer": {
                    "type": "object",
                    "properties": {"phones": {"type": "array", "items": {"$ref": "#/components/schemas/Phone"}}},
                },
                "CustomerCreate": {"type": "object"},
                "Phone": {"type": "object"},
                "HTTPValidationError": {"type": "object"},
            }
        },
    }


def test_merged_openapi_namespaces_each_services_components():
    gateway_doc = {
        "openapi": "3.1.0",
        "info": {"title": "gw", "version": "1"},
        "paths": {"/api/v1/auth/token": {"post": {"responses": {}}}, "/api/v1/auth/me": {"get": {}}},
        "components": {"schemas": {"HTTPValidationError": {"type": "object", "title": "gateway's"}}},
    }
    merged = merge_openapi(gateway_doc, {"sales": _service_document()})
    assert set(merged["paths"]) == {"/api/v1/auth/token", "/api/v1/auth/me", "/api/v1/sales/customers"}
    schemas = merged["components"]["schemas"]
    assert schemas["HTTPValidationError"]["title"] == "gateway's"
    assert {"sales.Customer", "sales.CustomerCreate", "sales.Phone", "sales.HTTPValidationError"} <= set(schemas)
    assert schemas["sales.Customer"]["properties"]["phones"]["items"]["$ref"] == "#/components/schemas/sales.Phone"
    post = merged["paths"]["/api/v1/sales/customers"]["post"]
    assert (
        post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/sales.CustomerCreate"
    )
    assert set(merged["components"]["securitySchemes"]) == {"OAuth2Password", "BearerToken", "ApiKeyHeader"}
    assert merged["paths"]["/api/v1/auth/token"]["post"]["security"] == []
    assert "security" not in merged["paths"]["/api/v1/auth/me"]["get"]  # the document-wide default applies
    assert "x-unavailable-services" not in merged


def test_merged_openapi_names_a_service_that_gave_no_document():
    merged = merge_openapi({"openapi": "3.1.0", "info": {}, "paths": {}}, {"sales": None})
    assert merged["x-unavailable-services"] == ["sales"]


async def test_hashes_verify_across_cost_settings_and_old_ones_ask_for_a_rehash():
    cheap, cheaper = Passwords(time_cost=2, memory_kib=2048), Passwords(time_cost=1, memory_kib=1024)
    stored = await cheap.hash("correct horse")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert await cheaper.verify(stored, "correct horse")
    assert not await cheaper.verify(stored, "wrong horse")
    assert not await cheaper.verify("not a hash", "correct horse")
    assert cheaper.needs_rehash(stored) and not cheap.needs_rehash(stored)


def test_merged_openapi_keeps_the_paths_of_a_routed_public_prefix():
    document = _service_document()
    document["paths"]["/tmf-api/productOrderingManagement/v4/productOrder"] = {"get": {"responses": {}}}
    document["paths"]["/tmf-api/somethingElse/v4/x"] = {"get": {"responses": {}}}
    merged = merge_openapi(
        {"openapi": "3.1.0", "info": {}, "paths": {}},
        {"sales": document},
        {"/tmf-api/productOrderingManagement": "sales", "/tmf-api/somethingElse": "orders"},
    )
    assert "/tmf-api/productOrderingManagement/v4/productOrder" in merged["paths"]
    assert "/tmf-api/somethingElse/v4/x" not in merged["paths"]  # routed to another service


def test_merged_openapi_renames_the_schemas_a_discriminator_maps_to():
    document = _service_document()
    individual, business = "#/components/schemas/IndividualCreate", "#/components/schemas/BusinessCreate"
    document["components"]["schemas"] |= {"IndividualCreate": {"type": "object"}, "BusinessCreate": {"type": "object"}}
    document["components"]["schemas"]["CustomerCreate"] = {
        "oneOf": [{"$ref": individual}, {"$ref": business}],
        "discriminator": {"propertyName": "kind", "mapping": {"individual": individual, "business": business}},
    }
    merged = merge_openapi({"openapi": "3.1.0", "info": {}, "paths": {}}, {"sales": document})
    create = merged["components"]["schemas"]["sales.CustomerCreate"]
    assert create["discriminator"] == {
        "propertyName": "kind",
        "mapping": {
            "individual": "#/components/schemas/sales.IndividualCreate",
            "business": "#/components/schemas/sales.BusinessCreate",
        },
    }
    schemas = merged["components"]["schemas"]
    for target in create["discriminator"]["mapping"].values():
        assert target.rsplit("/", 1)[1] in schemas
