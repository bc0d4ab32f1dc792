"""Tasks that loop over Redis commands stop when asked: on Python 3.11 a plain ``cancel()`` is lost
about half the time inside redis-py (see ``bot/tasks.py``)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from bot.bus.redis_link import make_client
from bot.tasks import cancel_and_wait
from tests.redis_support import RedisServer, needs_redis

pytestmark = needs_redis


@pytest.mark.asyncio
async def test_tasks_pinging_redis_always_stop(tmp_path: Path) -> None:
    # the real case: a loop of Redis commands cancelled at random moments; with a plain cancel
    # about half of them ran on here (Python 3.11); every one must stop
    server = RedisServer(tmp_path / "redis", aof=False)
    server.start()
    client = make_client(server.url)
    try:

        async def pinging() -> None:  # a polling loop: a command, a short pause, again
            while True:
                await client.ping()
                await asyncio.sleep(0.002)

        rng = random.Random(7)
        for _ in range(60):
            task = asyncio.create_task(pinging())
            await asyncio.sleep(rng.random() * 0.005)
            await asyncio.wait_for(cancel_and_wait(task, recancel_every=0.05), 30)
            assert task.done()
    finally:
        await client.aclose()
        server.stop()
