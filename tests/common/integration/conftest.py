"""Fixtures of the libs/common integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.selftest import Workspace, workspace


@pytest.fixture
async def ws(admin_database_url: str) -> AsyncIterator[Workspace]:
    """A throwaway schema and role with the platform tables and `effects`."""
    async with workspace(admin_database_url) as w:
        yield w
