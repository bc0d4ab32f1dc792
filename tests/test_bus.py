"""The in-memory bus: ordered per room, increasing seq, bounded replay, slow subscribers dropped."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.bus.memory import MemoryBus
from bot.events import ChatMessage, FaqReply, User, Warning
from tests.bus_support import chat, take


@pytest.mark.asyncio
async def test_seq_increases_per_room_and_order_is_kept() -> None:
    bus = MemoryBus(replay=100)
    sub_a = bus.subscribe("a")
    sub_b = bus.subscribe("b")
    for i in range(5):
        await bus.publish(chat("a", i))
        await bus.publish(chat("b", i))
    got_a = await take(sub_a, 5)
    got_b = await take(sub_b, 5)
    assert [e.seq for e in got_a] == [1, 2, 3, 4, 5]
    assert [e.text for e in got_a] == [f"m{i}" for i in range(5)]
    assert [e.seq for e in got_b] == [1, 2, 3, 4, 5]
    assert all(e.room == "b" for e in got_b)


@pytest.mark.asyncio
async def test_replay_after_seq_then_live() -> None:
    bus = MemoryBus(replay=100)
    for i in range(10):
        await bus.publish(chat("a", i))
    sub = bus.subscribe("a", after_seq=7)
    assert not sub.gap
    await bus.publish(chat("a", 10))
    got = await take(sub, 4)
    assert [e.seq for e in got] == [8, 9, 10, 11]


@pytest.mark.asyncio
async def test_replay_window_is_bounded_and_gap_reported() -> None:
    bus = MemoryBus(replay=5)
    for i in range(20):
        await bus.publish(chat("a", i))
    sub = bus.subscribe("a", after_seq=3)
    assert sub.gap
    got = await take(sub, 5)
    assert [e.seq for e in got] == [16, 17, 18, 19, 20]


@pytest.mark.asyncio
async def test_a_chat_flood_never_pushes_warnings_out_of_the_replay() -> None:
    # an OBS scene reloaded while chat pours in must still find the warnings of the last seconds
    bus = MemoryBus(replay=5)
    await bus.publish(Warning(room="a", text="全网最低价", rule="absolute.lowest"))
    for i in range(30):
        await bus.publish(chat("a", i))
    await bus.publish(FaqReply(room="a", text="48小时内发货"))
    for i in range(30, 60):
        await bus.publish(chat("a", i))
    sub = bus.subscribe("a", after_seq=0)
    got = await take(sub, 7)
    assert [e.seq for e in got] == [1, 32, 58, 59, 60, 61, 62]  # oldest first, each once
    assert [e.type for e in got[:2]] == ["warning", "faq_reply"]
    assert sub.gap  # chat lines were lost to the window, and the page is told so
    again = bus.subscribe("a", after_seq=59)  # a reconnect asks only for what it missed
    assert [e.seq for e in await take(again, 3)] == [60, 61, 62]


@pytest.mark.asyncio
async def test_subscriber_ahead_of_the_bus_gets_everything() -> None:
    # a page that was fed by an earlier process remembers a seq this one never reached
    bus = MemoryBus(replay=10)
    await bus.publish(chat("a", 0))
    sub = bus.subscribe("a", after_seq=500)
    assert sub.gap
    assert [e.seq for e in await take(sub, 1)] == [1]


@pytest.mark.asyncio
async def test_slow_subscriber_dropped_producer_never_blocks(caplog: pytest.LogCaptureFixture) -> None:
    bus = MemoryBus(replay=100, subscriber_queue=10)
    slow = bus.subscribe("a")
    fast = bus.subscribe("a")
    received: list[int] = []

    async def consume_fast() -> None:
        async for ev in fast:
            received.append(ev.seq)

    task = asyncio.create_task(consume_fast())
    with caplog.at_level(logging.WARNING):
        for i in range(50):
            await bus.publish(chat("a", i))  # never awaits a consumer
            await asyncio.sleep(0)
    assert "dropping a slow subscriber" in caplog.text
    got = [e.seq async for e in slow]  # ends after what it had queued
    assert slow.dropped
    assert got == list(range(1, 11))
    assert received == list(range(1, 51))
    # it reconnects with its last seq and replays the rest
    again = bus.subscribe("a", after_seq=got[-1])
    assert [e.seq for e in await take(again, 40)] == list(range(11, 51))
    task.cancel()


@pytest.mark.asyncio
async def test_restore_continues_sequence_ids() -> None:
    bus = MemoryBus(replay=10)
    bus.restore("a", [chat("a", 1).with_seq(41), chat("a", 2).with_seq(42)])
    assert bus.last_seq("a") == 42
    ev = await bus.publish(chat("a", 3))
    assert ev.seq == 43
    sub = bus.subscribe("a", after_seq=40)
    assert [e.seq for e in await take(sub, 3)] == [41, 42, 43]


@pytest.mark.asyncio
async def test_close_ends_subscriptions() -> None:
    bus = MemoryBus()
    sub = bus.subscribe("a")
    await bus.close()
    assert [e async for e in sub] == []


@pytest.mark.asyncio
async def test_a_subscriber_that_skips_bulk_gets_everything_but_chat_in_replay_and_live() -> None:
    # the admin page's collector and a warnings-only overlay: not woken for every chat line
    bus = MemoryBus(replay=100)
    await bus.publish(chat("a", 0))
    await bus.publish(Warning(room="a", text="全网最低价", rule="absolute.lowest"))
    await bus.publish(chat("a", 1))
    sub = bus.subscribe("a", after_seq=0, skip_bulk=True)
    everything = bus.subscribe("a", after_seq=0)
    assert sub.skip_bulk and not everything.skip_bulk
    for i in range(2, 40):  # more chat than the subscriber's queue would ever need to hold
        await bus.publish(chat("a", i))
    await bus.publish(FaqReply(room="a", text="7天无理由", faq_id="returns"))
    got = await take(sub, 2)
    assert [(e.type, e.seq) for e in got] == [("warning", 2), ("faq_reply", 42)]
    assert len(await take(everything, 42)) == 42


@pytest.mark.asyncio
async def test_viewer_traffic_has_a_shorter_window_and_gaps_count_only_what_a_subscriber_would_get() -> None:
    bus = MemoryBus(replay=100, viewer_replay=10)
    await bus.publish(Warning(room="a", text="全网最低价", rule="absolute.lowest"))
    for i in range(50):
        await bus.publish(chat("a", i))
    await bus.publish(Warning(room="a", text="国家级", rule="authority.state"))
    everything = bus.subscribe("a", after_seq=0)
    got = await take(everything, 11)
    # both warnings, and of the chat only the last lines (seq 43..51)
    assert [e.seq for e in got] == [1, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52]
    assert everything.gap  # chat lines after seq 0 are gone
    warnings_only = bus.subscribe("a", after_seq=0, skip_bulk=True)
    assert [e.seq for e in await take(warnings_only, 2)] == [1, 52]
    assert not warnings_only.gap  # no warning was lost: the page must not say so
    assert not bus.subscribe("a", after_seq=45).gap  # lines 46.. are all there


@pytest.mark.asyncio
async def test_a_restored_window_reports_the_gap_before_it() -> None:
    bus = MemoryBus(replay=10)
    bus.restore("a", [chat("a", 1).with_seq(41), chat("a", 2).with_seq(42)])
    assert bus.subscribe("a", after_seq=0).gap
    assert bus.subscribe("a", after_seq=0, skip_bulk=True).gap
    assert not bus.subscribe("a", after_seq=40).gap


@pytest.mark.asyncio
async def test_the_anchors_own_chat_line_outlives_a_chat_flood_in_the_replay() -> None:
    bus = MemoryBus(replay=100, viewer_replay=10)
    anchor = User(id="1", name="主播", roles=("anchor",))
    await bus.publish(ChatMessage(room="a", text="今天全网最低价", user=anchor))
    for i in range(50):
        await bus.publish(chat("a", i))
    got = await take(bus.subscribe("a", after_seq=0, skip_bulk=True), 1)
    assert [(e.seq, e.text) for e in got] == [(1, "今天全网最低价")]
    replay = await take(bus.subscribe("a", after_seq=0), 11)
    assert [e.seq for e in replay] == [1, *range(42, 52)]
