"""Staff users: usernames, passwords and the roles staff may have."""

from __future__ import annotations

import re

from crm_shared.auth import Role
from crm_shared.errors import field_problem

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
LANGUAGES = ("kk", "ru", "en")
MIN_PASSWORD_LENGTH = 8


def normalise_username(username: str) -> str:
    value = username.strip().lower()
    if not USERNAME_PATTERN.match(value):
        raise field_problem("username", "2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    return value


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise field_problem("password", f"at least {MIN_PASSWORD_LENGTH} characters")


def staff_role(value: str) -> Role:
    try:
        role = Role(value)
    except ValueError:
        raise field_problem("role", f"unknown role {value!r}") from None
    if role is Role.SYSTEM:
        raise field_problem("role", "system is reserved for API keys of external systems")
    return role
