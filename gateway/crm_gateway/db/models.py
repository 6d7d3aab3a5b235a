"""The gateway's own tables: staff users, the branch network, API keys of external systems, rate-limit
buckets and the addresses users sign in from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_shared.db import UTCDateTime, new_id, utcnow

from .base import GatewayBase


class User(GatewayBase):
    """A staff account; the gateway is the system of record for users."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str | None] = mapped_column(String(16))
    branch_code: Mapped[str | None] = mapped_column(String(32))
    # Role partner only: the dealer or agent (partners service) whose records the user works with.
    partner_id: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(2), default="ru")
    # Where the person's own mail goes (task reminders); none for a shared or service account.
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Carried in access tokens; a password reset increments it, so older tokens stop working.
    token_generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Branch(GatewayBase):
    """A branch of the network; the gateway is the system of record. A branch never changes region
    (records placed in it carry that region for visibility); a closed one takes no new placements."""

    __tablename__ = "branches"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(16), index=True)
    city: Mapped[str] = mapped_column(String(100))
    name_kk: Mapped[str] = mapped_column(String(200))
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(GatewayBase):
    """An external system's key: ``crm_<prefix>_<secret>``; only the argon2 hash of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    region_code: Mapped[str | None] = mapped_column(String(16))
    branch_code: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateLimitBucket(GatewayBase):
    """One token bucket per subject (user, API key, login address), updated by one atomic upsert."""

    __tablename__ = "rate_limit_buckets"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)  # epoch seconds of the last refill
    allowed: Mapped[bool] = mapped_column(Boolean)  # whether the last request took a token


class SignInOrigin(GatewayBase):
    """An address (an IPv6 client's /64) a user signed in from with the right password: from there
    the user may still sign in while failed attempts throttle the address or the account."""

    __tablename__ = "sign_in_origins"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_success_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PortalSignInCode(GatewayBase):
    """A one-time code sent by SMS to a customer's phone for the self-service portal: only its
    HMAC is kept; it expires, is used once, and dies after a few wrong guesses."""

    __tablename__ = "portal_sign_in_codes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    # "sign_in", or "add_phone:<customer id>": a code confirming a new phone of a signed-in customer
    # never signs anyone in, and a sign-in code never confirms a phone
    purpose: Mapped[str] = mapped_column(String(80), default="sign_in")
    code_hash: Mapped[str] = mapped_column(String(64))
    accounts: Mapped[list[dict]] = mapped_column(JSON, default=list)  # [{id, name}] the phone signs in to
    wrong_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
