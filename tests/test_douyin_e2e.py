"""A Douyin room end to end against the stand-in, through real headless Chromium: the service audits
every viewer line once, answers an FAQ question, warns on the anchor's banned phrase; `livebot run`
stops within 10 s of SIGINT and leaves no browser behind; `livebot douyin-login` keeps the login in
the profile the rooms use."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.douyin import DouyinAdapter
from bot.config import load_config
from tests.loopback import douyin as standin
from tests.loopback.collect import Collector, until
from tests.loopback.douyin import DouyinLoopback
from tests.procs import alive, descendants, mentioning
from tests.support import DEMO_FAQ, ROOT, free_port, make_settings, running_service

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian chromium (apt-get install chromium)"),
]

ANCHOR = 2**63 + 77  # a 64-bit Douyin uid


def audit_lines(audit_dir: Path, room: str) -> list[dict[str, Any]]:
    path = audit_dir / room / f"{dt.date.today().isoformat()}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def of_type(audit_dir: Path, room: str, type_: str) -> list[dict[str, Any]]:
    return [r for r in audit_lines(audit_dir, room) if r["type"] == type_]


@pytest.mark.asyncio
async def test_douyin_room_end_to_end(tmp_path: Path) -> None:
    async with DouyinLoopback() as server:
        settings = make_settings(
            tmp_path,
            [
                {
                    "name": "dy",
                    "platform": "douyin",
                    "room_id": "7300001",
                    "faq": str(DEMO_FAQ),
                    "anchor_uid": str(ANCHOR),
                }
            ],
            platforms={"douyin": server.settings_table(reconnect_base_seconds=0.05, reconnect_cap_seconds=0.2)},
        )
        audit = Path(settings.audit.dir)
        async with running_service(settings):
            peer = await server.wait_ready(1, within=90)
            viewer_lines = [f"第{i}条弹幕" for i in range(20)]
            await server.send(
                standin.msg_frame(
                    [standin.chat(1000 + i, 2**62 + i, f"观众{i}", t) for i, t in enumerate(viewer_lines[:10])],
                    need_ack=True,
                    internal_ext="internal_src:dim|first_req_ms:1700000000000",
                    log_id=2**64 - 9,
                )
            )
            for frame in (standin.not_protobuf_frame(), standin.corrupt_gzip_frame(), standin.gzip_bomb_frame()):
                await server.send(frame)
            await server.send(
                standin.msg_frame(
                    [
                        standin.chat(2000, 501, "买家", "这个怎么退货"),
                        standin.gift(2001, 502, "送礼的", "小心心", diamonds=1, repeat=1, group_id=9),
                        standin.gift(2002, 502, "送礼的", "小心心", diamonds=1, repeat=5, group_id=9),
                        standin.chat(2003, ANCHOR, "主播", "这款是全网最低价"),
                    ]
                )
            )
            await server.send(standin.bad_payload_frame())
            await server.send(
                standin.msg_frame(
                    [standin.chat(3000 + i, 2**62 + i, f"观众{i}", t) for i, t in enumerate(viewer_lines[10:])]
                )
            )
            expected = [*viewer_lines[:10], "这个怎么退货", "这款是全网最低价", *viewer_lines[10:]]
            await until(lambda: len(of_type(audit, "dy", "chat")) >= len(expected), 30)
            await until(lambda: bool(of_type(audit, "dy", "faq_reply")) and bool(of_type(audit, "dy", "warning")), 30)
            await asyncio.sleep(0.5)  # nothing extra trickles in
            chats = of_type(audit, "dy", "chat")
            assert [c["text"] for c in chats] == expected  # every line once, in order, none lost to the junk
            assert all(c["platform"] == "douyin" and c["room"] == "dy" for c in chats)
            assert chats[0]["user"]["id"] == str(2**62) and chats[0]["msg_id"] == "1000"
            gifts = of_type(audit, "dy", "gift")
            assert [(g["gift_name"], g["count"]) for g in gifts] == [("小心心", 1), ("小心心", 4)]
            (reply,) = of_type(audit, "dy", "faq_reply")
            assert reply["text"] == "这个怎么退货" and reply["question"] == "怎么退货？"
            assert (reply["action"], reply["reason"]) == ("held", "sending_disabled")  # read-only: overlay card
            (warning,) = of_type(audit, "dy", "warning")
            assert warning["phrase"] == "全网最低价" and warning["user"]["id"] == str(ANCHOR)
            await until(lambda: len(peer.acks) == 1, 15)
            assert peer.acks == [(2**64 - 9, b"internal_src:dim|first_req_ms:1700000000000")]
            assert peer.bad_acks == 0


def write_config(tmp_path: Path, server: DouyinLoopback, rooms: int = 1) -> Path:
    lines = [
        "[server]",
        f"port = {free_port()}",
        f'state_dir = "{tmp_path / "state"}"',
        "[audit]",
        f'dir = "{tmp_path / "audit"}"',
        "[platforms.douyin]",
        f'live_base = "{server.base}"',
        "heartbeat_seconds = 1.0",
    ]
    for i in range(rooms):
        lines += ["[[rooms]]", f'name = "dy{i}"', 'platform = "douyin"', f'room_id = "88800{i}"']
    config = tmp_path / "livebot.toml"
    config.write_text("\n".join(lines) + "\n", "utf-8")
    return config


@pytest.mark.asyncio
async def test_livebot_run_stops_within_10_s_of_sigint_and_leaves_no_browser(tmp_path: Path) -> None:
    async with DouyinLoopback() as server:
        config = write_config(tmp_path, server, rooms=2)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(config),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        output = b""
        try:
            await server.wait_ready(2, within=120)
            for peer in server.ready_peers:
                await server.send(standin.msg_frame([standin.chat(1, 2, "甲", f"hi {peer.params['room_id']}")]), peer)
            audit = tmp_path / "audit"
            await until(lambda: all(of_type(audit, f"dy{i}", "chat") for i in range(2)), 30)
            chromium = [p for p in descendants(proc.pid) if p.is_chromium]
            assert len([p for p in chromium if p.is_browser]) == 1  # two rooms, one browser
            assert len([p for p in chromium if "--type=renderer" in p.command]) >= 2  # a page each
            chromium += mentioning(str(tmp_path / "state" / "douyin-profile"))  # the detached crash handler
            proc.send_signal(signal.SIGINT)
            started = time.monotonic()
            output, _ = await asyncio.wait_for(proc.communicate(), 10)
            assert time.monotonic() - started < 10
        finally:
            if proc.returncode is None:
                proc.kill()
                output += (await proc.communicate())[0]
        text = output.decode(errors="replace")
        assert proc.returncode == 0, text
        assert alive([p.pid for p in chromium]) == [], text
        assert "douyin: browser stopped" in text


@pytest.mark.asyncio
async def test_douyin_login_keeps_the_login_in_the_rooms_profile(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with DouyinLoopback() as server:
        config = write_config(tmp_path, server)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "douyin-login",
            "--config",
            str(config),
            "--headless",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        seen: list[str] = []
        try:
            assert proc.stdout is not None

            async def read_until_logged_in() -> None:
                while not any("Logged in." in line for line in seen):
                    line = await proc.stdout.readline()  # type: ignore[union-attr]
                    if not line:
                        raise AssertionError(f"douyin-login ended early: {seen}")
                    seen.append(line.decode(errors="replace"))

            await asyncio.wait_for(read_until_logged_in(), 90)
            assert server.home_loads >= 1
            browsers = [p for p in descendants(proc.pid) if p.is_browser]
            assert len(browsers) == 1
            proc.send_signal(signal.SIGINT)  # the user presses Ctrl-C (or closes the window)
            rest, _ = await asyncio.wait_for(proc.communicate(), 30)
            seen.append(rest.decode(errors="replace"))
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.communicate()
        assert proc.returncode == 0, seen
        assert "kept in" in "".join(seen)

        # a room started afterwards finds the login in the same profile and does not warn
        caplog.set_level(logging.WARNING, logger="bot.adapters.douyin")
        settings = load_config(config)
        ad = DouyinAdapter(settings.rooms[0], settings.platforms.douyin, settings.server.state_dir)
        collector = Collector(ad)
        try:
            assert alive([p.pid for p in browsers]) == []
            await server.wait_ready(1, within=90)
            await collector.wait(lambda evs: "connected" in collector.states, 30)
            assert ad.browser is not None and await ad.browser.logged_in(ad.url)
            assert not [r for r in caplog.records if "not logged in" in r.getMessage()]
        finally:
            await ad.close()
            await asyncio.wait_for(collector.task, 30)
