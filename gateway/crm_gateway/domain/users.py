"""Staff users: usernames, passwords, and what an administrator may do to their own account.

Which roles staff may have, and where each role sits in the network, are rules about
crm_shared.auth's roles, which come with web and database types: services/user_service.py holds
them (staff_role, user_placement).
"""

from __future__ import annotations

import re

from crm_shared.domain import Conflict, InvalidField

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
LANGUAGES = ("kk", "ru", "en")
MIN_PASSWORD_LENGTH = 8


def normalise_username(username: str) -> str:
    value = username.strip().lower()
    if not USERNAME_PATTERN.match(value):
        raise InvalidField("username", "2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    return value


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidField("password", f"at least {MIN_PASSWORD_LENGTH} characters")


def check_own_account_change(*, deactivating: bool, changing_role: bool) -> None:
    """An administrator changing their own account may not lock themselves out."""
    if deactivating or changing_role:
        raise Conflict("administrators may not deactivate or re-role their own account; ask another admin")
