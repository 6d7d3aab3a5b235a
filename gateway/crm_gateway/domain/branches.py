"""The branch network: the rules of a branch's fields, of placing something in a branch, and of
closing one."""

from __future__ import annotations

import re

from crm_shared.domain import Conflict, InvalidField
from crm_shared.reference import BRANCH_CODE_PATTERN, REGIONS_BY_CODE


class StaffStillPlaced(Conflict):
    """A branch closes only once no active staff work there (409 naming ``active``)."""

    def __init__(self, code: str, active_staff: int) -> None:
        super().__init__(
            f"{active_staff} active staff still work in branch {code}: move or deactivate them first", field="active"
        )
        self.message = f"{active_staff} active staff still work here"


def normalise_code(code: str) -> str:
    value = code.strip().upper()
    if not re.match(BRANCH_CODE_PATTERN, value):
        raise InvalidField("code", "three letters of the city, a dash and two digits, e.g. ALA-03")
    return value


def known_region(region_code: str, field: str = "region_code") -> str:
    if region_code not in REGIONS_BY_CODE:
        raise InvalidField(field, f"unknown region {region_code!r}")
    return region_code


def required_text(field: str, value: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidField(field, "may not be blank")
    return text


def region_of_placement(region_code: str | None, branch_code: str, branch_region: str) -> str:
    """A branch implies its region; a region given with the branch must be that one."""
    if region_code is not None and region_code != branch_region:
        raise InvalidField("region_code", f"branch {branch_code} belongs to region {branch_region}")
    return branch_region


def check_may_close(code: str, active_staff: int) -> None:
    if active_staff:
        raise StaffStillPlaced(code, active_staff)
