"""Fixtures several suites share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A real aiohttp client session (adapters dial the loopback servers through it)."""
    async with aiohttp.ClientSession() as session:
        yield session
