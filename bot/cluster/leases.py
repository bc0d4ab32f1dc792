"""Room assignment: which worker runs which room, through leases in Redis that expire.

Each worker heartbeats into a sorted set of live workers and holds one lease key per room it
runs (``SET key <worker-id> PX ttl``), renewed by a compare-and-renew Lua script. The configured
rooms are spread evenly: a worker takes free rooms while it holds fewer than
``ceil(rooms / live workers)`` and hands one back per tick while it holds more (rendezvous
hashing decides which, so assignments stay stable as workers come and go).

Timing, with L = ``[redis] lease_seconds``: leases live ``0.7 L`` and are renewed every
``0.15 L``, and free rooms are looked for on the same tick. A dead worker's rooms are free when
its leases expire and taken by the next tick of a live worker: within ``0.85 L``.

Never two workers on one room: the lease is the fence. A worker measures its lease from the
moment it *sent* the renewal (its own monotonic clock), so it believes in the lease no longer
than Redis keeps it; when it cannot renew in time it stops the room before the lease expires.
Every event it publishes is checked against the lease inside Redis (see ``bot.bus.redis``), so
even a stalled worker cannot write into a room that moved on.

After an outage a worker waits one lease period before taking rooms it did not hold, so that
owners who lost their leases to a Redis restart (without persistence) take them back first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.bus.redis_keys import Keys
from bot.bus.redis_link import OUTAGE_ERRORS, RedisLink
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

TTL_SHARE = 0.7
TICK_SHARE = 0.15
# stop a room this share of the lease before the lease would run out
MARGIN_SHARE = 0.1

# KEYS[1] the live-workers set; ARGV: worker id, ttl ms. Returns {1 if the caller was in the set
# before this heartbeat else 0, the live workers}.
HEARTBEAT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return {known and 1 or 0, redis.call('ZRANGE', KEYS[1], 0, -1)}
"""

# KEYS[1] a room's lease; ARGV: worker id, ttl ms, '1' to take it when nobody holds it.
# Returns 1 when the caller holds the lease afterwards.
CLAIM_LUA = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] or (not owner and ARGV[3] == '1') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] the live-workers set; ARGV: worker id
LEAVE_LUA = "return redis.call('ZREM', KEYS[1], ARGV[1])"


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def hrw_score(room: str, worker: str) -> int:
    """Rendezvous hashing: the live worker with the highest score is the room's preferred home."""
    return int.from_bytes(hashlib.blake2b(f"{room}\x00{worker}".encode(), digest_size=8).digest(), "big")


def preference(room: str, me: str, live: list[str]) -> int:
    """0 when ``me`` is the room's preferred worker, 1 for the runner-up, ..."""
    mine = hrw_score(room, me)
    return sum(1 for w in live if w != me and hrw_score(room, w) > mine)


@dataclass
class Lease:
    valid_until: float
    state: str = "starting"  # starting | running | releasing
    timer: asyncio.TimerHandle | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


StartRoom = Callable[[str, str], Awaitable[None]]
StopRoom = Callable[[str, str], Awaitable[None]]
FenceRoom = Callable[[str], None]


