"""End to end: the livebot service joins rooms on the loopback platforms through the endpoints its
config names, audits what is said, and puts warnings for the anchor's banned phrases on the overlay."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import struct
from pathlib import Path
from typing import Any

import aiohttp
import brotli
import pytest

from tests.loopback.bilibili import BilibiliLoopback, brotli_frame, cmd_packet, danmu, pack, zlib_frame
from tests.loopback.collect import until
from tests.loopback.twitch import TwitchLoopback, privmsg
from tests.support import Running, make_settings, running_service

FAST_BILI = {"heartbeat_seconds": 0.5, "reconnect_base_seconds": 0.05, "reconnect_cap_seconds": 0.2}


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def audit_lines(run: Running, room: str) -> list[dict[str, Any]]:
    path = Path(run.settings.audit.dir) / room / f"{dt.date.today().isoformat()}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def audited(run: Running, room: str, type_: str) -> list[str]:
    return [r["text"] for r in audit_lines(run, room) if r["type"] == type_]


async def overlay_warning(http: aiohttp.ClientSession, run: Running, room: str, phrase: str) -> dict[str, Any]:
    """Open the room's overlay websocket and wait for a warning about ``phrase``."""
    token = run.settings.room(room).overlay_token  # type: ignore[union-attr]
    url = f"{run.base_url}/overlay/{room}/ws?token={token}&after=0"
    async with http.ws_connect(url) as ws:

        async def read() -> dict[str, Any]:
            async for msg in ws:
                data = json.loads(msg.data)
                if data.get("op") == "event" and data["event"]["type"] == "warning":
                    if data["event"]["phrase"] == phrase:
                        return data["event"]
            raise AssertionError("overlay websocket closed")

        return await asyncio.wait_for(read(), 10)


