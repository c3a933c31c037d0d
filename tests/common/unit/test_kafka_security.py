"""Kafka client security from the KAFKA_* variables (settings.KafkaSecurity and
kafka.security_settings): what a pod of deploy/k8s sets to reach Strimzi's TLS listener with
SCRAM-SHA-512; and passwords read from files (KOSHIQON_SECRETS_DIR), as the pods mount them."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from koshiqon.common.kafka import producer_settings, security_settings
from koshiqon.common.settings import AuthSettings, KafkaSecurity
from koshiqon.quota.config import QuotaSettings

VARIABLES = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
)


@pytest.fixture(autouse=True)
def no_kafka_security_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def write_ca(path: Path) -> Path:
    """A self-signed CA certificate, as Strimzi's <cluster>-cluster-ca-cert holds one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cluster-ca test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_unset_is_plaintext_with_no_credentials() -> None:
    assert security_settings() == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram_and_the_cluster_ca(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = write_ca(tmp_path / "ca.crt")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "quota")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(ca))

    options = security_settings()

    context = options.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "cluster-ca test"),),)
    ]
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "quota",
        "sasl_plain_password": "s3cret",
    }


async def test_the_producer_of_the_relay_and_consumers_takes_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "registration")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(write_ca(tmp_path / "ca.crt")))

    producer = AIOKafkaProducer(**producer_settings("broker:9093", client_id="relay"))

    client = producer.client
    assert (client._security_protocol, client._sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert client._sasl_plain_username == "registration"
    assert isinstance(client._ssl_context, ssl.SSLContext)
    await producer.stop()


def test_sasl_without_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        KafkaSecurity(security_protocol="SASL_SSL", sasl_username="quota")


def test_a_missing_ca_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is not a file"):
        KafkaSecurity(security_protocol="SSL", ssl_cafile=tmp_path / "absent.crt")


def test_an_unknown_protocol_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "TLS")
    with pytest.raises(ValidationError):
        security_settings()


def test_passwords_are_read_from_the_secret_files_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A pod mounts its Secrets as files named after the variables (KOSHIQON_SECRETS_DIR)
    rather than putting them in its environment."""
    (tmp_path / "QUOTA_DB_PASSWORD").write_text("role-password\n")
    (tmp_path / "KAFKA_SASL_PASSWORD").write_text("scram-password")
    monkeypatch.setenv("KOSHIQON_SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("QUOTA_DB_PASSWORD", raising=False)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "quota")

    settings = QuotaSettings(environment="prod", auth=AuthSettings(jwks_url="https://idp/jwks"))

    assert settings.db_password.get_secret_value() == "role-password"
    assert security_settings()["sasl_plain_password"] == "scram-password"


def test_a_variable_wins_over_its_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "QUOTA_DB_PASSWORD").write_text("from-the-file")
    monkeypatch.setenv("KOSHIQON_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("QUOTA_DB_PASSWORD", "from-the-environment")

    assert QuotaSettings().db_password.get_secret_value() == "from-the-environment"


def test_without_the_folder_no_file_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "QUOTA_DB_PASSWORD").write_text("from-the-file")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KOSHIQON_SECRETS_DIR", raising=False)
    monkeypatch.delenv("QUOTA_DB_PASSWORD", raising=False)

    assert QuotaSettings().db_password.get_secret_value() == "koshiqon-dev"
