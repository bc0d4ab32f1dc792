"""The Douyin adapter against the stand-in, through real headless Chromium: the page signs and opens
its socket, livebot decodes what the page receives, the page heartbeats and acks, hostile frames
are dropped without losing what follows, a silent socket gets the page reloaded, and the rooms of a
process share one browser that is gone once they close."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.adapters.douyin import DouyinAdapter
from bot.config import RoomSettings, parse_config
from bot.events import ChatMessage, Gift, Like, LiveStatus, ViewerCount
from tests.loopback import douyin as standin
from tests.loopback.collect import Collector, until
from tests.loopback.common import FAST_RECONNECT
from tests.loopback.douyin import DouyinLoopback
from tests.procs import alive, descendants

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian chromium (apt-get install chromium)"),
]

BIG = 2**64 - 3


_made: list[DouyinAdapter] = []


@pytest_asyncio.fixture(autouse=True)
async def close_every_adapter() -> AsyncIterator[None]:
    """A failing test must not leave its browser running into the next test."""
    yield
    while _made:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_made.pop().close(), 30)


def adapter(tmp_path: Path, server: DouyinLoopback, room_id: str = "5550001", name: str = "dy", **extra: Any):
    fast = {k: v for k, v in FAST_RECONNECT.items() if k != "connect_timeout_seconds"}
    settings = parse_config(
        {
            "server": {"state_dir": str(tmp_path / "state")},
            "platforms": {"douyin": server.settings_table(**fast, **extra)},
            "rooms": [{"name": name, "platform": "douyin", "room_id": room_id, "anchor_uid": "42"}],
        }
    )
    room: RoomSettings = settings.rooms[0]
    made = DouyinAdapter(room, settings.platforms.douyin, settings.server.state_dir)
    _made.append(made)
    return made


async def closed(collector: Collector, ad: DouyinAdapter) -> None:
    await ad.close()
    await asyncio.wait_for(collector.task, 30)
    assert collector.error is None and collector.states[-1] == "closed"


@pytest.mark.asyncio
async def test_the_page_signs_its_socket_and_livebot_reads_every_frame(tmp_path: Path) -> None:
    async with DouyinLoopback() as server:
        async with aiohttp.ClientSession() as http:  # anyone but the page: refused
            for query in ("room_id=5550001", "room_id=5550001&signature=0123456789abcdef"):
                with pytest.raises(aiohttp.WSServerHandshakeError):
                    await http.ws_connect(f"ws://127.0.0.1:{server.port}{standin.PUSH_PATH}?{query}")
        assert server.rejected == ["unsigned", "wrong signature"]

        ad = adapter(tmp_path, server)
        collector = Collector(ad)
        peer = await server.wait_ready(1, within=60)
        assert peer.params["room_id"] == "5550001" and len(peer.params["signature"]) == 16
        await collector.wait(lambda evs: "connected" in collector.states, 30)

        exts = ["internal_src:dim|wss_push_room_id:7300000000000000001|first_req_ms:1", "ext-2|fetch_time:9"]
        log_ids = [2**64 - 1, 2**63 + 5]
        await server.send(
            standin.msg_frame(
                [standin.chat(2**63 + 1, BIG, "观众甲", "这个怎么退货"), standin.member(2, 7, "乙")],
                need_ack=True,
                internal_ext=exts[0],
                log_id=log_ids[0],
            )
        )
        hostile: list[bytes | str] = [
            standin.not_protobuf_frame(),
            standin.corrupt_gzip_frame(),
            standin.gzip_bomb_frame(),
            standin.bad_payload_frame(),
            'a text frame {"cmd": 1}',
        ]
        for frame in hostile:
            await server.send(frame)
        await server.send(
            standin.msg_frame(
                [
                    standin.gift(3, 8, "丙", "小心心", diamonds=1),
                    standin.like(4, 8, "丙", 12, 3456),
                    standin.viewers(5, 321, 9876),
                    standin.chat(6, 42, "主播", "家人们上车"),
                    standin.message("WebcastSomethingNewMessage", b"", 7),
                    standin.chat(8, 9, "丁", "<script>alert(1)</script>\u202e\x00"),
                ],
                need_ack=True,
                internal_ext=exts[1],
                log_id=log_ids[1],
            )
        )
        await server.send(standin.msg_frame([standin.control(9, 3)]))
        await collector.wait(lambda evs: bool(collector.of(LiveStatus)), 30)

        chats = collector.of(ChatMessage)
        assert [c.text for c in chats] == ["这个怎么退货", "家人们上车", "<script>alert(1)</script>\u202e\x00"]
        assert chats[0].user is not None and chats[0].user.id == str(BIG) and chats[0].msg_id == str(2**63 + 1)
        assert chats[1].user is not None and chats[1].user.is_anchor
        (gift,) = collector.of(Gift)
        assert (gift.gift_name, gift.count, gift.price) == ("小心心", 1, 0.1)
        assert collector.of(Like)[0].count == 12 and collector.of(ViewerCount)[0].online == 321
        assert ad.dropped == len(hostile)  # each hostile frame dropped (the bad payload as one message)
        # the page acked each needAck response with its internalExt as payload and the frame's logId
        await until(lambda: len(peer.acks) == 2, 15)
        assert peer.acks == [(log_ids[0], exts[0].encode()), (log_ids[1], exts[1].encode())]
        assert peer.bad_acks == 0 and peer.unacked == {}
        await until(lambda: ad.acks == 2, 15)
        assert ad.unexpected_acks == 0
        assert peer.heartbeats >= 1 and ad.heartbeats >= 1
        # the page's video and pictures were never fetched
        assert server.heavy_requests == []
        await closed(collector, ad)


@pytest.mark.asyncio
async def test_a_silent_socket_gets_the_page_reloaded(tmp_path: Path) -> None:
    async with DouyinLoopback(heartbeat_ms=1000) as server:
        ad = adapter(tmp_path, server)
        collector = Collector(ad)
        first = await server.wait_ready(1, within=60)
        await server.send(standin.msg_frame([standin.chat(1, 1, "甲", "before")]))
        await collector.wait(lambda evs: len(collector.of(ChatMessage)) == 1, 30)
        server.stall = True  # no more heartbeat answers: frames stop, the page keeps beating
        second = await server.wait_ready(2, within=60)  # heartbeat 1 s + 10 s of silence, then a new page
        assert second is not first and server.page_loads["5550001"] == 2 and ad.pages == 2
        assert "reconnecting" in collector.states and "no frame" in next(
            e.detail for e in collector.events if getattr(e, "state", "") == "reconnecting"
        )
        server.stall = False
        await server.send(standin.msg_frame([standin.chat(2, 1, "甲", "after")]), second)
        await collector.wait(lambda evs: len(collector.of(ChatMessage)) == 2, 30)
        assert [c.text for c in collector.of(ChatMessage)] == ["before", "after"]
        assert collector.states.count("connected") == 2
        await closed(collector, ad)


@pytest.mark.asyncio
async def test_a_page_that_stops_heartbeating_is_reloaded(tmp_path: Path) -> None:
    async with DouyinLoopback(heartbeat_ms=1000) as server:
        server.page_heartbeats = False  # the page's script broke: frames still come, no heartbeat goes out
        ad = adapter(tmp_path, server)
        collector = Collector(ad)

        async def keep_sending() -> None:
            while True:
                if server.ready_peers:
                    await server.send(standin.msg_frame([standin.chat(1, 10, "甲", "还在吗")]))
                await asyncio.sleep(0.5)

        sender = asyncio.create_task(keep_sending())
        try:
            await server.wait_ready(2, within=90)  # heartbeat 1 s + 10 s without one, then a new page
        finally:
            sender.cancel()
        assert ad.heartbeats == 0 and len(collector.of(ChatMessage)) > 5  # frames kept coming
        (reload,) = [e for e in collector.events if getattr(e, "state", "") == "reconnecting"][:1]
        assert "no heartbeat" in reload.detail  # type: ignore[attr-defined]
        await closed(collector, ad)


@pytest.mark.asyncio
async def test_a_dead_browser_is_started_again(tmp_path: Path) -> None:
    async with DouyinLoopback() as server:
        ad = adapter(tmp_path, server)
        collector = Collector(ad)
        await server.wait_ready(1, within=90)
        await collector.wait(lambda evs: "connected" in collector.states, 30)
        (browser,) = [p for p in descendants(os.getpid()) if p.is_browser]
        os.kill(browser.pid, signal.SIGKILL)
        second = await server.wait_ready(2, within=90)
        assert ad.browser is not None and ad.browser.launches == 2
        await server.send(standin.msg_frame([standin.chat(1, 1, "甲", "still here")]), second)
        await collector.wait(lambda evs: bool(collector.of(ChatMessage)), 30)
        assert collector.states.count("connected") == 2
        await closed(collector, ad)


@pytest.mark.asyncio
async def test_rooms_share_one_browser_and_leave_none_behind(tmp_path: Path) -> None:
    async with DouyinLoopback() as server:
        rooms = [adapter(tmp_path, server, room_id=f"66600{i}", name=f"dy{i}") for i in range(3)]
        collectors = [Collector(ad) for ad in rooms]
        await server.wait_ready(3, within=90)
        assert sorted(p.params["room_id"] for p in server.peers) == ["666000", "666001", "666002"]
        browsers = {id(ad.browser) for ad in rooms}
        assert len(browsers) == 1 and rooms[0].browser is not None and rooms[0].browser.launches == 1
        chromium = [p for p in descendants(os.getpid()) if p.is_chromium]
        assert len([p for p in chromium if p.is_browser]) == 1, [p.cmdline[:2] for p in chromium]
        for peer, ad in zip(sorted(server.peers, key=lambda p: p.params["room_id"]), rooms, strict=True):
            await server.send(standin.msg_frame([standin.chat(1, 1, "甲", f"hello {ad.room_id}")]), peer)
        for c, ad in zip(collectors, rooms, strict=True):
            await c.wait(lambda evs, c=c: len(c.of(ChatMessage)) == 1, 30)
            assert c.of(ChatMessage)[0].text == f"hello {ad.room_id}"  # each page feeds its own room
        await closed(collectors[0], rooms[0])
        assert len(alive([p.pid for p in chromium if p.is_browser])) == 1  # the others still need it
        for c, ad in zip(collectors[1:], rooms[1:], strict=True):
            await closed(c, ad)
        await until(lambda: not alive([p.pid for p in chromium]), 20)
