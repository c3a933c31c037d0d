"""Fixtures shared by every test tier. Integration tests need the local infrastructure
(`make infra-up`, which `make test` runs): real PostgreSQL and real Kafka, never fakes."""

from __future__ import annotations

import os

import pytest

from koshiqon.common.settings import DEFAULT_KAFKA_BOOTSTRAP, admin_dsn

os.environ["KOSHIQON_ENV"] = "test"  # unset means prod; services started by tests inherit it


@pytest.fixture(scope="session")
def admin_database_url() -> str:
    return admin_dsn()


@pytest.fixture(scope="session")
def bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA_BOOTSTRAP)
