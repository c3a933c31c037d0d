"""Fixtures of the libs/common integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from support.selftest import Workspace, workspace


@pytest.fixture
async def ws(admin_database_url: str) -> AsyncIterator[Workspace]:
    """A throwaway schema and role with the platform tables and `effects`."""
    async with workspace(admin_database_url) as w:
        yield w


@pytest.fixture
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent producer for the tests' own records."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await p.start()
    yield p
    await p.stop()
