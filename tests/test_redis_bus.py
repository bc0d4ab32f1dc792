"""The Redis bus against a real redis-server: the Bus contract across nodes, fencing, units, outages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.bus.redis import RedisBus, current_unit
from bot.bus.redis_keys import Keys
from bot.events import Warning
from tests.bus_support import chat, take
from tests.redis_support import RedisServer, needs_redis, redis_server  # noqa: F401 - fixture

pytestmark = needs_redis


@pytest_asyncio.fixture
async def two_nodes(redis_server: RedisServer) -> AsyncIterator[tuple[RedisBus, RedisBus]]:  # noqa: F811
    """A writing node and a reading node, each with its own connections, like two processes."""
    writer = RedisBus(redis_server.url, replay=1000, subscriber_queue=50)
    reader = RedisBus(redis_server.url, replay=1000, subscriber_queue=50, watch_rooms=["a"])
    await writer.start()
    await reader.start()
    try:
        yield writer, reader
    finally:
        await reader.close()
        await writer.close()


@pytest.mark.asyncio
async def test_seq_per_room_and_replay_then_live_across_nodes(two_nodes: tuple[RedisBus, RedisBus]) -> None:
    writer, reader = two_nodes
    for i in range(5):
        assert (await writer.publish(chat("a", i))).seq == i + 1
        await writer.publish(chat("b", i))
    sub = reader.subscribe("a", after_seq=2)
    got = await take(sub, 3)
    assert [e.seq for e in got] == [3, 4, 5]
    assert [e.text for e in got] == ["m2", "m3", "m4"]
    assert all(e.room == "a" for e in got)
    # then live: published on the other node after the replay
    for i in range(5, 8):
        await writer.publish(chat("a", i))
    assert [e.seq for e in await take(sub, 3)] == [6, 7, 8]
    assert reader.last_seq("a") == 8
    await sub.close()
    # a live-only subscriber starts right after the seq its hello reports (the node's cached view,
    # at most one refresh old), so a page neither misses nor repeats an event
    await writer.publish(chat("a", 8))
    live = reader.subscribe("a")
    start = reader.last_seq("a")
    assert start in (8, 9)
    await writer.publish(chat("a", 9))
    got = await take(live, 10 - start)
    assert [e.seq for e in got] == list(range(start + 1, 11))


@pytest.mark.asyncio
async def test_replay_window_is_bounded_and_gap_reported(redis_server: RedisServer) -> None:  # noqa: F811
    bus = RedisBus(redis_server.url, replay=10)
    await bus.start()
    try:
        for i in range(400):
            await bus.publish(chat("a", i))
        # MAXLEN ~ trims whole stream nodes: far fewer than 400 remain, at least the last 10
        length = await bus.link.client.xlen(bus.keys.events("a"))
        assert 10 <= length < 400
        reader = RedisBus(redis_server.url, replay=10, watch_rooms=["a"])
        await reader.start()
        async with asyncio.timeout(30):  # the seq watcher learns the room's window (a loaded machine may be slow)
            while "a" not in reader._oldest:  # noqa: ASYNC110 - polled: the watcher has no event to wait on
                await asyncio.sleep(0.02)
        sub = reader.subscribe("a", after_seq=3)
        assert sub.gap
        got = await take(sub, length)
        assert got[0].seq == 400 - length + 1 and got[-1].seq == 400
        await reader.close()
    finally:
        await bus.close()


@pytest.mark.asyncio
async def test_a_chat_flood_never_pushes_warnings_out_of_the_replay(redis_server: RedisServer) -> None:  # noqa: F811
    bus = RedisBus(redis_server.url, replay=10)
    await bus.start()
    try:
        await bus.publish(Warning(room="a", text="全网最低价", rule="absolute.lowest"))
        for i in range(400):
            await bus.publish(chat("a", i))
        await bus.publish(Warning(room="a", text="根治", rule="medical.cure"))
        for i in range(400, 800):
            await bus.publish(chat("a", i))
        length = await bus.link.client.xlen(bus.keys.events("a"))
        assert length < 400  # both warnings were trimmed from the main stream
        reader = RedisBus(redis_server.url, replay=10, watch_rooms=["a"])
        await reader.start()
        try:
            sub = reader.subscribe("a", after_seq=0)
            got = await take(sub, length + 2)
            seqs = [e.seq for e in got]
            assert seqs[:2] == [1, 402] and [e.type for e in got[:2]] == ["warning", "warning"]
            assert seqs == sorted(set(seqs)) and seqs[-1] == 802  # in order, each once, to the newest
            assert sub.gap
        finally:
            await reader.close()
    finally:
        await bus.close()


@pytest.mark.asyncio
async def test_subscriber_ahead_of_the_room_gets_everything(two_nodes: tuple[RedisBus, RedisBus]) -> None:
    writer, reader = two_nodes
    await writer.publish(chat("a", 0))
    sub = reader.subscribe("a", after_seq=500)
    assert [e.seq for e in await take(sub, 1)] == [1]
    assert sub.gap


@pytest.mark.asyncio
async def test_slow_subscriber_dropped_producer_never_blocks(
    two_nodes: tuple[RedisBus, RedisBus], caplog: pytest.LogCaptureFixture
) -> None:
    writer, reader = two_nodes  # subscriber_queue=50
    slow = reader.subscribe("a")
    fast = reader.subscribe("a")
    received: list[int] = []
    slow_got: list[int] = []

    async def consume_fast() -> None:
        async for ev in fast:
            received.append(ev.seq)

    async def consume_slow() -> None:
        async for ev in slow:
            slow_got.append(ev.seq)
            await asyncio.sleep(3600)  # a page that stopped reading

    tasks = [asyncio.create_task(consume_fast()), asyncio.create_task(consume_slow())]
    async with asyncio.timeout(30):  # both follow the live tail (a loaded machine may be slow)
        while not (fast.attached and slow.attached):  # noqa: ASYNC110 - polled: no event to wait on
            await asyncio.sleep(0.02)
    with caplog.at_level(logging.WARNING):
        for i in range(200):
            await writer.publish(chat("a", i))  # never waits for a reader
        for _ in range(100):
            if len(received) >= 200:
                break
            await asyncio.sleep(0.05)
    assert "dropping a slow subscriber" in caplog.text
    tasks[1].cancel()
    rest = slow_got + [e.seq async for e in slow]  # ends after what it had queued
    assert slow.dropped
    assert rest == list(range(1, 1 + len(rest))) and len(rest) <= 51
    assert received == list(range(1, 201))
    # it reconnects with its last seq and replays the rest
    again = reader.subscribe("a", after_seq=rest[-1])
    assert [e.seq for e in await take(again, 200 - rest[-1])] == list(range(rest[-1] + 1, 201))
    tasks[0].cancel()


@pytest.mark.asyncio
async def test_fenced_writer_never_writes_into_a_room_it_lost(redis_server: RedisServer) -> None:  # noqa: F811
    bus = RedisBus(redis_server.url)
    await bus.start()
    keys = Keys("livebot")
    try:
        await bus.link.client.set(keys.lease("a"), "worker-1", px=10_000)
        writer = await bus.open_writer("a", token="worker-1")
        assert (await bus.publish(chat("a", 0))).seq == 1
        # the lease moved to another worker: the next append is refused atomically
        await bus.link.client.set(keys.lease("a"), "worker-2", px=10_000)
        asked: list[str] = []

        async def still_mine(room: str) -> bool:
            asked.append(room)
            return False

        writer.on_fenced = still_mine
        await bus.publish(chat("a", 1))
        assert writer.lost and asked == ["a"]
        assert await bus.link.client.xlen(keys.events("a")) == 1
        # lease gone (Redis lost it): the owner re-acquires when asked, and the append goes through
        await bus.link.client.delete(keys.lease("a"))
        writer = await bus.open_writer("a", token="worker-1")

        async def reacquire(room: str) -> bool:
            return bool(await bus.link.client.set(keys.lease(room), "worker-1", px=10_000, nx=True))

        writer.on_fenced = reacquire
        # a new writer continues the numbering from what is really on the stream
        assert (await bus.publish(chat("a", 2))).seq == 2
        assert not writer.lost
        assert await bus.link.client.xlen(keys.events("a")) == 2
    finally:
        await bus.close()


@pytest.mark.asyncio
async def test_unit_publishes_everything_with_its_commit_or_nothing(redis_server: RedisServer) -> None:  # noqa: F811
    bus = RedisBus(redis_server.url)
    await bus.start()
    keys = Keys("livebot")
    try:
        writer = await bus.open_writer("a")
        committed: list[str] = []
        async with writer.unit(commit="17-0") as unit:
            assert current_unit("a") is unit and current_unit("b") is None
            e1 = await bus.publish(chat("a", 1))
            e2 = await bus.publish(chat("a", 2))
            unit.after_commit.append(lambda: committed.append("audit"))
            # nothing reaches Redis until the unit ends
            assert await bus.link.client.xlen(keys.events("a")) == 0
            assert committed == []
        assert (e1.seq, e2.seq) == (1, 2)
        assert committed == ["audit"]
        assert await bus.link.client.xlen(keys.events("a")) == 2
        assert await bus.link.client.get(keys.ingest_pos("a")) == b"17-0"

        async def interrupted() -> None:
            async with writer.unit(commit="18-0"):
                await bus.publish(chat("a", 3))
                await asyncio.sleep(10)

        task = asyncio.create_task(interrupted())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await bus.link.client.xlen(keys.events("a")) == 2
        assert await bus.link.client.get(keys.ingest_pos("a")) == b"17-0"
        # numbering continues from what was really published
        assert (await bus.publish(chat("a", 4))).seq == 3
    finally:
        await bus.close()


@pytest.mark.asyncio
async def test_a_retry_after_a_lost_reply_is_not_a_conflict(redis_server: RedisServer) -> None:  # noqa: F811
    bus = RedisBus(redis_server.url)
    await bus.start()
    try:
        writer = await bus.open_writer("a")
        from bot.bus.redis import _Batch

        event = chat("a", 0).with_seq(1)
        batch = _Batch([event])
        writer.pending.append(batch)
        writer.pending_events = 1
        await writer._send([batch])  # as if Redis ran it and the reply was lost...
        writer.pending.appendleft(batch)
        writer.pending_events = 1
        batch.state = "pending"
        await writer.flush()  # ...and the writer sends the same events again
        assert batch.state == "done" and not writer.pending
        assert await bus.link.client.xlen(bus.keys.events("a")) == 1
    finally:
        await bus.close()


@pytest.mark.asyncio
async def test_outage_buffers_then_delivers_in_order(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", aof=True)
    server.start()
    writer = RedisBus(server.url, replay=100)
    reader = RedisBus(server.url, watch_rooms=["a"])
    try:
        await writer.start()
        await reader.start()
        sub = reader.subscribe("a", after_seq=0)
        for i in range(3):
            await writer.publish(chat("a", i))
        assert [e.seq for e in await take(sub, 3)] == [1, 2, 3]
        await asyncio.to_thread(server.stop)
        # publishing never blocks the pipeline while Redis is away: events wait in the outbox
        published = [await asyncio.wait_for(writer.publish(chat("a", i)), 2.0) for i in range(3, 8)]
        assert [e.seq for e in published] == [4, 5, 6, 7, 8]
        assert not writer.link.up
        health = writer.health()
        assert health["ok"] is False and "unreachable" in str(health["detail"])
        assert health["buffered_events"] == 5
        await asyncio.to_thread(server.start)
        got = await take(sub, 5, within=10)
        assert [e.seq for e in got] == [4, 5, 6, 7, 8]
        assert [e.text for e in got] == [f"m{i}" for i in range(3, 8)]
        for _ in range(50):  # the writer reads its reply a moment after readers see the entries
            if writer.buffered() == 0:
                break
            await asyncio.sleep(0.02)
        assert writer.link.up and writer.buffered() == 0
        assert writer.link.reconnects == 1
    finally:
        await reader.close()
        await writer.close()
        server.stop()


@pytest.mark.asyncio
async def test_numbering_survives_redis_losing_its_data(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", aof=False)
    server.start()
    writer = RedisBus(server.url)
    reader = RedisBus(server.url, watch_rooms=["a"])
    try:
        await writer.start()
        await reader.start()
        sub = reader.subscribe("a", after_seq=0)
        for i in range(3):
            await writer.publish(chat("a", i))
        assert [e.seq for e in await take(sub, 3)] == [1, 2, 3]
        await asyncio.to_thread(server.restart)  # no persistence: the stream and counter are gone
        # the room's writer remembers where it was, so ids keep increasing for every reader
        assert (await writer.publish(chat("a", 3))).seq == 4
        assert [e.seq for e in await take(sub, 1, within=10)] == [4]
    finally:
        await reader.close()
        await writer.close()
        server.stop()


@pytest.mark.asyncio
async def test_numbering_restarted_everywhere_makes_pages_start_over(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", aof=False)
    server.start()
    reader = RedisBus(server.url, watch_rooms=["a"], seq_refresh=0.1)
    try:
        await reader.start()
        first = RedisBus(server.url)
        await first.start()
        for i in range(5):
            await first.publish(chat("a", i))
        await first.close()
        sub = reader.subscribe("a", after_seq=0)
        seen: list[int] = []

        async def follow() -> None:
            async for ev in sub:
                seen.append(ev.seq)

        following = asyncio.create_task(follow())
        for _ in range(100):
            if len(seen) == 5:
                break
            await asyncio.sleep(0.02)
        assert seen == [1, 2, 3, 4, 5]
        await asyncio.to_thread(server.restart)
        second = RedisBus(server.url)  # a writer that never knew the old numbering
        await second.start()
        await second.publish(chat("a", 100))
        # the following subscription ends, like a dropped one: its page reconnects
        await asyncio.wait_for(following, 10)
        assert seen == [1, 2, 3, 4, 5] and sub.dropped
        again = reader.subscribe("a", after_seq=5)
        got = await take(again, 1)
        assert again.gap and [(e.seq, e.text) for e in got] == [(1, "m100")]
        await second.close()
    finally:
        await reader.close()
        server.stop()


@pytest.mark.asyncio
async def test_a_unit_that_landed_while_its_room_stopped_still_runs_its_steps(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    # the room is stopped (what waits is dropped) while its last append's reply is on the way: the
    # append was applied, with its ingest position, so no one handles that input again and its
    # audit lines must still be written
    bus = RedisBus(redis_server.url, replay=100)
    await bus.start()
    try:
        writer = await bus.open_writer("a")
        applied = bus._append

        async def append_then_stop(*, keys: list[str], args: list[object]) -> object:
            result = await applied(keys=keys, args=args)
            writer._drop(list(writer.pending), "the room stopped meanwhile")
            return result

        bus._append = append_then_stop  # type: ignore[assignment]
        audited: list[str] = []
        async with writer.unit(commit="1-0") as unit:
            await writer.publish(chat("a", 1))
            unit.after_commit.append(lambda: audited.append("m1"))
        assert audited == ["m1"]
        assert await bus.link.client.xlen(bus.keys.events("a")) == 1
    finally:
        await bus.close()


@pytest.mark.asyncio
async def test_a_subscriber_that_skips_bulk_gets_everything_but_chat_across_nodes(
    two_nodes: tuple[RedisBus, RedisBus],
) -> None:
    writer, reader = two_nodes
    await writer.publish(chat("a", 0))
    await writer.publish(Warning(room="a", text="全网最低价", rule="absolute.lowest"))
    await writer.publish(chat("a", 1))
    sub = reader.subscribe("a", after_seq=0, skip_bulk=True)
    assert sub.skip_bulk
    first = await take(sub, 1)
    assert [(e.type, e.seq) for e in first] == [("warning", 2)]
    for i in range(2, 20):  # live, published on the other node after the replay
        await writer.publish(chat("a", i))
    await writer.publish(Warning(room="a", text="国家级", rule="authority.state"))
    got = await take(sub, 1)
    assert [(e.type, e.seq) for e in got] == [("warning", 22)]
    await sub.close()
