"""The web role (``livebot web``): overlays, console, admin and ingest for rooms run by workers.

The web app itself (``overlay.app.create_app``) takes a bus, an ingest callable and a status
callable; here they are the Redis bus, ``WebNode.ingest`` and ``WebNode.status``:

- ingest appends the speech segment to the room's ingest stream, which the room's worker
  follows. The HTTP client gets its 202 only once Redis has the segment (acknowledged means
  stored). While Redis is away the request waits up to ``[redis] ingest_wait`` seconds for it
  to come back, then gets 503 with Retry-After: nothing is acknowledged that could be lost.
  Each request carries an id, so a retried append never stores a segment twice;
- status comes from what each worker publishes about its rooms, refreshed every second; a
  room whose worker went quiet shows as ``unassigned`` until another worker takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.bus.redis import RedisBus, event_payload
from bot.bus.redis_link import OUTAGE_ERRORS
from bot.cluster.shared_files import SharedFiles
from bot.config import Settings
from bot.events import Event
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# KEYS: 1 ingest stream, 2 the request's id marker. ARGV: payload, MAXLEN
INGEST_LUA = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', 3600) then
  return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[1])
end
return false
"""

STATUS_REFRESH = 1.0


class WebNode:
    def __init__(self, settings: Settings, bus: RedisBus, *, node: str = "") -> None:
        self.settings = settings
        self.bus = bus
        self.link = bus.link
        self.keys = bus.keys
        self.node = node or f"web-{uuid.uuid4().hex[:6]}"
        self.shared = SharedFiles(self.link, self.keys, settings, node=self.node)
        self._ingest = self.link.client.register_script(INGEST_LUA)
        self._rooms: dict[str, dict[str, Any]] = {}
        self._workers = 0
        self._refresher: asyncio.Task[None] | None = None
        self._boot: asyncio.Task[None] | None = None
        self.started_at = time.time()
        self.ingest_accepted: Counter[str] = Counter()
        self.ingest_refused = 0

    # --- ingest ---------------------------------------------------------------------------------

    async def ingest(self, event: Event) -> None:
        """Store the segment for the room's worker, or refuse it with 503 (never a false 202)."""
        wait = self.settings.redis.ingest_wait
        keys = [self.keys.ingest(event.room), self.keys.ingest_seen(event.room, uuid.uuid4().hex)]
        args = [event_payload(event), self.settings.redis.ingest_backlog]
        deadline = time.monotonic() + wait
        while True:
            if self.link.up or await self.link.wait_up(max(0.0, deadline - time.monotonic())):
                try:
                    await self._ingest(keys=keys, args=args)
                    self.ingest_accepted[event.room] += 1
                    return
                except OUTAGE_ERRORS as exc:
                    self.link.mark_down(exc)
            if time.monotonic() >= deadline:
                self.ingest_refused += 1
                raise web.HTTPServiceUnavailable(
                    text=json.dumps({"ok": False, "error": "redis is unreachable; send the segment again"}),
                    content_type="application/json",
                    headers={"Retry-After": "2"},
                )
            await asyncio.sleep(0.05)

    # --- status ---------------------------------------------------------------------------------

    async def _refresh(self) -> None:
        while True:
            if self.link.up:
                try:
                    async with self.link.client.pipeline(transaction=False) as pipe:
                        pipe.hgetall(self.keys.room_status)
                        pipe.zcard(self.keys.workers)
                        raw, workers = await pipe.execute()
                    self._workers = int(workers)
                    rooms: dict[str, dict[str, Any]] = {}
                    for name, value in raw.items():
                        with contextlib.suppress(ValueError):
                            rooms[name.decode()] = json.loads(value)
                    self._rooms = rooms
                except OUTAGE_ERRORS as exc:
                    self.link.mark_down(exc)
                except Exception:
                    log.exception("reading room status failed")
            await asyncio.sleep(STATUS_REFRESH)

    def status(self) -> dict[str, Any]:
        now = time.time()
        stale_after = self.settings.redis.lease_seconds
        rooms: dict[str, Any] = {}
        for room in self.settings.rooms:
            info = self._rooms.get(room.name)
            if info is None or now - float(info.get("at", 0)) > stale_after:
                rooms[room.name] = {
                    "platform": room.platform,
                    "state": "unassigned",
                    "detail": "no worker runs this room right now",
                }
            else:
                rooms[room.name] = info
        bus = self.bus.health()
        return {
            "ok": bool(bus.get("ok", False)),
            "role": "web",
            "uptime": round(now - self.started_at, 1),
            "rooms": rooms,
            "bus": bus,
            "cluster": {"live_workers": self._workers},
        }

    # --- lifetime -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.bus.start()
        # waits for Redis when it is away; the pages and /healthz serve meanwhile
        self._boot = asyncio.create_task(self.shared.start(self.settings.rooms), name="shared-files-boot")
        self._refresher = asyncio.create_task(self._refresh(), name="room-status-reader")

    async def stop(self) -> None:
        for task in (self._boot, self._refresher):
            await cancel_and_wait(task)
        await self.shared.close()
        await self.bus.close()

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        await self.start()
        yield
        await self.stop()
