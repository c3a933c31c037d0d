"""Service settings: prefixes, shared fallbacks, and the refusal of development secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from koshiqon.common.settings import (
    LOCAL_KAFKA_PORT,
    LOCAL_PG_PORT,
    ServiceSettings,
    service_config,
)


class QuotaSettings(ServiceSettings):
    model_config = service_config("QUOTA_")
    service_name: str = "quota"
    http_port: int = 8002


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KOSHIQON_ENV", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_work_for_local_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "dev")
    settings = QuotaSettings()
    assert settings.environment == "dev"
    assert settings.http_port == 8002
    assert settings.db_schema == "quota"
    # the local infrastructure's ports (54320 and 19092 unless KOSHIQON_*_PORT moves them)
    assert settings.dsn() == f"postgresql://quota:koshiqon-dev@127.0.0.1:{LOCAL_PG_PORT}/koshiqon"
    assert settings.kafka_bootstrap_servers == f"127.0.0.1:{LOCAL_KAFKA_PORT}"
    assert settings.auth.uses_dev_key


def test_an_unset_environment_is_production() -> None:
    """Nothing said means production: the development key and password are refused until
    dev or test is said (`make`, `./koshiqon` and the test suite say it)."""
    with pytest.raises(ValidationError, match="development signing key") as refused:
        QuotaSettings()
    assert "KOSHIQON_ENV is unset, which means prod" in str(refused.value)


def test_an_unset_environment_refuses_the_development_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUOTA_AUTH__JWKS_URL", "https://idp.example.kz/.well-known/jwks.json")
    with pytest.raises(ValidationError, match="development database password"):
        QuotaSettings()
    monkeypatch.setenv("QUOTA_DB_PASSWORD", "s3cret")
    settings = QuotaSettings()
    assert settings.environment == "prod"
    assert settings.auth.accept_plain_jwt is False


@pytest.mark.parametrize("environment", ["dev", "test"])
def test_dev_or_test_said_accepts_the_development_secrets(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", environment)
    assert QuotaSettings().auth.uses_dev_key


def test_service_prefix_and_shared_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", "postgresql://admin:pw@db.internal:5433/migration")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("QUOTA_HTTP_PORT", "9000")
    monkeypatch.setenv("QUOTA_DB_PASSWORD", "s3cret")
    settings = QuotaSettings()
    assert settings.http_port == 9000
    assert settings.kafka_bootstrap_servers == "kafka-0:9092,kafka-1:9092"
    assert settings.dsn() == "postgresql://quota:s3cret@db.internal:5433/migration"


def test_explicit_service_database_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "dev")
    monkeypatch.setenv("QUOTA_DATABASE_URL", "postgresql://q:x@elsewhere:5432/quota")
    assert QuotaSettings().dsn() == "postgresql://q:x@elsewhere:5432/quota"


def test_development_signing_key_is_refused_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "prod")
    monkeypatch.setenv("QUOTA_DB_PASSWORD", "s3cret")
    with pytest.raises(ValidationError, match="development signing key"):
        QuotaSettings()


def test_development_database_password_is_refused_outside_dev(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "staging")
    monkeypatch.setenv("QUOTA_AUTH__JWKS_PATH", str(tmp_path / "jwks.json"))
    with pytest.raises(ValidationError, match="database password"):
        QuotaSettings()


def test_production_with_real_keys_and_secrets_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "prod")
    monkeypatch.setenv("QUOTA_AUTH__JWKS_URL", "https://idp.example.kz/.well-known/jwks.json")
    monkeypatch.setenv("QUOTA_DB_PASSWORD", "s3cret")
    settings = QuotaSettings()
    assert settings.environment == "prod"
    assert not settings.auth.uses_dev_key


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "production-ish")
    with pytest.raises(ValidationError):
        QuotaSettings()


@pytest.mark.parametrize(("environment", "accepted"), [("dev", True), ("test", True)])
def test_plain_jwt_tokens_are_accepted_in_dev_and_test(
    monkeypatch: pytest.MonkeyPatch, environment: str, accepted: bool
) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", environment)
    assert QuotaSettings().auth.accept_plain_jwt is accepted


def test_plain_jwt_tokens_are_refused_in_production_unless_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "prod")
    monkeypatch.setenv("QUOTA_AUTH__JWKS_URL", "https://idp.example.kz/.well-known/jwks.json")
    monkeypatch.setenv("QUOTA_DB_PASSWORD", "s3cret")
    assert QuotaSettings().auth.accept_plain_jwt is False
    monkeypatch.setenv("QUOTA_AUTH__ACCEPT_PLAIN_JWT", "true")
    assert QuotaSettings().auth.accept_plain_jwt is True
    monkeypatch.setenv("KOSHIQON_ENV", "dev")
    monkeypatch.setenv("QUOTA_AUTH__ACCEPT_PLAIN_JWT", "false")
    assert QuotaSettings().auth.accept_plain_jwt is False


def test_the_token_lifetime_cap_defaults_to_an_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "test")
    assert QuotaSettings().auth.max_lifetime_seconds == 3600
    monkeypatch.setenv("QUOTA_AUTH__MAX_LIFETIME_SECONDS", "900")
    assert QuotaSettings().auth.max_lifetime_seconds == 900
