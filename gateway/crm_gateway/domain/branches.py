"""The branch network: the rules of a branch's fields."""

from __future__ import annotations

import re

from crm_shared.errors import field_problem
from crm_shared.reference import BRANCH_CODE_PATTERN, REGIONS_BY_CODE


def normalise_code(code: str) -> str:
    value = code.strip().upper()
    if not re.match(BRANCH_CODE_PATTERN, value):
        raise field_problem("code", "three letters of the city, a dash and two digits, e.g. ALA-03")
    return value


def known_region(region_code: str, field: str = "region_code") -> str:
    if region_code not in REGIONS_BY_CODE:
        raise field_problem(field, f"unknown region {region_code!r}")
    return region_code


def required_text(field: str, value: str) -> str:
    text = value.strip()
    if not text:
        raise field_problem(field, "may not be blank")
    return text
