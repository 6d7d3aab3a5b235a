"""The portal's one-time codes: kept as an HMAC, one live code per phone (a new one retires the
last), expiring, used once, dead after a few wrong guesses (crm_gateway/domain/portal.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import PortalSignInCode
from ..domain.portal import code_hash, code_matches


@dataclass(frozen=True)
class CodeCheck:
    """``accounts`` ([{id, name}]) when the code was right; otherwise empty, and whether it is spent."""

    accounts: list[dict]
    right: bool


SIGN_IN = "sign_in"


def adding_phone(customer_id: str) -> str:
    """The purpose of a code confirming a new phone for this customer."""
    return f"add_phone:{customer_id}"


async def store_code(
    session: AsyncSession,
    *,
    secret: str,
    phone: str,
    code: str,
    accounts: list[dict],
    now: datetime,
    ttl_s: int,
    purpose: str = SIGN_IN,
) -> None:
    await session.execute(
        update(PortalSignInCode)
        .where(PortalSignInCode.phone == phone, PortalSignInCode.purpose == purpose, PortalSignInCode.used_at.is_(None))
        .values(used_at=now)
    )
    session.add(
        PortalSignInCode(
            phone=phone,
            purpose=purpose,
            code_hash=code_hash(secret, phone, code),
            accounts=accounts,
            wrong_attempts=0,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )


async def check_code(
    session: AsyncSession,
    *,
    secret: str,
    phone: str,
    code: str,
    now: datetime,
    max_wrong: int,
    use: bool,
    purpose: str = SIGN_IN,
) -> CodeCheck:
    """Check ``code`` against the phone's live code (row locked). A wrong guess counts against the
    code's budget; a right one is used up when ``use`` (not while the caller still has to choose
    among the accounts sharing the phone)."""
    live = await session.scalar(
        select(PortalSignInCode)
        .where(
            PortalSignInCode.phone == phone,
            PortalSignInCode.purpose == purpose,
            PortalSignInCode.used_at.is_(None),
            PortalSignInCode.expires_at > now,
        )
        .order_by(PortalSignInCode.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if live is None:
        return CodeCheck([], False)
    if not code_matches(secret, phone, code, live.code_hash):
        live.wrong_attempts += 1
        if live.wrong_attempts >= max_wrong:
            live.used_at = now
        return CodeCheck([], False)
    if use:
        live.used_at = now
    return CodeCheck(list(live.accounts), True)
