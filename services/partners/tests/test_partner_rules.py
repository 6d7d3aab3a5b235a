"""The partner rules, and where a new partner is placed: pure functions, no infrastructure."""

from __future__ import annotations

import pytest

from crm_partners.access import placement
from crm_partners.domain.partners import check_region, clean_name, clean_notes
from crm_shared.domain import InvalidField, NotAllowed
from crm_shared.errors import Problem
from crm_shared.testing import PRINCIPALS


def test_a_name_is_kept_with_single_spaces():
    assert clean_name("  Abay \t avenue\n") == "Abay avenue"


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_name_is_refused_naming_the_field(blank):
    with pytest.raises(InvalidField) as refused:
        clean_name(blank)
    assert refused.value.field == "name"


def test_blank_notes_are_no_notes():
    assert clean_notes(" call back on Monday ") == "call back on Monday"
    assert clean_notes("  ") is None
    assert clean_notes(None) is None


def test_a_region_is_one_of_kazakhstans():
    assert check_region("KZ-35") == "KZ-35"
    with pytest.raises(InvalidField) as refused:
        check_region("KZ-99")
    assert refused.value.field == "region_code"


@pytest.mark.parametrize(
    ("role", "branch_code", "region_code", "placed"),
    [
        ("branch_agent", None, None, ("ALA-01", "KZ-75")),
        ("branch_manager", "ALA-01", "KZ-75", ("ALA-01", "KZ-75")),
        ("regional_manager", None, None, ("ALA-02", "KZ-75")),
        ("regional_manager", "ALA-01", "KZ-75", ("ALA-01", "KZ-75")),
        ("admin", "KAR-01", "KZ-35", ("KAR-01", "KZ-35")),
    ],
)
def test_a_new_partner_goes_to_the_callers_branch_unless_another_is_named(role, branch_code, region_code, placed):
    assert placement(PRINCIPALS[role], branch_code, region_code) == placed


@pytest.mark.parametrize(
    ("role", "branch_code", "region_code", "refusal", "field"),
    [
        ("branch_agent", "KAR-01", "KZ-35", NotAllowed, None),
        ("regional_manager", "KAR-01", "KZ-35", NotAllowed, None),
        ("branch_agent", None, "KZ-35", InvalidField, "region_code"),  # the agent's own branch is in KZ-75
        ("regional_manager", "ALA-01", None, InvalidField, "region_code"),
        ("admin", None, None, InvalidField, "branch_code"),
        ("admin", "KAR-01", "KZ-99", InvalidField, "region_code"),
    ],
)
def test_a_placement_outside_the_callers_reach_or_without_a_region_is_refused(
    role, branch_code, region_code, refusal, field
):
    with pytest.raises(refusal) as refused:
        placement(PRINCIPALS[role], branch_code, region_code)
    assert refused.value.field == field


@pytest.mark.parametrize("role", ["call_center_agent", "hq_analyst"])
def test_roles_that_never_write_register_nothing(role):
    with pytest.raises(Problem) as refused:
        placement(PRINCIPALS[role], "ALA-01", "KZ-75")
    assert refused.value.status == 403
