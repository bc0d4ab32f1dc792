"""The Bilibili adapter against the loopback server: set-up, auth, heartbeats, frames, reconnects, sending."""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import brotli
import pytest
import pytest_asyncio

from bot.adapters.base import SendError
from bot.adapters.bilibili import BilibiliAdapter
from bot.config import BilibiliSettings, RoomSettings
from bot.events import ChatMessage, Gift, RoomStatus, User
from tests.loopback.bilibili import BilibiliLoopback, brotli_frame, cmd_packet, danmu, pack, send_gift, zlib_frame
from tests.loopback.collect import Collector, until
from tests.loopback.common import FAST_RECONNECT


@pytest_asyncio.fixture
async def server() -> AsyncIterator[BilibiliLoopback]:
    async with BilibiliLoopback() as srv:
        yield srv


def make_adapter(server: BilibiliLoopback, http: aiohttp.ClientSession, *, login: bool = False,
                 **extra: Any) -> BilibiliAdapter:  # fmt: skip
    keys: dict[str, Any] = dict(FAST_RECONNECT, heartbeat_seconds=0.2)
    if login:
        keys.update(sessdata=server.sessdata, bili_jct=server.bili_jct)
    keys.update(extra)
    settings = BilibiliSettings(**server.settings_table(**keys))
    adapter = BilibiliAdapter(
        RoomSettings(name="shop", platform="bilibili", room_id=str(server.short_id)), settings, http
    )
    adapter.receive_grace = 0.5
    return adapter


def chats(c: Collector) -> list[str]:
    return [e.text for e in c.of(ChatMessage)]


@pytest.mark.asyncio
async def test_joins_through_setup_and_rotates_past_a_refusing_host(server, http) -> None:
    c = Collector(make_adapter(server, http))
    conn = await server.wait_authed(1)
    await c.wait_state("connected")
    auth = conn.auth or {}
    assert auth["roomid"] == server.room_id and auth["key"] in server.tokens
    assert (auth["uid"], auth["protover"], auth["platform"], auth["buvid"]) == (0, 3, "web", "LOOPBACK-B3-0000infoc")
    # the first host of host_list refuses: one failed attempt, then the second host
    assert c.states[:3] == ["connecting", "reconnecting", "connected"]
    refused = next(e for e in c.of(RoomStatus) if e.state == "reconnecting")
    assert str(server.refused_port) in refused.detail
    assert server.bad_signatures == 0 and server.calls["getDanmuInfo"] == 1
    assert c.source.plan.anchor_uid == str(server.anchor_uid) and not c.source.plan.degraded
    await c.close()
    assert c.states[-1] == "closed" and c.error is None


@pytest.mark.asyncio
async def test_events_from_real_frames_in_order(server, http) -> None:
    c = Collector(make_adapter(server, http))
    await server.wait_authed(1)
    await server.send(brotli_frame([danmu(11, "甲", f"b{i}") for i in range(3)] + [danmu(1001, "主播", "anchor")]))
    await server.send(zlib_frame([danmu(12, "乙", "z0"), send_gift(12, "乙", "小花花", 5)]))
    await server.send(cmd_packet(danmu(13, "丙", "plain")))
    # two frames joined in one message
    await server.send(cmd_packet(danmu(15, "戊", "j1")) + brotli_frame([danmu(15, "戊", "j2")]))
    await c.wait_count(ChatMessage, 8)
    assert chats(c) == ["b0", "b1", "b2", "anchor", "z0", "plain", "j1", "j2"]
    anchor = c.of(ChatMessage)[3]
    assert anchor.user is not None and anchor.user.is_anchor and anchor.raw["cmd"].startswith("DANMU_MSG")
    [gift] = c.of(Gift)
    assert (gift.gift_name, gift.count) == ("小花花", 5)
    await c.close()


@pytest.mark.asyncio
async def test_heartbeats_start_at_once_and_repeat(server, http) -> None:
    slow = Collector(make_adapter(server, http, heartbeat_seconds=30.0))
    conn = await server.wait_authed(1)
    await until(lambda: conn.heartbeats >= 1, 5)  # right after the auth reply, not 30 s later
    await slow.close()
    fast = Collector(make_adapter(server, http, heartbeat_seconds=0.1))
    conn = await server.wait_authed(2)
    await until(lambda: conn.heartbeats >= 4, 5)
    await fast.close()


