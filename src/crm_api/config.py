"""Settings, read from the environment (and a `.env` file when present)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; names are the environment variables, prefixed `CRM_`."""

    model_config = SettingsConfigDict(env_prefix="CRM_", env_file=".env", extra="ignore")

    # Owner connection: runs migrations and the admin CLI. Unset: an embedded PostgreSQL.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "CRM_DATABASE_URL")
    )
    # The application's own connection, as a role that owns no table and cannot bypass RLS.
    # Unset: DATABASE_URL with the user replaced by `app_db_role` (and `app_db_password`).
    app_database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("APP_DATABASE_URL", "CRM_APP_DATABASE_URL")
    )
    app_db_role: str = "crm_app"
    app_db_password: str | None = None
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "CRM_REDIS_URL"))

    data_dir: Path = Path(".crm")
    db_pool_size: int = 10
    db_max_overflow: int = 10

    max_body_bytes: int = 1_048_576
    idempotency_ttl_seconds: int = 24 * 3600
    trash_retention_days: int = 30
    log_level: str = "INFO"
    events_retention_days: int = 30

    # Encrypts credentials at rest (webhook secrets, integration tokens): base64 of 32 bytes.
    # Unset: a key generated once into `<data_dir>/secret-key` (fine for development only).
    secret_key: str | None = None

    # Webhooks. Targets must resolve to public addresses unless allowed here (development, tests):
    # comma-separated host names and CIDR ranges, e.g. "localhost,127.0.0.0/8".
    webhook_allow_hosts: str = ""
    webhook_allow_http: bool = False
    webhook_timeout_seconds: float = 15.0
    # Seconds before each attempt after the first failure: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    webhook_retry_schedule: list[float] = [5, 300, 1800, 7200, 18000, 36000, 36000]
    webhook_retry_jitter: float = 0.1
    webhook_disable_after_seconds: float = 5 * 24 * 3600
    webhook_batch_size: int = 100
    # A worker holds an endpoint this long per claim; a killed worker's claim lapses after it.
    webhook_lease_seconds: float = 60.0
    webhook_sweep_seconds: int = 5

    # Digests by email. No host: no digest is sent (settings can still be saved).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_tls: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 30.0
    digest_from: str = "crm@localhost"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings."""
    return Settings()
