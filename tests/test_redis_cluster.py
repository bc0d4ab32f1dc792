"""Room leases against a real redis-server: spread, takeover within the bound, never two owners."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.bus.redis_keys import Keys
from bot.bus.redis_link import RedisLink
from bot.cluster.leases import TICK_SHARE, TTL_SHARE, RoomLeases
from bot.tasks import cancel_and_wait
from tests.redis_support import RedisServer, needs_redis, redis_server  # noqa: F401 - fixture

pytestmark = needs_redis

ROOMS = [f"r{i}" for i in range(6)]
LEASE = 1.0


class FakeRooms:
    """Records what the lease manager asks of a worker: which rooms run here, and when each stopped."""

    def __init__(self, name: str, log: list[tuple[float, str, str, str]]) -> None:
        self.name = name
        self.running: set[str] = set()
        self.fenced: dict[str, float] = {}
        self.log = log

    async def start(self, room: str, token: str) -> None:
        self.running.add(room)
        self.log.append((time.monotonic(), self.name, "start", room))

    async def stop(self, room: str, why: str) -> None:
        await asyncio.sleep(0.01)
        self.running.discard(room)
        self.log.append((time.monotonic(), self.name, "stop", room))

    def fence(self, room: str) -> None:
        self.fenced[room] = time.monotonic()


class Node:
    def __init__(
        self,
        url: str,
        name: str,
        log: list[tuple[float, str, str, str]],
        rooms: list[str] = ROOMS,
        lease: float = LEASE,
    ) -> None:
        self.link = RedisLink(url)
        self.rooms = FakeRooms(name, log)
        self.leases = RoomLeases(
            self.link,
            Keys("livebot"),
            rooms,
            lease_seconds=lease,
            start_room=self.rooms.start,
            stop_room=self.rooms.stop,
            fence_room=self.rooms.fence,
            worker_id=name,
        )

    async def start(self) -> None:
        await self.link.start()
        self.leases.start()

    def crash(self) -> None:
        """Like kill -9: the loop and lease timers stop; nothing is handed back."""
        assert self.leases._task is not None
        self.leases._task.cancel()
        for lease in self.leases.held.values():
            if lease.timer is not None:
                lease.timer.cancel()

    async def close(self) -> None:
        await self.leases.close()
        await self.link.close()


async def owners(link: RedisLink, rooms: list[str] = ROOMS) -> dict[str, str | None]:
    keys = Keys("livebot")
    values = await link.client.mget([keys.lease(r) for r in rooms])
    return {r: (v.decode() if v else None) for r, v in zip(rooms, values, strict=True)}


async def wait_for(predicate, within: float, step: float = 0.02) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() - start < within:
        if await predicate():
            return time.monotonic() - start
        await asyncio.sleep(step)
    raise AssertionError(f"not reached within {within} s")


@pytest_asyncio.fixture
async def probe(redis_server: RedisServer) -> AsyncIterator[RedisLink]:  # noqa: F811
    link = RedisLink(redis_server.url)
    await link.start()
    yield link
    await link.close()


def never_two_runners(nodes: list[Node]) -> None:
    for room in ROOMS:
        assert sum(room in n.rooms.running for n in nodes) <= 1, room


@pytest.mark.asyncio
async def test_rooms_spread_evenly_and_move_within_the_bound_when_a_worker_dies(
    redis_server: RedisServer,  # noqa: F811
    probe: RedisLink,
) -> None:
    log: list[tuple[float, str, str, str]] = []
    a, b = Node(redis_server.url, "a", log), Node(redis_server.url, "b", log)
    await a.start()
    await b.start()
    try:

        async def spread() -> bool:
            never_two_runners([a, b])
            return len(a.rooms.running) == 3 and len(b.rooms.running) == 3

        await wait_for(spread, 10 * LEASE)
        held_by_a = set(a.rooms.running)
        assert set((await owners(probe)).values()) == {"a", "b"}
        killed_at = time.monotonic()
        a.crash()

        async def all_on_b() -> bool:
            return len(b.rooms.running) == 6

        took = await wait_for(all_on_b, 5 * LEASE)
        # the bound: leases live 0.7 L and free rooms are looked for every 0.15 L
        assert took <= (TTL_SHARE + TICK_SHARE) * LEASE + 0.3
        starts = [t for t, who, what, room in log if who == "b" and what == "start" and room in held_by_a]
        assert len(starts) == 3 and min(starts) > killed_at
        assert set((await owners(probe)).values()) == {"b"}
    finally:
        await b.close()


@pytest.mark.asyncio
async def test_a_joining_worker_gets_its_share_and_no_room_ever_runs_twice(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    log: list[tuple[float, str, str, str]] = []
    a = Node(redis_server.url, "a", log)
    await a.start()
    b = Node(redis_server.url, "b", log)
    try:
        await wait_for(lambda: _true(len(a.rooms.running) == 6), 5 * LEASE)
        await b.start()

        async def spread() -> bool:
            never_two_runners([a, b])
            return len(a.rooms.running) == 3 and len(b.rooms.running) == 3

        await wait_for(spread, 10 * LEASE, step=0.005)
        # a room moved only after its old owner had stopped it
        for room in ROOMS:
            events = [(t, who, what) for t, who, what, r in log if r == room]
            running: set[str] = set()
            for _t, who, what in sorted(events):
                if what == "start":
                    assert not running, f"{room} started on {who} while running on {running}"
                    running.add(who)
                else:
                    running.discard(who)
    finally:
        await b.close()
        await a.close()


async def _true(value: bool) -> bool:
    return value


@pytest.mark.asyncio
async def test_a_worker_that_cannot_renew_stops_its_rooms_before_the_lease_expires(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", aof=True)
    server.start()
    log: list[tuple[float, str, str, str]] = []
    a = Node(server.url, "a", log, rooms=["x", "y"])
    try:
        await a.start()
        await wait_for(lambda: _true(a.rooms.running == {"x", "y"}), 5 * LEASE)
        last_renewal = {room: lease.valid_until - a.leases.ttl for room, lease in a.leases.held.items()}
        await asyncio.to_thread(server.stop)  # Redis away for longer than the lease
        await wait_for(lambda: _true(not a.rooms.running), 3 * LEASE)
        for room, fenced_at in a.rooms.fenced.items():
            # fenced (no more chat lines) before Redis would let the lease expire
            assert fenced_at < last_renewal[room] + a.leases.ttl, room
        assert not a.leases.owns("x")
        health = a.link.health()
        assert health["ok"] is False and "unreachable" in str(health["detail"])
        await asyncio.to_thread(server.start)
        # back: the rooms (free again) are taken after the quiet period
        await wait_for(lambda: _true(a.rooms.running == {"x", "y"}), 5 * LEASE)
        assert a.link.reconnects == 1
    finally:
        await a.close()
        server.stop()


@pytest.mark.asyncio
async def test_owners_take_their_rooms_back_after_redis_lost_the_leases(tmp_path: Path) -> None:
    # Redis restarts without persistence: every lease and the live-worker set are gone. The race
    # this guards: a worker whose client hid the restart (its one retry reconnected silently) saw
    # itself as the only live worker and took its peer's free rooms before the peer renewed them.
    # The lease is long enough that a restart on a loaded machine stays within it (a longer gap
    # rightly stops the rooms: see the test above).
    lease = 3.0
    server = RedisServer(tmp_path / "redis", aof=False)
    server.start()
    log: list[tuple[float, str, str, str]] = []
    a, b = Node(server.url, "a", log, lease=lease), Node(server.url, "b", log, lease=lease)
    try:
        await a.start()
        await b.start()
        await wait_for(lambda: _true(len(a.rooms.running) == 3 and len(b.rooms.running) == 3), 10 * lease)
        before = (set(a.rooms.running), set(b.rooms.running))
        stops = len([x for x in log if x[2] == "stop"])
        await asyncio.to_thread(server.restart)  # quick, and every lease is gone
        probe = RedisLink(server.url)
        await probe.start()

        async def reclaimed() -> bool:
            return set((await owners(probe)).values()) == {"a", "b"} and None not in (await owners(probe)).values()

        await wait_for(reclaimed, 5 * lease)
        # a quiet period on both, so neither took the other's rooms in the meantime
        assert a.leases._quiet_until > 0 and b.leases._quiet_until > 0
        await asyncio.sleep(1.2 * lease)  # past the quiet period: still nobody moves
        assert (set(a.rooms.running), set(b.rooms.running)) == before
        assert len([x for x in log if x[2] == "stop"]) == stops  # nothing moved, nothing restarted
        await probe.close()
    finally:
        await a.close()
        await b.close()
        server.stop()


@pytest.mark.asyncio
async def test_a_worker_that_missed_the_restart_does_not_take_its_peers_rooms(tmp_path: Path) -> None:
    # the race itself, made certain: Redis loses its data while neither link notices an outage
    # (FLUSHALL stands in for a restart that the client's retry hid), and b's loop is a moment
    # late (a loaded machine), so a's first tick after it finds b's rooms free
    lease = 3.0
    server = RedisServer(tmp_path / "redis", aof=False)
    server.start()
    log: list[tuple[float, str, str, str]] = []
    a, b = Node(server.url, "a", log, lease=lease), Node(server.url, "b", log, lease=lease)
    try:
        await a.start()
        await b.start()
        await wait_for(lambda: _true(len(a.rooms.running) == 3 and len(b.rooms.running) == 3), 10 * lease)
        before = (set(a.rooms.running), set(b.rooms.running))
        moves = len(log)
        assert b.leases._task is not None
        await cancel_and_wait(b.leases._task)  # b stalls (its lease timers still run: 3 s is plenty)
        b.leases._task = None
        await b.link.client.flushall()
        await asyncio.sleep(0.4 * lease)  # a few ticks of a
        b.leases.start()
        probe = RedisLink(server.url)
        await probe.start()

        async def reclaimed() -> bool:
            return None not in (await owners(probe)).values()

        await wait_for(reclaimed, 5 * lease)
        await asyncio.sleep(1.2 * lease)
        assert log[moves:] == []  # no room stopped or started anywhere: a never took b's rooms
        assert (set(a.rooms.running), set(b.rooms.running)) == before
        assert a.link.reconnects == b.link.reconnects == 0  # no outage was seen
        await probe.close()
    finally:
        await a.close()
        await b.close()
        server.stop()


@pytest.mark.asyncio
async def test_closing_hands_rooms_back_at_once(redis_server: RedisServer, probe: RedisLink) -> None:  # noqa: F811
    log: list[tuple[float, str, str, str]] = []
    a, b = Node(redis_server.url, "a", log), Node(redis_server.url, "b", log)
    await a.start()
    await b.start()
    try:
        await wait_for(lambda: _true(len(a.rooms.running) == 3 and len(b.rooms.running) == 3), 10 * LEASE)
        await a.close()
        assert not a.rooms.running
        assert "a" not in (await owners(probe)).values()
        # b sees one live worker at its next tick, well before any lease would have expired
        took = await wait_for(lambda: _true(len(b.rooms.running) == 6), 5 * LEASE)
        assert took < TTL_SHARE * LEASE
    finally:
        await b.close()
