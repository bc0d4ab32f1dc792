"""End to end: the livebot service joins a Douyu room on the loopback server through the URL its
config names, audits every viewer line exactly once, audits gifts, answers an FAQ question, puts
the anchor's banned phrase on the overlay, and survives hostile frames and a dropped connection."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.loopback.collect import until
from tests.loopback.douyu import DouyuLoopback, chatmsg, dgb, header, raw_packet, uenter
from tests.support import DEMO_FAQ, Running, make_settings, running_service

ROOM = 5720533


def audit_lines(run: Running, room: str) -> list[dict[str, Any]]:
    path = Path(run.settings.audit.dir) / room / f"{dt.date.today().isoformat()}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def audited(run: Running, room: str, type_: str) -> list[dict[str, Any]]:
    return [r for r in audit_lines(run, room) if r["type"] == type_]


async def overlay_event(http: aiohttp.ClientSession, run: Running, room: str, type_: str) -> dict[str, Any]:
    token = run.settings.room(room).overlay_token  # type: ignore[union-attr]
    async with http.ws_connect(f"{run.base_url}/overlay/{room}/ws?token={token}&after=0") as ws:

        async def read() -> dict[str, Any]:
            async for msg in ws:
                data = json.loads(msg.data)
                if data.get("op") == "event" and data["event"]["type"] == type_:
                    return data["event"]
            raise AssertionError("overlay websocket closed")

        return await asyncio.wait_for(read(), 15)


@pytest.mark.asyncio
async def test_douyu_room_end_to_end(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    gifts = [{"id": "20000", "name": "飞机", "type": "2", "pc": "100"}]
    async with DouyuLoopback(room_id=ROOM, gifts=gifts) as server:
        settings = make_settings(
            tmp_path,
            [{"name": "dy", "platform": "douyu", "room_id": str(ROOM), "faq": str(DEMO_FAQ), "anchor_uid": "8800"}],
            platforms={"douyu": server.settings_table(heartbeat_seconds=0.3, room_api_base=server.api_base)},
        )
        async with running_service(settings) as run:
            client = await server.wait_joined(1)
            assert client.packets[:2] == [
                {"type": "loginreq", "roomid": str(ROOM)},
                {"type": "joingroup", "rid": str(ROOM), "gid": "-9999"},
            ]
            await server.wait_heartbeats(client, 2)

            viewer = ["请问这个怎么退货呀", "<img src=x onerror=alert(1)>好看", "已下单"]
            await server.send(
                chatmsg(501, "观众甲", viewer[0], rid=ROOM),
                header(30, 31) + b"type@=chatmsg/\0" * 3,  # lying lengths in the middle of a message
                chatmsg(502, "<b>观众乙</b>", viewer[1], rid=ROOM),
                dgb(503, "土豪", 20000, count=2, rid=ROOM),
                uenter(504, "路人", rid=ROOM),
            )
            await server.send(raw_packet(b"type@=chatmsg/uid@=1/txt@=no NUL/"), chatmsg(505, "观众丙", viewer[2]))
            await server.send(chatmsg(8800, "主播", "这款是全网最低价", rid=ROOM))

            warning = await overlay_event(http, run, "dy", "warning")
            assert warning["phrase"] == "全网最低价" and warning["scope"] == "chat"
            assert "anchor" in warning["user"]["roles"] and warning["platform"] == "douyu"
            faq = await overlay_event(http, run, "dy", "faq_reply")
            assert faq["faq_id"] and faq["text"] == viewer[0]
            assert faq["action"] == "held"  # Douyu is read-only: the card shows, no chat line is sent

            await until(lambda: len(audited(run, "dy", "chat")) == 4, 10)
            await server.drop()  # the server cuts the connection mid-stream
            client2 = await server.wait_joined(2, within=20)
            assert client2.packets[0] == {"type": "loginreq", "roomid": str(ROOM)}
            later = [f"重连后第{i}条" for i in range(10)]
            await server.send(*(chatmsg(600 + i, "v", t, rid=ROOM) for i, t in enumerate(later)), client=client2)
            await until(lambda: len(audited(run, "dy", "chat")) == 14, 10)
            await asyncio.sleep(0.3)  # nothing extra trickles in

            chats = audited(run, "dy", "chat")
            assert [c["text"] for c in chats] == [*viewer, "这款是全网最低价", *later]
            assert all(c["room"] == "dy" and c["platform"] == "douyu" for c in chats)
            assert chats[1]["user"]["name"] == "<b>观众乙</b>" and chats[0]["raw"]["type"] == "chatmsg"
            (gift,) = audited(run, "dy", "gift")
            assert (gift["gift_name"], gift["count"], gift["price"], gift["user"]["id"]) == ("飞机", 2, 200.0, "503")
            assert [f["text"] for f in audited(run, "dy", "faq_reply")] == [viewer[0]]
            assert [w["phrase"] for w in audited(run, "dy", "warning")] == ["全网最低价"]
            assert [s["status"] for s in audited(run, "dy", "live_status")] == ["live"]
            states = [r["state"] for r in audited(run, "dy", "room_status")]
            assert states.count("connected") == 2 and "reconnecting" in states
            assert all(not p.problem for p in server.peers)  # the adapter never sent a malformed packet