class RoomLeases:
    def __init__(
        self,
        link: RedisLink,
        keys: Keys,
        rooms: list[str],
        *,
        lease_seconds: float,
        start_room: StartRoom,
        stop_room: StopRoom,
        fence_room: FenceRoom,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.keys = keys
        self.rooms = list(rooms)
        self.worker_id = worker_id or new_worker_id()
        self.lease_seconds = lease_seconds
        self.ttl = lease_seconds * TTL_SHARE
        self.tick = lease_seconds * TICK_SHARE
        self.margin = lease_seconds * MARGIN_SHARE
        self._start_room = start_room
        self._stop_room = stop_room
        self._fence_room = fence_room
        self._clock = clock
        self.held: dict[str, Lease] = {}
        self._stopping: dict[str, asyncio.Task[None]] = {}
        self.live: list[str] = []
        self._quiet_until = 0.0
        self._last_beat: float | None = None  # when our last heartbeat was sent (our clock)
        self._task: asyncio.Task[None] | None = None
        self._heartbeat = link.client.register_script(HEARTBEAT_LUA)
        self._claim = link.client.register_script(CLAIM_LUA)
        self._release = link.client.register_script(RELEASE_LUA)
        self._leave = link.client.register_script(LEAVE_LUA)
        link.on_reconnect(self._after_outage)
        # figures for /metrics and the console
        self.acquired = 0
        self.lost = 0
        self.released = 0

    # --- queries --------------------------------------------------------------------------------

    def owns(self, room: str) -> bool:
        """Whether this worker may act for the room right now (send chat lines, ...)."""
        lease = self.held.get(room)
        return lease is not None and lease.state != "releasing" and self._clock() < lease.valid_until - self.margin

    def desired(self) -> int:
        return math.ceil(len(self.rooms) / max(1, len(self.live)))

    def status(self) -> dict[str, object]:
        return {
            "worker": self.worker_id,
            "live_workers": len(self.live),
            "rooms": sorted(self.held),
            "desired": self.desired(),
            "lease_seconds": self.lease_seconds,
        }

    # --- the loop -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="room-leases")

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except OUTAGE_ERRORS as exc:
                self.link.mark_down(exc)
            except Exception:
                log.exception("room assignment step failed; trying again next tick")
            await asyncio.sleep(self.tick)

    async def step(self) -> None:
        """One tick: heartbeat, renew what we hold, then take or hand back rooms."""
        if not self.link.up:
            return  # the lease timers stop rooms we can no longer vouch for
        sent = self._clock()
        known, live = await self._heartbeat(keys=[self.keys.workers], args=[self.worker_id, int(self.ttl * 1000)])
        self.live = sorted(w.decode() if isinstance(w, bytes) else str(w) for w in live)
        if not int(known) and self._last_beat is not None and sent - self._last_beat < self.ttl:
            # our entry is gone though it cannot have expired: Redis lost its data (a restart
            # without persistence) without this link seeing an outage (the client's one retry hid
            # it). The first worker back would see itself alone and take every free room, its
            # peers' included: wait one lease period, as after an outage, so owners reclaim first
            log.warning("worker %s: Redis lost the live-worker set; waiting a lease period before taking rooms",
                        self.worker_id)  # fmt: skip
            self._after_outage(0.0)
        self._last_beat = sent
        await self._renew(sent)
        if self._clock() < self._quiet_until:
            return
        held = len(self.held)
        want = self.desired()
        if held < want:
            await self._acquire(want - held)
        elif held > want and not any(lease.state == "releasing" for lease in self.held.values()):
            self._hand_back_one()

    async def _renew(self, sent: float) -> None:
        rooms = list(self.held)
        if not rooms:
            return
        async with self.link.client.pipeline(transaction=False) as pipe:
            for room in rooms:
                # allow re-taking an absent lease: Redis may have lost it in a restart
                await self._claim(
                    keys=[self.keys.lease(room)], args=[self.worker_id, int(self.ttl * 1000), "1"], client=pipe
                )
            results = await pipe.execute()
        for room, ok in zip(rooms, results, strict=True):
            lease = self.held.get(room)
            if lease is None:
                continue
            if int(ok) == 1:
                self._arm(room, lease, sent + self.ttl)
            else:
                self._lose(room, "another worker holds its lease")

    async def _acquire(self, count: int) -> None:
        candidates = [r for r in self.rooms if r not in self.held and r not in self._stopping]
        if not candidates:
            return
        async with self.link.client.pipeline(transaction=False) as pipe:
            for room in candidates:
                pipe.exists(self.keys.lease(room))
            taken = await pipe.execute()
        free = [r for r, t in zip(candidates, taken, strict=True) if not t]
        free.sort(key=lambda r: (preference(r, self.worker_id, self.live), r))
        for room in free[:count]:
            sent = self._clock()
            ok = await self._claim(keys=[self.keys.lease(room)], args=[self.worker_id, int(self.ttl * 1000), "1"])
            if int(ok) != 1:
                continue  # another worker was quicker
            lease = Lease(valid_until=sent + self.ttl)
            self.held[room] = lease
            self._arm(room, lease, lease.valid_until)
            self.acquired += 1
            log.info("worker %s: took room %s", self.worker_id, room)
            lease.task = asyncio.create_task(self._start(room, lease), name=f"start:{room}")

    async def _start(self, room: str, lease: Lease) -> None:
        try:
            await self._start_room(room, self.worker_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("room %s: could not start; handing it back", room)
            if self.held.get(room) is lease:
                self._forget(room)
                await self._release_lease(room)
            return
        if self.held.get(room) is lease and lease.state == "starting":
            lease.state = "running"

    def _hand_back_one(self) -> None:
        running = [r for r, lease in self.held.items() if lease.state == "running"]
        if not running:
            return
        room = max(running, key=lambda r: (preference(r, self.worker_id, self.live), r))
        self.held[room].state = "releasing"
        log.info(
            "worker %s: handing room %s back (%d rooms for %d workers)",
            self.worker_id,
            room,
            len(self.rooms),
            len(self.live),
        )
        self._stopping[room] = asyncio.create_task(self._hand_back(room), name=f"release:{room}")

    async def _hand_back(self, room: str) -> None:
        try:
            await self._stop_room(room, "handed to another worker")
        except Exception:
            log.exception("room %s: stopping failed", room)
        finally:
            if room in self.held:
                self._forget(room)
                self.released += 1
                with contextlib.suppress(*OUTAGE_ERRORS):
                    await self._release_lease(room)
            self._stopping.pop(room, None)

    # --- losing a room --------------------------------------------------------------------------

    def _arm(self, room: str, lease: Lease, valid_until: float) -> None:
        lease.valid_until = valid_until
        if lease.timer is not None:
            lease.timer.cancel()
        delay = max(0.0, valid_until - self.margin - self._clock())
        lease.timer = asyncio.get_running_loop().call_later(delay, self._expire, room, lease)

    def _expire(self, room: str, lease: Lease) -> None:
        if self.held.get(room) is lease:
            self._lose(room, "its lease could not be renewed in time")

    def _lose(self, room: str, why: str) -> None:
        lease = self.held.get(room)
        if lease is None:
            return
        log.warning("worker %s: stopping room %s: %s", self.worker_id, room, why)
        self.lost += 1
        self._fence_room(room)  # at once: no chat line goes out from here on
        self._forget(room)
        previous = self._stopping.get(room)
        if previous is None:
            self._stopping[room] = asyncio.create_task(self._stop_lost(room, why), name=f"stop:{room}")

    async def _stop_lost(self, room: str, why: str) -> None:
        try:
            await self._stop_room(room, why)
        except Exception:
            log.exception("room %s: stopping failed", room)
        finally:
            self._stopping.pop(room, None)

    def _forget(self, room: str) -> None:
        lease = self.held.pop(room, None)
        if lease is not None and lease.timer is not None:
            lease.timer.cancel()
        if lease is not None and lease.task is not None and not lease.task.done():
            lease.task.cancel()

    async def reclaim(self, room: str) -> bool:
        """Asked by the room's writer when Redis says the lease is not ours: renew if we may."""
        if not self.owns(room):
            return False
        sent = self._clock()
        try:
            ok = await self._claim(keys=[self.keys.lease(room)], args=[self.worker_id, int(self.ttl * 1000), "1"])
        except OUTAGE_ERRORS as exc:
            self.link.mark_down(exc)
            return False
        lease = self.held.get(room)
        if int(ok) == 1 and lease is not None:
            self._arm(room, lease, sent + self.ttl)
            return True
        self._lose(room, "another worker holds its lease")
        return False

    async def _release_lease(self, room: str) -> None:
        await self._release(keys=[self.keys.lease(room)], args=[self.worker_id])

    def _after_outage(self, seconds: float) -> None:
        # give owners whose leases a Redis restart dropped one lease period to take them back
        self._quiet_until = self._clock() + self.ttl

    # --- shutdown -------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop every room gracefully and hand the leases back, so other workers start at once."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        for room in list(self.held):
            self.held[room].state = "releasing"
            self._stopping[room] = asyncio.create_task(self._hand_back(room), name=f"release:{room}")
        if self._stopping:
            await asyncio.gather(*self._stopping.values(), return_exceptions=True)
        with contextlib.suppress(*OUTAGE_ERRORS):
            if self.link.up:
                await self._leave(keys=[self.keys.workers], args=[self.worker_id])
