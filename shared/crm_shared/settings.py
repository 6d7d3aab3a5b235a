"""Service settings: pydantic-settings with one environment prefix per service.

The ``dev`` profile (the default for a one-machine run) may use the development
secrets below; any other profile refuses to start while a secret keeps its default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_INTERNAL_TOKEN_SECRET = "dev-only-internal-token-secret-change-me-0000"
DEV_JWT_SECRET = "dev-only-public-jwt-secret-change-me-00000000"
DEV_SECRETS = {DEV_INTERNAL_TOKEN_SECRET, DEV_JWT_SECRET, ""}

Profile = Literal["dev", "production"]


def project_root() -> Path:
    """The repository root (two levels above this package), used for var/ in dev runs."""
    return Path(__file__).resolve().parents[2]


def var_dir() -> Path:
    path = project_root() / "var"
    path.mkdir(parents=True, exist_ok=True)
    return path


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclass with ``model_config = service_config("SALES")``."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    service_name: str = "service"
    profile: Profile = "dev"
    database_url: str = ""  # empty: an on-disk SQLite file under var/
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str = ""
    internal_token_secret: str = DEV_INTERNAL_TOKEN_SECRET
    http_host: str = "127.0.0.1"
    http_port: int = 8001
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    log_level: str = "INFO"
    log_json: bool = True
    # Tracing: spans go to a JSON-lines file (dev) and/or an OTLP/HTTP collector.
    trace_file: str = ""
    otlp_endpoint: str = ""
    # A span per SQL statement too (off by default: it costs about as much as the query's own CPU).
    trace_database_queries: bool = False
    outbox_poll_interval_s: float = 0.2
    outbox_batch_size: int = 200
    outbox_retention_days: int = 7
    # How often the relay asks the broker whether it still holds what was published (a memory-only
    # broker that restarted holds nothing); the relay also checks when it starts and whenever the
    # broker acknowledges an offset below one it acknowledged before.
    outbox_broker_check_interval_s: float = 5.0
    max_body_bytes: int = 1_000_000
    grpc_enabled: bool = True
    relay_enabled: bool = True
    consumers_enabled: bool = True
    # Fault-injection hook for tests (dev profile only): when this file exists and holds a number
    # N, the relay stops after N more acknowledged events, before marking them sent, writes
    # "<file>.paused" and waits there (so a test kills it at a point it observed, not guessed).
    relay_test_pause_file: str = ""

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_dev(self) -> ServiceSettings:
        if self.profile != "dev":
            for name in self.secret_fields():
                if getattr(self, name) in DEV_SECRETS:
                    raise ValueError(
                        f"{name} must be set explicitly in the {self.profile!r} profile "
                        "(the development default is refused)"
                    )
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
