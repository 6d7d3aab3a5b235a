"""Rules of campaigns and their deliveries: the message a recipient gets, quiet hours in the
customer's local time, the throttle, and the delivery row's states."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from crm_shared.domain import Conflict, InvalidField

CHANNELS = frozenset({"sms", "email"})
LANGUAGES = ("kk", "ru", "en")
SMS_MAX = 480  # a few concatenated parts at most
EMAIL_MAX = 20_000

# Delivery states: pending -> sending (claimed, committed before the send) -> sent -> delivered |
# failed; pending -> suppressed (no consent, no address, opted out). A row in ``sending`` after its
# claim lease was perhaps sent: it goes back to pending and is sent again with the same reference.
PENDING, SENDING, SENT, DELIVERED, FAILED, SUPPRESSED = (
    "pending",
    "sending",
    "sent",
    "delivered",
    "failed",
    "suppressed",
)
INTERRUPTED = "interrupted: the process stopped during the send; resent with the same reference"

# Kazakhstan keeps one time zone (UTC+5) since 2024-03-01; the table allows a region to differ.
DEFAULT_UTC_OFFSET = timedelta(hours=5)
REGION_UTC_OFFSET: dict[str, timedelta] = {}


def clean_message(message: dict[str, str], channel: str) -> dict[str, str]:
    if channel not in CHANNELS:
        raise InvalidField("channel", "sms or email")
    limit = SMS_MAX if channel == "sms" else EMAIL_MAX
    cleaned: dict[str, str] = {}
    for language in LANGUAGES:
        text = (message.get(language) or "").strip()
        if len(text) > limit:
            raise InvalidField(f"message.{language}", f"at most {limit} characters for {channel}")
        if text:
            cleaned[language] = text
    if not cleaned:
        raise InvalidField("message", "a text in at least one of kk, ru, en")
    return cleaned


def check_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at and ends_at and ends_at <= starts_at:
        raise InvalidField("ends_at", "must be after starts_at")


def check_launchable(status: str) -> None:
    if status != "draft":
        raise Conflict(f"the campaign is {status}; only a draft is launched")


def text_for(message: dict[str, str], preferred: str | None) -> tuple[str, str]:
    """The recipient's language when the campaign has it, else the first of kk, ru, en it has."""
    if preferred in message:
        return preferred, message[preferred]
    language = next(language for language in LANGUAGES if language in message)
    return language, message[language]


def local_time(now: datetime, region_code: str) -> time:
    offset = REGION_UTC_OFFSET.get(region_code, DEFAULT_UTC_OFFSET)
    return now.astimezone(timezone(offset)).time()


def local_date(now: datetime, region_code: str = "") -> date:
    """The calendar day in Kazakhstan (of the region, when one differs)."""
    offset = REGION_UTC_OFFSET.get(region_code, DEFAULT_UTC_OFFSET)
    return now.astimezone(timezone(offset)).date()


def in_quiet_hours(now: datetime, region_code: str, quiet_from: time, quiet_until: time) -> bool:
    """Whether ``now`` is inside the night window of the region (a window may wrap midnight)."""
    local = local_time(now, region_code)
    if quiet_from <= quiet_until:
        return quiet_from <= local < quiet_until
    return local >= quiet_from or local < quiet_until


def suppression_reason(consent: bool | None, address: str | None, status: str | None) -> str | None:
    if consent is None:
        return "unknown customer"
    if status in ("merged", "erased"):
        return f"customer {status}"
    if not consent:
        return "no marketing consent"
    if not address:
        return "no address for the channel"
    return None
