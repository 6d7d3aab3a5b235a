"""The customer portal's sign-in rules: one-time codes (six digits, kept only as an HMAC) and how
the accounts sharing one phone are offered to choose from without showing whose they are."""

from __future__ import annotations

import hashlib
import hmac
import secrets

CODE_DIGITS = 6


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(secret: str, phone: str, code: str) -> str:
    """The HMAC kept instead of the code: bound to the phone, keyed by the gateway's token secret."""
    return hmac.new(secret.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(secret: str, phone: str, code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(code_hash(secret, phone, code), stored_hash)


def is_code_shaped(code: str) -> bool:
    return len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


def masked_name(display_name: str) -> str:
    """ "Seitkali Aigerim" -> "S******* A******": enough for its owner to recognise, not to read."""
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in display_name.split())


def sign_in_message(code: str, ttl_s: int) -> str:
    minutes = max(ttl_s // 60, 1)
    return f"Qazaq Telecom: {code} - kod/код/code ({minutes} min). Never share it."
