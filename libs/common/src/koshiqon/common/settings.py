"""Configuration from the environment, one pydantic-settings class per service.

Every service subclasses `ServiceSettings` with its own prefix, e.g.::

    class QuotaSettings(ServiceSettings):
        model_config = service_config("QUOTA_")
        service_name: str = "quota"

`QUOTA_DATABASE_URL`, `QUOTA_HTTP_PORT`, ... then configure it. Values shared by every
service (the PostgreSQL server, the Kafka brokers, the environment) fall back to the
unprefixed variables `DATABASE_URL`, `KAFKA_BOOTSTRAP_SERVERS` and `KOSHIQON_ENV`.

`KOSHIQON_ENV` unset means production (`prod`): the development signing key and database
password are refused until dev or test is said. `make`, `./koshiqon` and `scripts/up.sh` say
`dev`, `scripts/test.sh` and the test suite (tests/conftest.py) say `test`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self

from pydantic import (
    BaseModel,
    Field,
    PostgresDsn,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from koshiqon.common.collector import DEFAULT_YOUNG_THRESHOLD

Environment = Literal["dev", "test", "staging", "prod"]

# the local infrastructure's addresses (`koshiqon infra up`); its ports can be moved so that
# two checkouts run side by side
LOCAL_PG_PORT = int(os.environ.get("KOSHIQON_PG_PORT", "54320"))
LOCAL_KAFKA_PORT = int(os.environ.get("KOSHIQON_KAFKA_PORT", "19092"))
DEFAULT_DATABASE_URL = f"postgresql://postgres:koshiqon-dev@127.0.0.1:{LOCAL_PG_PORT}/koshiqon"
DEFAULT_KAFKA_BOOTSTRAP = f"127.0.0.1:{LOCAL_KAFKA_PORT}"
DEV_ROLE_PASSWORD = "koshiqon-dev"
DEFAULT_MAX_TOKEN_LIFETIME = 3600
"""The longest a bearer token may live (`exp - iat`), in seconds, unless configured."""


SECRETS_DIR_VARIABLE = "KOSHIQON_SECRETS_DIR"
"""A folder of files named after the variables they stand for (`QUOTA_DB_PASSWORD`,
`KAFKA_SASL_PASSWORD`), each holding its value: how a pod mounts its Secrets instead of putting
them in its environment. A variable that is set wins over its file."""


class SecretFiles:
    """Settings read from environment variables, then from the files of KOSHIQON_SECRETS_DIR
    when it is set (looked up when the settings are made, not at import)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        folder = os.environ.get(SECRETS_DIR_VARIABLE)
        files = SecretsSettingsSource(settings_cls, secrets_dir=folder) if folder else None
        return (init_settings, env_settings, dotenv_settings, files or file_secret_settings)


def service_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_nested_delimiter="__", extra="ignore", frozen=True
    )


class AuthSettings(BaseModel):
    """How bearer tokens are verified. Exactly one key source is used, in this order:
    `jwks_url`, `jwks_path`, `public_key_path`, else the development key.

    A token must be an RFC 9068 access token, header `typ: at+jwt` (or `application/at+jwt`);
    `accept_plain_jwt` also admits `typ: JWT` or no `typ`, for identity providers that cannot
    set it. Unset, `ServiceSettings` decides by the environment: accepted in dev and test,
    refused elsewhere (a bare `AuthSettings()` is strict). A token living longer than
    `max_lifetime_seconds` (`exp - iat`) is refused."""

    jwks_url: str | None = None
    jwks_path: Path | None = None
    public_key_path: Path | None = None
    issuer: str = "koshiqon-dev"
    audience: str = "koshiqon"
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    accept_plain_jwt: bool | None = None
    max_lifetime_seconds: int = Field(default=DEFAULT_MAX_TOKEN_LIFETIME, ge=60, le=86_400)

    @property
    def uses_dev_key(self) -> bool:
        return not (self.jwks_url or self.jwks_path or self.public_key_path)


KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


