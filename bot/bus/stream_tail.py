"""Follow many Redis Streams with one blocking ``XREAD`` on a dedicated connection.

A web node follows the event stream of every room an overlay is watching; a worker follows the
ingest stream of every room it runs. One blocking read per node (instead of one per room) keeps
the connection count flat. When the set of streams changes, ``CLIENT UNBLOCK`` (from the shared
pool) makes the pending read return at once, so a new stream is followed without waiting for the
block timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bot.bus.redis_link import OUTAGE_ERRORS, RedisLink, make_client
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Entries = list[tuple[str, dict[bytes, bytes]]]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class StreamTail:
    def __init__(
        self,
        link: RedisLink,
        on_entries: Callable[[str, Entries], None],
        *,
        block_ms: int = 2000,
        count: int = 500,
        name: str = "tail",
    ) -> None:
        self.link = link
        self.name = name
        self._on_entries = on_entries
        self._block_ms = block_ms
        self._count = count
        self._positions: dict[str, str] = {}
        self._version = 0
        self._reading_version = -1
        self._blocked = False
        self._changed = asyncio.Event()
        self._conn = make_client(link.url, socket_timeout=block_ms / 1000 + 5.0, single=True)
        self._client_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._waker: asyncio.Task[None] | None = None

    # --- what to follow -------------------------------------------------------------------------

    def add(self, key: str, after_id: str) -> None:
        """Follow ``key`` from the entry after ``after_id`` (re-adding moves the position)."""
        self._positions[key] = after_id
        self._bump()

    def remove(self, key: str) -> None:
        if self._positions.pop(key, None) is not None:
            self._bump()

    def position(self, key: str) -> str | None:
        return self._positions.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._positions

    def _bump(self) -> None:
        self._version += 1
        self._changed.set()
        if self._blocked and (self._waker is None or self._waker.done()):
            self._waker = asyncio.get_running_loop().create_task(self._unblock())

    async def _unblock(self) -> None:
        # CLIENT UNBLOCK makes the blocked XREAD return as if it had timed out. It may arrive just
        # before the read reaches the server; then it unblocks nothing and we try again shortly.
        for _ in range(40):
            if self._reading_version >= self._version or not self._blocked or self._client_id is None:
                return
            try:
                if await self.link.client.client_unblock(self._client_id):
                    return
            except OUTAGE_ERRORS:
                return
            await asyncio.sleep(0.005)

    # --- the read loop --------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"redis-{self.name}")

    async def _run(self) -> None:
        while True:
            if not self._positions:
                self._changed.clear()
                await self._changed.wait()
                continue
            if not self.link.up:
                await self.link.wait_up()
            streams = dict(self._positions)
            try:
                if self._client_id is None:
                    self._client_id = int(await self._conn.client_id())
                self._reading_version = self._version
                self._blocked = True
                try:
                    response = await self._conn.xread(streams, count=self._count, block=self._block_ms)  # type: ignore[arg-type]
                finally:
                    self._blocked = False
            except OUTAGE_ERRORS as exc:
                self._client_id = None
                self.link.mark_down(exc)
                await asyncio.sleep(0.05)
                continue
            except Exception:
                # e.g. WRONGTYPE when someone wrote another type under our key: say so, go on
                log.exception("redis %s: read failed", self.name)
                self._client_id = None
                await asyncio.sleep(1.0)
                continue
            if response:
                self._deliver(streams, response)

    def _deliver(self, asked: dict[str, str], response: Any) -> None:
        items = response.items() if isinstance(response, dict) else response
        for raw_key, raw_entries in items:
            key = _text(raw_key)
            entries: Entries = [(_text(entry_id), fields) for entry_id, fields in raw_entries]
            # moved or dropped while the read was in flight: the new position wins
            if not entries or self._positions.get(key) != asked.get(key):
                continue
            self._positions[key] = entries[-1][0]
            try:
                self._on_entries(key, entries)
            except Exception:
                log.exception("redis %s: handling entries of %s failed", self.name, key)

    async def close(self) -> None:
        for task in (self._task, self._waker):
            await cancel_and_wait(task)
        self._task = None
        with contextlib.suppress(Exception):
            await self._conn.aclose()
