"""The Douyu adapter against the loopback Douyu server: login sequence, heartbeats, events,
hostile frames, reconnects and the optional room API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.adapters.base import SendError
from bot.adapters.douyu import DouyuAdapter
from bot.config import DouyuSettings, RoomSettings
from bot.events import ChatMessage, Enter, Gift, LiveStatus, RoomStatus
from tests.loopback.collect import Collector, until
from tests.loopback.common import FAST_RECONNECT, free_port
from tests.loopback.douyu import DouyuLoopback, chatmsg, dgb, header, packet, raw_packet, uenter

ROOM = 288016


@pytest_asyncio.fixture
async def server() -> AsyncIterator[DouyuLoopback]:
    async with DouyuLoopback(room_id=ROOM) as srv:
        yield srv


def make_adapter(
    server: DouyuLoopback, http: aiohttp.ClientSession, *, anchor_uid: str = "", **extra: Any
) -> DouyuAdapter:
    keys: dict[str, Any] = dict(FAST_RECONNECT, danmaku_url=server.url, heartbeat_seconds=0.3)
    keys.update(extra)
    room = RoomSettings(name="dy", platform="douyu", room_id=str(server.room_id), anchor_uid=anchor_uid)
    return DouyuAdapter(room, DouyuSettings(**keys), http)


def chats(c: Collector) -> list[str]:
    return [m.text for m in c.of(ChatMessage)]


@pytest.mark.asyncio
async def test_login_join_then_events(server, http) -> None:
    c = Collector(make_adapter(server, http, anchor_uid="9000"))
    client = await server.wait_joined(1)
    # the first two packets: loginreq with the room id, then joingroup with rid and group -9999
    assert client.packets[0] == {"type": "loginreq", "roomid": str(ROOM)}
    assert client.packets[1] == {"type": "joingroup", "rid": str(ROOM), "gid": "-9999"}
    assert client.problem == "" and client.origin == "https://www.douyu.com"
    await c.wait_state("connected")
    await server.send(
        chatmsg(501, "观众甲", "这个怎么退货", rid=ROOM, level=21, bnn="鱼丸团", bl=7),
        chatmsg(9000, "主播本人", "配置的主播", rid=ROOM),
        chatmsg(777, "房主", "rg 5 是主播", rid=ROOM, rg=5),
        chatmsg(778, "房管", "我是房管", rid=ROOM, rg=4),
        dgb(502, "送礼的", 824, count=3, rid=ROOM),
        uenter(503, "进来的", rid=ROOM),
    )
    msgs = await c.wait_count(ChatMessage, 4)
    assert [m.text for m in msgs] == ["这个怎么退货", "配置的主播", "rg 5 是主播", "我是房管"]
    first = msgs[0]
    assert (first.user.id, first.user.name, first.user.level, first.user.roles) == ("501", "观众甲", 21, ())
    assert first.user.medal is not None and (first.user.medal.name, first.user.medal.level) == ("鱼丸团", 7)
    assert first.msg_id and first.platform == "douyu" and first.room == "dy" and first.platform_ts
    assert first.raw["type"] == "chatmsg" and first.raw["txt"] == "这个怎么退货"
    assert msgs[1].user.roles == ("anchor",) and msgs[2].user.roles == ("anchor",)
    assert msgs[3].user.roles == ("moderator",)
    (gift,) = await c.wait_count(Gift, 1)
    assert (gift.user.id, gift.gift_name, gift.count, gift.price, gift.paid) == ("502", "gift 824", 3, 0.0, False)
    (enter,) = await c.wait_count(Enter, 1)
    assert (enter.user.id, enter.user.name, enter.kind) == ("503", "进来的", "enter")
    await c.close()
    assert c.states[-1] == "closed" and c.error is None


@pytest.mark.asyncio
async def test_heartbeats_repeat_and_are_mrkl_packets(server, http) -> None:
    c = Collector(make_adapter(server, http, heartbeat_seconds=0.2))
    client = await server.wait_joined(1)
    await server.wait_heartbeats(client, 3)
    assert client.packets[2:5] == [{"type": "mrkl"}] * 3
    assert client.heartbeats[2] - client.heartbeats[0] >= 0.3  # spaced, not a burst
    assert client.problem == ""  # every packet the adapter sent passed the server's byte checks
    await c.close()


@pytest.mark.asyncio
async def test_hostile_frames_are_dropped_and_the_next_line_arrives(server, http, caplog) -> None:
    adapter = make_adapter(server, http)
    c = Collector(adapter)
    await server.wait_joined(1)
    await c.wait_state("connected")
    caplog.set_level(logging.WARNING, "bot.adapters.douyu.adapter")
    huge = "长" * 60000
    hostile = [
        header(40, 41) + b"type@=chatmsg/\0" + b"x" * 20,  # mismatched length fields
        header(4000) + b"type@=chatmsg/txt@=lying length/\0",  # promises more than comes
        header(20, type_=1234) + b"type@=chatmsg/\0",  # wrong type
        raw_packet(b"type@=chatmsg/uid@=1/txt@=no terminator/"),  # no final NUL
        packet("type@=chatmsg/uid@=1/txt@=bad escape @X here/"),  # bad escape
        packet("type@=chatmsg/nn@=no uid/txt@=x/"),  # a chat without a uid
        packet("txt@=no type/"),  # no type at all
        packet("garbage without pairs"),
    ]
    for i, frame in enumerate(hostile):
        await server.send(frame, chatmsg(600 + i, "v", f"line {i}", rid=ROOM))
    await server.send(
        chatmsg(700, "<script>alert(1)</script>", "<b>html</b> & \x1b[31m", rid=ROOM),
        chatmsg(701, "big", huge, rid=ROOM),
        chatmsg(702, "v", "after all", rid=ROOM),
    )
    await c.wait_count(ChatMessage, len(hostile) + 3)
    assert chats(c) == [f"line {i}" for i in range(len(hostile))] + ["<b>html</b> & \x1b[31m", huge, "after all"]
    html = c.of(ChatMessage)[len(hostile)]
    assert html.user.name == "<script>alert(1)</script>"  # verbatim: escaping is the overlay's job
    assert adapter.dropped >= len(hostile)
    assert "dropped" in caplog.text
    assert c.states.count("connected") == 1  # none of it cost the connection
    await c.close()
    assert c.error is None


@pytest.mark.asyncio
async def test_text_messages_and_other_types_do_not_break_the_room(server, http, caplog) -> None:
    adapter = make_adapter(server, http)
    c = Collector(adapter)
    client = await server.wait_joined(1)
    caplog.set_level(logging.INFO, "bot.adapters.douyu.messages")
    await client.ws.send_str("type@=chatmsg/txt@=as text/")
    await server.send(*(packet({"type": "spbc", "gfid": 1}) for _ in range(3)), packet({"type": "rankup"}))
    await server.send(chatmsg(1, "v", "still here", rid=ROOM))
    await c.wait_count(ChatMessage, 1)
    assert chats(c) == ["still here"]
    assert adapter.other_types["spbc"] == 3 and adapter.other_types["rankup"] == 1
    assert caplog.text.count("'spbc'") == 1 and "'rankup'" not in caplog.text  # unknown once, quiet ones never
    await c.close()


@pytest.mark.asyncio
async def test_server_drop_reconnects_and_logs_in_again(server, http) -> None:
    c = Collector(make_adapter(server, http))
    await server.wait_joined(1)
    await server.send(*(chatmsg(i, "v", f"before {i}", rid=ROOM) for i in range(5)))
    await c.wait_count(ChatMessage, 5)
    await server.drop()
    client = await server.wait_joined(2)
    assert client.packets[:2] == [
        {"type": "loginreq", "roomid": str(ROOM)},
        {"type": "joingroup", "rid": str(ROOM), "gid": "-9999"},
    ]
    await server.send(*(chatmsg(i, "v", f"after {i}", rid=ROOM) for i in range(5)), client=client)
    await c.wait_count(ChatMessage, 10)
    assert chats(c) == [f"before {i}" for i in range(5)] + [f"after {i}" for i in range(5)]
    assert c.states.count("connected") == 2 and "reconnecting" in c.states
    await c.close()


@pytest.mark.asyncio
async def test_killed_server_comes_back(server, http) -> None:
    c = Collector(make_adapter(server, http))
    await server.wait_joined(1)
    await server.kill()
    await c.wait_state("reconnecting")
    await server.restart()
    client = await server.wait_joined(2, within=20)
    await server.send(chatmsg(1, "v", "back", rid=ROOM), client=client)
    await c.wait_count(ChatMessage, 1)
    await c.close()
    assert c.error is None


@pytest.mark.asyncio
async def test_a_stalled_server_is_detected_by_the_receive_timeout(server, http) -> None:
    adapter = make_adapter(server, http, heartbeat_seconds=0.2)
    adapter.receive_grace = 0.3
    c = Collector(adapter)
    await server.wait_joined(1)
    server.stall = True  # no more mrkl replies, nothing else either
    await c.wait_state("reconnecting", within=15)
    server.stall = False
    await server.wait_joined(2, within=20)
    await c.close()


@pytest.mark.asyncio
async def test_no_login_reply_times_out_and_retries(server, http) -> None:
    server.stall = True
    c = Collector(make_adapter(server, http, connect_timeout_seconds=0.3))
    await c.wait_state("reconnecting", within=15)
    assert any("no login reply" in st.detail for st in c.of(RoomStatus))
    server.stall = False
    await server.wait_joined(1, within=20)
    await c.wait_state("connected")
    await c.close()


@pytest.mark.asyncio
async def test_server_error_ends_the_connection_and_backoff_redials(server, http) -> None:
    server.login_error = "type@=error/code@=51/"
    c = Collector(make_adapter(server, http))
    await c.wait_state("reconnecting")
    await until(lambda: len(server.peers) >= 2, 10)  # redialled
    server.login_error = ""
    await server.wait_joined(1, within=20)
    await c.wait_state("connected")
    assert any("error code 51" in st.detail for st in c.of(RoomStatus))
    await c.close()


@pytest.mark.asyncio
async def test_room_api_gives_live_status_and_gift_names() -> None:
    gifts = [
        {"id": "824", "name": "荧光棒", "type": "1", "pc": "100"},
        {"id": "20000", "name": "飞机", "type": "2", "pc": "100"},
        {"id": "bad", "name": 5, "type": "2", "pc": "x"},
    ]
    async with DouyuLoopback(room_id=ROOM, live=True, gifts=gifts) as server, aiohttp.ClientSession() as http:
        c = Collector(make_adapter(server, http, room_api_base=server.api_base))
        await server.wait_joined(1)
        (status,) = await c.wait_count(LiveStatus, 1)
        assert status.status == "live" and server.api_calls == 1
        await server.send(dgb(1, "a", 824, count=10, rid=ROOM), dgb(2, "b", 20000, count=2, rid=ROOM))
        free, plane = await c.wait_count(Gift, 2)
        assert (free.gift_name, free.price, free.paid) == ("荧光棒", 0.0, False)
        assert (plane.gift_name, plane.count, plane.price, plane.paid) == ("飞机", 2, 200.0, True)
        # the websocket's own rss says the stream ended
        await server.send(packet({"type": "rss", "rid": ROOM, "ss": 0, "code": 0, "rt": 0, "notify": 0}))
        await c.wait_count(LiveStatus, 2)
        assert c.of(LiveStatus)[-1].status == "offline"
        await c.close()


@pytest.mark.asyncio
async def test_a_failing_room_api_does_not_stop_the_chat(http, caplog) -> None:
    async with DouyuLoopback(room_id=ROOM) as server:
        caplog.set_level(logging.WARNING)
        dead = f"http://127.0.0.1:{free_port()}"
        c = Collector(make_adapter(server, http, room_api_base=dead))
        await server.wait_joined(1)
        await server.send(chatmsg(1, "v", "hello", rid=ROOM))
        await c.wait_count(ChatMessage, 1)
        assert not c.of(LiveStatus) and "room API failed" in caplog.text
        await c.close()


@pytest.mark.asyncio
async def test_without_room_api_base_no_http_call_is_made(server, http) -> None:
    c = Collector(make_adapter(server, http))
    await server.wait_joined(1)
    await c.wait_state("connected")
    assert server.api_calls == 0
    await c.close()


@pytest.mark.asyncio
async def test_sending_is_refused_clearly(server, http) -> None:
    adapter = make_adapter(server, http)
    assert not adapter.can_send
    with pytest.raises(SendError, match="reads Douyu rooms only"):
        await adapter.send("你好")


def test_room_id_must_be_a_number(http) -> None:
    with pytest.raises(ValueError, match="number"):
        DouyuAdapter(RoomSettings(name="dy", platform="douyu", room_id="abc"), DouyuSettings(), http)


@pytest.mark.asyncio
async def test_a_refused_connection_is_retried_with_a_plain_reason(server, http) -> None:
    c = Collector(make_adapter(server, http, danmaku_url=f"ws://127.0.0.1:{free_port()}/"))
    await c.wait_state("reconnecting")
    (st,) = [s for s in c.of(RoomStatus) if s.state == "reconnecting"]
    assert "login reply" not in st.detail and st.detail
    await c.close()
    assert c.states[-1] == "closed" and c.error is None


@pytest.mark.asyncio
async def test_a_message_of_many_packets_arrives_whole_and_lets_the_loop_run(server, http) -> None:
    adapter = make_adapter(server, http)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    seen: list[tuple[str, int]] = []  # (text, ticks when it came)

    async def consume() -> None:
        async for ev in adapter.events():
            if isinstance(ev, ChatMessage):
                seen.append((ev.text, ticks))
                if len(seen) == 3000:
                    return

    tick_task = asyncio.create_task(ticker())
    consumer = asyncio.create_task(consume())
    await server.wait_joined(1)
    await server.send(*(chatmsg(i, "v", f"m{i}", rid=ROOM) for i in range(3000)))
    await asyncio.wait_for(consumer, 20)
    tick_task.cancel()
    await adapter.close()
    assert [t for t, _ in seen] == [f"m{i}" for i in range(3000)]
    # other tasks ran while the one message was being read, not only after it
    assert seen[-1][1] > seen[0][1]