class KafkaSecurity(SecretFiles, BaseSettings):
    """How every Kafka client of the process reaches the brokers, from the unprefixed
    `KAFKA_*` variables (one process serves one service, as with `KAFKA_BOOTSTRAP_SERVERS`).
    Unset: plaintext, as the local broker speaks. A Strimzi listener with TLS and SCRAM wants
    `KAFKA_SECURITY_PROTOCOL=SASL_SSL`, `KAFKA_SASL_MECHANISM=SCRAM-SHA-512`, the KafkaUser's
    name and password (`KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`) and the cluster CA
    (`KAFKA_SSL_CAFILE`; unset, the system's trust store)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", frozen=True)

    security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Self:
        if self.uses_sasl and not (self.sasl_username and self.sasl_password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_USERNAME"
                " and KAFKA_SASL_PASSWORD"
            )
        if self.ssl_cafile is not None and not self.ssl_cafile.is_file():
            raise ValueError(f"KAFKA_SSL_CAFILE {self.ssl_cafile} is not a file")
        return self


class ServiceSettings(SecretFiles, BaseSettings):
    model_config = service_config("KOSHIQON_")

    service_name: str = "koshiqon"
    environment: Environment = Field(
        default_factory=lambda: os.environ.get("KOSHIQON_ENV", "prod")  # type: ignore[arg-type]
    )
    database_url: PostgresDsn | None = None
    database_schema: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9_]{0,62}$", description="default: the service name"
    )
    db_password: SecretStr = SecretStr(DEV_ROLE_PASSWORD)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    kafka_bootstrap_servers: str = Field(
        default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA_BOOTSTRAP)
    )
    kafka_dlq_replication_factor: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="replicas of a consumer group's dead-letter topic when the worker creates "
        "it; unset: the broker's default",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="the longest the broker holds a worker's fetch that finds no new records "
        "(ConsumerConfig.fetch_max_wait_ms)",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    worker_probe_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="the worker's /livez, /readyz and /metrics; unset: http_port + 1000 "
        "(capped at 65535); 0: a free port",
    )
    http_max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="a larger request body is refused with 413 before it is read whole",
    )
    log_level: str = "INFO"
    gc_young_threshold: int = Field(
        default=DEFAULT_YOUNG_THRESHOLD,
        ge=700,
        le=10_000_000,
        description="net allocations between the garbage collector's young collections "
        "(koshiqon.common.collector; CPython's own default is 700)",
    )
    outbox_retention_hours: float = Field(default=72.0, gt=0)
    outbox_poll_seconds: float = Field(
        default=0.25,
        ge=0.02,
        le=10.0,
        description="the longest the relay waits between looks at an idle outbox",
    )
    outbox_lease_seconds: float = Field(
        default=15.0,
        ge=2.0,
        le=300.0,
        description="a relay leader frozen or cut off this long loses the lead to a standby",
    )
    outbox_statement_timeout_seconds: float = Field(
        default=30.0,
        ge=1.0,
        le=600.0,
        description="the longest the relay waits for the database on any one statement",
    )
    auth: AuthSettings = Field(default_factory=AuthSettings, validate_default=True)

    @field_validator("auth")
    @classmethod
    def _token_types_by_environment(cls, auth: AuthSettings, info: ValidationInfo) -> AuthSettings:
        """`accept_plain_jwt` unset: permissive in dev and test, strict elsewhere."""
        if auth.accept_plain_jwt is not None:
            return auth
        permissive = info.data.get("environment") in ("dev", "test")
        return auth.model_copy(update={"accept_plain_jwt": permissive})

    @model_validator(mode="after")
    def _no_dev_key_outside_dev(self) -> Self:
        if self.environment in ("dev", "test"):
            return self
        where = f"the environment is {self.environment}" + (
            "" if "KOSHIQON_ENV" in os.environ else " (KOSHIQON_ENV is unset, which means prod)"
        )
        if self.auth.uses_dev_key:
            raise ValueError(
                f"the development signing key is refused outside dev and test, and {where}:"
                " configure AUTH__JWKS_URL, AUTH__JWKS_PATH or AUTH__PUBLIC_KEY_PATH, or on a"
                " development machine set KOSHIQON_ENV=dev"
            )
        if self.db_password.get_secret_value() == DEV_ROLE_PASSWORD:
            raise ValueError(
                f"the development database password is refused outside dev and test, and {where}:"
                " set <SERVICE>_DB_PASSWORD, or on a development machine KOSHIQON_ENV=dev"
            )
        return self

    @property
    def probe_port(self) -> int:
        """The port `koshiqon-<service> worker` serves its probes on."""
        if self.worker_probe_port is not None:
            return self.worker_probe_port
        return min(self.http_port + 1000, 65535)

    @property
    def db_schema(self) -> str:
        """The service's own PostgreSQL schema (by default its name, also its role's name)."""
        return self.database_schema or self.service_name

    def dsn(self) -> str:
        """The service's own DSN: its configured URL, else the shared server with its role."""
        if self.database_url is not None:
            return str(self.database_url)
        return role_dsn(admin_dsn(), role=self.service_name, password=self.db_password)


def admin_dsn() -> str:
    """The bootstrap DSN (a role that may create schemas and roles)."""
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def role_dsn(base: str, *, role: str, password: SecretStr) -> str:
    """`base` with its credentials replaced by `role`:`password`."""
    url = PostgresDsn(base)
    host = url.hosts()[0]
    return (
        f"postgresql://{role}:{password.get_secret_value()}@{host['host']}:{host['port'] or 5432}"
        f"/{(url.path or '/koshiqon').lstrip('/')}"
    )
