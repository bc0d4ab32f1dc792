"""Fixtures several suites share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from rules import RuleEngine


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A real aiohttp client session (adapters dial the loopback servers through it)."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def engine() -> RuleEngine:
    """The built-in rule engine, built once for the whole run (a module may define its own)."""
    return RuleEngine.load()
