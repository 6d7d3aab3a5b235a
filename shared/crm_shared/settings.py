"""Service settings: pydantic-settings with one environment prefix per service.

No secret that signs tokens has a default anyone can read. In the ``dev`` profile (the default
for a one-machine run) an unset one gets a random value made once per process (``process_secret``):
it works inside that process (tests, a one-process tool) and is accepted nowhere else; `crm up`
gives every process the installation's own secrets (``var/*.secret``). Any other profile refuses
to start without real ones.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that were once committed to this repository: refused in every profile, so that an old
# .env or a copied example can never make a process accept tokens anyone could have signed.
PUBLISHED_SECRETS = frozenset(
    {"dev-only-internal-token-secret-change-me-0000", "dev-only-public-jwt-secret-change-me-00000000"}
)
# 256 bits as URL-safe text: what HS256 needs (RFC 7518, 3.2), and what `crm up` generates.
MIN_SECRET_LENGTH = 32

Profile = Literal["dev", "production"]

_process_secrets: dict[str, str] = {}


def process_secret(name: str) -> str:
    """This process's own random value for the secret setting ``name``, made on first use."""
    if name not in _process_secrets:
        _process_secrets[name] = new_secret()
    return _process_secrets[name]


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def project_root() -> Path:
    """The repository root (two levels above this package), used for var/ in dev runs."""
    return Path(__file__).resolve().parents[2]


def private_directory(path: Path) -> Path:
    """``path``, created readable by this user only when it does not exist yet (it will hold
    personal data: the SQLite files carry IINs and phone numbers, the traces request URLs)."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    return path


def var_dir() -> Path:
    return private_directory(project_root() / "var")


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclass with ``model_config = service_config("SALES")``."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    service_name: str = "service"
    profile: Profile = "dev"
    database_url: str = ""  # empty: an on-disk SQLite file under var/
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str = ""
    # Signs and verifies the caller identity the gateway forwards; the same value in every process.
    internal_token_secret: str = Field("", repr=False)
    http_host: str = "127.0.0.1"
    # Reverse proxies (addresses or networks, comma-separated, e.g. "10.42.0.0/16") whose
    # X-Forwarded-For names the client; empty: none, the client is the connection's peer.
    forwarded_allow_ips: str = ""
    http_port: int = 8001
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    log_level: str = "INFO"
    log_json: bool = True
    # Tracing: spans go to a JSON-lines file (dev) and/or an OTLP/HTTP collector.
    trace_file: str = ""
    otlp_endpoint: str = ""
    # Share of new traces (requests that arrive without a sampled caller's trace) that are recorded;
    # a request whose caller's trace is sampled is always recorded (telemetry.setup_tracing).
    trace_sample_ratio: float = Field(0.1, ge=0.0, le=1.0)
    # A span per SQL statement too (off by default: it costs about as much as the query's own CPU).
    trace_database_queries: bool = False
    outbox_poll_interval_s: float = 0.2
    outbox_batch_size: int = 1000
    outbox_retention_days: int = 7
    # How often the relay asks the broker whether it still holds what was published (a memory-only
    # broker that restarted holds nothing); the relay also checks when it starts and whenever the
    # broker acknowledges an offset below one it acknowledged before.
    outbox_broker_check_interval_s: float = 5.0
    max_body_bytes: int = 1_000_000
    # A file sent as such (multipart/form-data or text/csv, e.g. a customer CSV import) may be larger.
    max_upload_bytes: int = 50 * 1024 * 1024
    grpc_enabled: bool = True
    relay_enabled: bool = True
    consumers_enabled: bool = True
    # Fault-injection hook for tests (dev profile only): when this file exists and holds a number
    # N, the relay stops after N more acknowledged events, before marking them sent, writes
    # "<file>.paused" and waits there (so a test kills it at a point it observed, not guessed).
    relay_test_pause_file: str = ""

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 10.42.0.0/16); "
                    "'*' is not accepted either: every client could choose its address"
                ) from None
        return value

    @model_validator(mode="after")
    def _real_secrets_only(self) -> ServiceSettings:
        for name in self.secret_fields():
            value = getattr(self, name)
            if value in PUBLISHED_SECRETS:
                raise ValueError(f"{name} is a value published in the repository; set a random one")
            if not value and self.profile == "dev":
                setattr(self, name, process_secret(name))
            elif self.profile != "dev" and len(value) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"{name} must be set to a random value of at least {MIN_SECRET_LENGTH} characters "
                    f"in the {self.profile!r} profile" + (" (it is empty)" if not value else "")
                )
        if self.profile != "dev":
            if not self.database_url:
                raise ValueError(f"database_url must be set in the {self.profile!r} profile")
            if self.relay_test_pause_file:
                raise ValueError(f"relay_test_pause_file is a test hook, refused in the {self.profile!r} profile")
        return self

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return ("internal_token_secret",)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{var_dir() / (self.service_name + '.db')}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def service_config(prefix: str) -> SettingsConfigDict:
    """One environment prefix per service, e.g. CRM_SALES_DATABASE_URL."""
    return SettingsConfigDict(env_prefix=f"CRM_{prefix.upper()}_", extra="ignore")