@pytest.mark.asyncio
async def test_hostile_frames_are_dropped_and_the_room_goes_on(server, http) -> None:
    adapter = make_adapter(server, http)
    c = Collector(adapter)
    await server.wait_authed(1)
    hostile = [
        struct.pack(">IHHII", 100, 16, 0, 5, 0) + b"{}",  # claims more bytes than the message has
        struct.pack(">IHHII", 8, 16, 0, 5, 0),  # impossible header
        struct.pack(">IHHII", 50 << 20, 16, 0, 5, 0),  # giant length
        pack(5, b"\x8b\x00garbage", proto=3),  # bad brotli
        pack(5, b"garbage", proto=2),  # bad zlib
        pack(5, b"{not json", proto=0),  # not JSON
        pack(5, b"[1,2,3]", proto=0),  # JSON but not a command
        cmd_packet({"cmd": "DANMU_MSG", "info": "nonsense"}),  # a broken known command
        pack(5, brotli.compress(b"\0" * (40 << 20), quality=1), proto=3),  # decompression bomb
    ]
    for frame in hostile:
        await server.send(frame)
    await server.conns[-1].ws.send_str("text is not the protocol")
    await server.send(brotli_frame([danmu(2, "b", "still alive")]))
    await c.wait_count(ChatMessage, 1)
    assert chats(c) == ["still alive"]
    assert adapter.dropped >= 8 and adapter.connections == 1  # no reconnect needed
    assert adapter.drops["a malformed frame: FrameError"] >= 6
    await c.close()
    assert c.error is None


@pytest.mark.asyncio
async def test_a_lying_length_costs_only_its_own_message(server, http) -> None:
    # Bilibili sends whole packets per websocket message: a header that claims more bytes than its
    # message holds is that message's problem, and the next message is read from its offset 0
    adapter = make_adapter(server, http)
    c = Collector(adapter)
    await server.wait_authed(1)
    for claimed in (9_999, 1 << 20):
        await server.send(struct.pack(">IHHII", claimed, 16, 0, 5, 0) + b'{"cmd":"DANMU_MSG"}')
        for i in range(15):
            await server.send(cmd_packet(danmu(30 + i, "v", f"{claimed}-{i}")))
    await c.wait_count(ChatMessage, 30)
    assert chats(c) == [f"{claimed}-{i}" for claimed in (9_999, 1 << 20) for i in range(15)]
    # a frame cut across two messages is two broken messages, and costs only those two
    cut = brotli_frame([danmu(14, "丁", "cut")])
    await server.send(cut[:9])
    await server.send(cut[9:])
    await server.send(cmd_packet(danmu(15, "戊", "after the cut")))
    await c.wait_count(ChatMessage, 31)
    assert chats(c)[-1] == "after the cut" and adapter.dropped == 4 and adapter.connections == 1
    await c.close()


@pytest.mark.asyncio
async def test_fields_of_the_wrong_kind_cost_only_their_command(server, http) -> None:
    adapter = make_adapter(server, http)
    c = Collector(adapter)
    await server.wait_authed(1)
    for lie in ("--1", "²", "١٢", "9" * 40, "-", "", None, [], {}, 1e308, float("inf")):
        broken = danmu(40, "v", f"uid {lie!r}")
        broken["info"][2][0] = lie  # the sender's uid
        broken["info"][0][4] = lie  # the timestamp
        broken["info"][4][0] = lie  # the user level
        await server.send(cmd_packet(broken) if lie != float("inf") else pack(5, b'{"cmd":"X","v":Infinity}'))
        await server.send(cmd_packet(danmu(41, "w", f"after {lie!r}")))
    await c.wait(lambda evs: any(isinstance(e, ChatMessage) and e.text == "after inf" for e in evs))
    texts = chats(c)
    for lie in ("--1", "²", "١٢", "9" * 40, "-", "", None, [], {}, 1e308, float("inf")):
        assert f"after {lie!r}" in texts
    # a lying field is read as "unknown", not a reason to lose the line
    assert "uid '--1'" in texts and "uid '²'" in texts
    assert adapter.connections == 1 and c.error is None
    await c.close()


