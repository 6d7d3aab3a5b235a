"""Record scope of principals, including API keys restricted to a branch or region."""

from crm_shared.auth import Principal, Role, Scope, can_see


def test_unrestricted_system_key_is_national():
    key = Principal(subject="key-1", username="billing", role=Role.SYSTEM, scopes=("sales:read",))
    assert key.scope is Scope.NATIONAL
    assert can_see(key, "KZ-35", "KAR-01")


def test_system_key_restricted_to_a_region_sees_only_that_region():
    key = Principal(subject="key-2", username="oss-karaganda", role=Role.SYSTEM, region="KZ-35")
    assert key.scope is Scope.REGION
    assert can_see(key, "KZ-35", "KAR-02")
    assert not can_see(key, "KZ-75", "ALA-01")


def test_system_key_restricted_to_a_branch_sees_only_that_branch():
    key = Principal(subject="key-3", username="dealer", role=Role.SYSTEM, region="KZ-75", branch="ALA-01")
    assert key.scope is Scope.BRANCH
    assert can_see(key, "KZ-75", "ALA-01")
    assert not can_see(key, "KZ-75", "ALA-02")