@pytest.mark.asyncio
async def test_bilibili_room_end_to_end(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    async with BilibiliLoopback() as server:
        captions = tmp_path / "captions.txt"
        captions.write_text("")
        settings = make_settings(
            tmp_path,
            [{"name": "bili", "platform": "bilibili", "room_id": str(server.short_id), "caption_file": str(captions)}],
            platforms={"bilibili": server.settings_table(**FAST_BILI)},
        )
        async with running_service(settings) as run:
            conn = await server.wait_authed(1)
            assert conn.auth["roomid"] == server.room_id and conn.auth["key"] in server.tokens  # type: ignore[index]
            assert server.calls["getDanmuInfo"] == 1 and server.bad_signatures == 0
            await server.send(
                brotli_frame(
                    [
                        danmu(501, "观众甲", "这个怎么退货"),
                        danmu(server.anchor_uid, "主播", "这款是全网最低价"),
                        danmu(502, "观众乙", "已下单"),
                    ]
                )
            )
            warning = await overlay_warning(http, run, "bili", "全网最低价")
            assert warning["scope"] == "chat" and warning["user"]["id"] == str(server.anchor_uid)
            assert "anchor" in warning["user"]["roles"]
            await asyncio.sleep(0.5)  # the source tails from the end: write after it has looked
            append(captions, "家人们今天的福利很多\n")
            await until(lambda: "家人们今天的福利很多" in audited(run, "bili", "speech"), 10)
            chats = audited(run, "bili", "chat")
            assert chats == ["这个怎么退货", "这款是全网最低价", "已下单"]
            warnings = [r for r in audit_lines(run, "bili") if r["type"] == "warning"]
            assert [w["phrase"] for w in warnings] == ["全网最低价"]
            first_chat = next(r for r in audit_lines(run, "bili") if r["type"] == "chat")
            assert first_chat["raw"]["cmd"].startswith("DANMU_MSG") and first_chat["platform"] == "bilibili"
            statuses = [r["state"] for r in audit_lines(run, "bili") if r["type"] == "room_status"]
            assert "connected" in statuses


@pytest.mark.asyncio
async def test_twitch_channel_end_to_end(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    async with TwitchLoopback() as server:
        settings = make_settings(
            tmp_path,
            [{"name": "tw", "platform": "twitch", "room_id": "qinghe"}],
            platforms={"twitch": {"irc_url": server.url, "reconnect_base_seconds": 0.05, "reconnect_cap_seconds": 0.2}},
        )
        async with running_service(settings) as run:
            client = await server.wait_joined(1)
            assert client.nick.startswith("justinfan") and client.lines[-1] == "JOIN #qinghe"
            await server.send(
                privmsg("qinghe", "viewer", "how do returns work?", user_id="7"),
                privmsg("qinghe", "qinghe", "这款是全网最低价", user_id="1", badges="broadcaster/1"),
            )
            warning = await overlay_warning(http, run, "tw", "全网最低价")
            assert warning["platform"] == "twitch" and "anchor" in warning["user"]["roles"]
            await until(lambda: len(audited(run, "tw", "chat")) == 2, 5)
            assert audited(run, "tw", "chat") == ["how do returns work?", "这款是全网最低价"]


@pytest.mark.asyncio
async def test_killed_bilibili_server_reconnects_without_lost_or_duplicated_audit_lines(tmp_path: Path) -> None:
    async with BilibiliLoopback() as server:
        settings = make_settings(
            tmp_path,
            [{"name": "bili", "platform": "bilibili", "room_id": str(server.room_id)}],
            platforms={"bilibili": server.settings_table(**FAST_BILI)},
        )
        async with running_service(settings) as run:
            await server.wait_authed(1)
            before = [f"before-{i}" for i in range(20)]
            for i in range(0, 20, 5):
                await server.send(brotli_frame([danmu(600 + j, f"v{j}", before[i + j]) for j in range(5)]))
            await until(lambda: audited(run, "bili", "chat") == before, 10)

            await server.kill()  # mid-stream: the websocket and the HTTP API both go away
            await until(lambda: run.service.runners["bili"].state == "reconnecting", 10)
            await asyncio.sleep(0.5)  # refused attempts while it is down
            await server.restart()
            conn = await server.wait_authed(2, within=20)

            after = [f"after-{i}" for i in range(30)]
            await server.send(brotli_frame([danmu(700 + i, "w", t) for i, t in enumerate(after[:10])]), conn)
            await server.send(zlib_frame([danmu(700 + i, "w", t) for i, t in enumerate(after[10:20])]), conn)
            await server.send(brotli_frame([danmu(700 + i, "w", t) for i, t in enumerate(after[20:])]), conn)
            await until(lambda: len(audited(run, "bili", "chat")) >= 50, 10)
            await asyncio.sleep(0.3)  # nothing extra trickles in
            assert audited(run, "bili", "chat") == before + after
            states = [r["state"] for r in audit_lines(run, "bili") if r["type"] == "room_status"]
            assert states.count("connected") == 2 and "reconnecting" in states


@pytest.mark.asyncio
async def test_hostile_frames_on_one_bilibili_connection_lose_no_viewer_line(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with BilibiliLoopback() as server:
        settings = make_settings(
            tmp_path,
            [{"name": "bili", "platform": "bilibili", "room_id": str(server.room_id)}],
            platforms={"bilibili": server.settings_table(**FAST_BILI)},
        )
        async with running_service(settings) as run:
            conn = await server.wait_authed(1)
            runner = run.service.runners["bili"]
            states: list[str] = []
            health_failures: list[str] = []
            checks = 0

            async def watch() -> None:
                # /healthz keeps answering while the hostile frames are decoded; a generous bound,
                # so a loaded machine does not fail it: this is about never stalling, not speed
                nonlocal checks
                while True:
                    states.append(runner.state)
                    try:
                        async with asyncio.timeout(3.0):
                            async with http.get(f"{run.base_url}/healthz") as resp:
                                await resp.json()
                                checks += 1
                    except (TimeoutError, aiohttp.ClientError) as exc:
                        health_failures.append(repr(exc))
                    await asyncio.sleep(0.05)

            watcher = asyncio.create_task(watch())
            lying_types = danmu(801, "骗子", "lying types")
            lying_types["info"][2][0] = "--1"  # the uid
            lying_types["info"][0][4] = "²"  # the timestamp
            lying_types["info"][4][0] = [[]]  # the level
            bomb = pack(5, brotli.compress(pack(5, b"") * 524_288), proto=3)  # 8 MiB of empty packets
            lying_length = struct.pack(">IHHII", 9_999, 16, 0, 5, 0) + b'{"cmd":"DANMU_MSG"}'
            viewers = []
            for i, hostile in enumerate((cmd_packet(lying_types), bomb, lying_length)):
                await server.send(hostile, conn)
                viewers.append(f"viewer line {i}")
                await server.send(cmd_packet(danmu(900 + i, f"观众{i}", viewers[-1])), conn)
            await until(lambda: set(viewers) <= set(audited(run, "bili", "chat")), 10)
            await asyncio.sleep(0.5)  # nothing extra trickles in, and /healthz is asked a few more times
            watcher.cancel()
            chats = audited(run, "bili", "chat")
            assert [c for c in chats if c.startswith("viewer line")] == viewers  # each once, in order
            assert "lying types" in chats  # a lying field is read as unknown, the line is kept
            assert conn.ws.closed is False and len(server.authed_conns) == 1  # the same connection
            assert "failed" not in states and checks > 0 and not health_failures
            room = run.service.status()["rooms"]["bili"]
            assert room["adapter_restarts"] == 0 and room["adapter_dropped"] == 2