@pytest.mark.asyncio
async def test_setup_failure_against_a_configured_endpoint_never_leaves_it(server, http) -> None:
    # the default fallback ("auto") is Bilibili's public host only while the set-up talks to
    # Bilibili's public API: against this loopback server there is none, the set-up is retried
    server.risk_control = 4  # two set-ups fail (each retries once after -352), the third works
    adapter = make_adapter(server, http, fallback_url="auto")
    dialled: list[str] = []
    dial = adapter._dial

    async def recording_dial(url: str, timeout: float, **options: Any) -> Any:
        dialled.append(url)
        return await dial(url, timeout, **options)

    adapter._dial = recording_dial  # type: ignore[method-assign]
    c = Collector(adapter)
    conn = await server.wait_authed(1)
    assert conn.auth["key"] in server.tokens and not adapter.plan.degraded  # type: ignore[index,union-attr]
    assert server.calls["getDanmuInfo"] == 5
    assert dialled and all(url.startswith("ws://127.0.0.1:") for url in dialled), dialled
    failed = [e.detail for e in c.of(RoomStatus) if "set-up failed" in e.detail]
    assert failed and c.error is None
    await c.close()


@pytest.mark.asyncio
async def test_the_public_fallback_is_only_for_the_public_api() -> None:
    from bot.adapters.bilibili.setup import PUBLIC_FALLBACK, fallback_url

    assert fallback_url(BilibiliSettings()) == PUBLIC_FALLBACK
    relay = BilibiliSettings(api_base="https://relay.example", live_api_base="https://relay.example")
    assert fallback_url(relay) is None
    assert fallback_url(BilibiliSettings(live_api_base="http://127.0.0.1:9")) is None
    assert fallback_url(BilibiliSettings(fallback_url="off")) is None
    mine = "wss://relay.example/sub"
    assert fallback_url(dataclasses.replace(relay, fallback_url=mine)) == mine


@pytest.mark.asyncio
async def test_server_drop_reconnects_without_loss_or_duplicates(server, http) -> None:
    c = Collector(make_adapter(server, http))
    await server.wait_authed(1)
    for i in range(5):
        await server.send(brotli_frame([danmu(20, "x", f"before{i}")]))
    await c.wait_count(ChatMessage, 5)
    await server.drop()
    conn = await server.wait_authed(2)
    for i in range(5):
        await server.send(brotli_frame([danmu(20, "x", f"after{i}")]), conn)
    await c.wait_count(ChatMessage, 10)
    await asyncio.sleep(0.1)
    assert chats(c) == [f"before{i}" for i in range(5)] + [f"after{i}" for i in range(5)]
    assert c.states.count("connected") == 2
    await c.close()


@pytest.mark.asyncio
async def test_killed_server_comes_back(server, http) -> None:
    c = Collector(make_adapter(server, http))
    await server.wait_authed(1)
    await server.kill()
    await c.wait(lambda evs: isinstance(evs[-1], RoomStatus) and evs[-1].state == "reconnecting")
    await asyncio.sleep(0.3)  # a few refused attempts while it is down
    await server.restart()
    conn = await server.wait_authed(2)
    await server.send(brotli_frame([danmu(3, "c", "back")]), conn)
    await c.wait_count(ChatMessage, 1)
    assert chats(c) == ["back"]
    await c.close()


@pytest.mark.asyncio
async def test_a_stalled_server_is_detected_by_the_receive_timeout(server, http) -> None:
    c = Collector(make_adapter(server, http))
    first = await server.wait_authed(1)
    server.stall = True  # no more heartbeat replies, nothing at all
    await until(lambda: first.ws.closed, 5)  # the client gives up on it
    server.stall = False
    conn = await server.wait_authed(2)
    await server.send(cmd_packet(danmu(3, "c", "fresh")), conn)
    await c.wait_count(ChatMessage, 1)
    detail = [e.detail for e in c.of(RoomStatus) if e.state == "reconnecting"][-1]
    assert "Timeout" in detail
    await c.close()


@pytest.mark.asyncio
async def test_auth_rejection_reruns_the_setup(server, http) -> None:
    server.reject_auth = 1
    c = Collector(make_adapter(server, http))
    await server.wait_authed(1)
    assert server.calls["getDanmuInfo"] == 2  # the rejected token was replaced
    rejected = [x for x in server.conns if x.auth and not x.authed.is_set()]
    assert len(rejected) == 1 and rejected[0].auth["key"] != server.authed_conns[-1].auth["key"]  # type: ignore[index]
    await c.close()


@pytest.mark.asyncio
async def test_risk_control_refreshes_wbi_keys(server, http) -> None:
    c = Collector(make_adapter(server, http))
    await server.wait_authed(1)
    assert server.calls["nav"] == 1
    server.rotate_wbi_keys()  # what the cached keys sign is now refused with -352
    server.reject_auth = 1  # force a fresh set-up
    await server.drop()
    await server.wait_authed(2)
    assert server.bad_signatures == 1 and server.calls["nav"] == 2 and server.calls["spi"] == 2
    assert not c.source.plan.degraded
    await c.close()


@pytest.mark.asyncio
async def test_setup_failure_falls_back_to_the_anonymous_url(server, http) -> None:
    server.risk_control = 100
    c = Collector(make_adapter(server, http))
    conn = await server.wait_authed(1)
    assert "key" not in (conn.auth or {}) and conn.auth["uid"] == 0  # type: ignore[index]
    assert c.source.plan.degraded and c.source.plan.urls == (f"ws://127.0.0.1:{server.port}/sub",)
    # the real room id and anchor were learned before getDanmuInfo failed
    assert conn.auth["roomid"] == server.room_id and c.source.plan.anchor_uid == "1001"  # type: ignore[index]
    await server.send(cmd_packet(danmu(3, "c", "reduced but alive")))
    await c.wait_count(ChatMessage, 1)
    await c.close()


@pytest.mark.asyncio
async def test_login_marks_the_bots_own_lines(server, http) -> None:
    adapter = make_adapter(server, http, login=True)
    c = Collector(adapter)
    conn = await server.wait_authed(1)
    assert conn.auth["uid"] == server.bot_uid and adapter.self_user_id == str(server.bot_uid)  # type: ignore[index]
    await server.send(brotli_frame([danmu(server.bot_uid, "bot", "mine")]))
    [msg] = await c.wait_count(ChatMessage, 1)
    assert msg.user.roles == ("bot",)
    await c.close()


@pytest.mark.asyncio
async def test_send(server, http) -> None:
    adapter = make_adapter(server, http, login=True)
    c = Collector(adapter)
    await server.wait_authed(1)
    assert adapter.can_send
    viewer = User(id="555", name="小红")
    await adapter.send("七天无理由退货", reply_to=viewer)
    [form] = server.sent
    assert form["msg"] == "七天无理由退货" and form["roomid"] == str(server.room_id)
    assert form["csrf"] == form["csrf_token"] == server.bili_jct and form["reply_mid"] == "555"
    with pytest.raises(SendError, match="same text"):
        await adapter.send("七天无理由退货")
    with pytest.raises(SendError, match="longer than 20"):
        await adapter.send("很" * 21)
    with pytest.raises(SendError, match="own account"):
        await adapter.send("hi", reply_to=User(id=str(server.bot_uid), name="bot"))
    server.send_mode = "too_fast"
    with pytest.raises(SendError) as err:
        await adapter.send("发货48小时内")
    assert err.value.retry_after and err.value.retry_after > 0
    server.send_mode = "ok"
    await adapter.send("发货48小时内")
    assert [f["msg"] for f in server.sent] == ["七天无理由退货", "发货48小时内"]
    await c.close()


@pytest.mark.asyncio
async def test_send_without_login_is_refused(server, http) -> None:
    adapter = make_adapter(server, http)
    assert not adapter.can_send
    with pytest.raises(SendError, match="not logged in"):
        await adapter.send("hi")
    bad = make_adapter(server, http, sessdata=server.sessdata, bili_jct="wrong")
    with pytest.raises(SendError, match="csrf"):
        await bad.send("hi")
    assert server.sent == []
