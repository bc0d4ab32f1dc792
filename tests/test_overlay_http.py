"""Overlay pages and console over HTTP: tokens, headers, escaping, the feed's hello."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import aiohttp
import pytest

from overlay.app import OVERLAY_PAGES
from tests.support import DEMO_FAQ, make_settings, running_service

pytestmark = pytest.mark.asyncio

PAGES = [f"/overlay/shop/{page}" for page in OVERLAY_PAGES] + ["/console/shop"]


def settings(tmp_path: Path):
    recording = tmp_path / "empty.jsonl"
    recording.write_text("", "utf-8")
    return make_settings(
        tmp_path,
        [{"name": "shop", "platform": "replay", "recording": str(recording), "faq": str(DEMO_FAQ)}],
        overlay={"sound": False, "warning_seconds": 7.5, "faq_seconds": 9.0},
    )


async def test_every_page_renders_with_its_config_and_safe_headers(tmp_path: Path) -> None:
    async with running_service(settings(tmp_path)) as running, aiohttp.ClientSession() as http:
        for path in PAGES:
            async with http.get(f"{running.base_url}{path}?token=overlay-shop") as resp:
                assert resp.status == 200, path
                html = await resp.text()
                csp = resp.headers["Content-Security-Policy"]
                assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
                assert resp.headers["Referrer-Policy"] == "no-referrer"
                assert resp.headers["Cache-Control"] == "no-store"
            raw = re.search(r'<script type="application/json" id="livebot-config">(.*?)</script>', html, re.S)
            assert raw is not None, path
            config = json.loads(raw.group(1))
            assert config["room"] == "shop" and config["token"] == "overlay-shop" and config["ws"] == "/overlay/shop/ws"
            assert config["sound"] is False and config["warning_seconds"] == 7.5 and config["faq_seconds"] == 9.0
            # every script and stylesheet is ours, versioned so OBS's cache never serves an old one
            for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
                assert "?v=" in src, src
                async with http.get(f"{running.base_url}{src}") as asset:
                    assert asset.status == 200, src


@pytest.mark.parametrize("token", ["", "wrong", "overlay-shop-but-longer", "OVERLAY-SHOP"])
async def test_a_wrong_token_gets_401_and_nothing_else(tmp_path: Path, token: str) -> None:
    async with running_service(settings(tmp_path)) as running, aiohttp.ClientSession() as http:
        for path in [*PAGES, "/overlay/shop/ws"]:
            async with http.get(f"{running.base_url}{path}?token={token}") as resp:
                assert resp.status == 401, path
                body = await resp.text()
                assert "overlay-shop" not in body and "livebot-config" not in body and "<script" not in body
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await http.ws_connect(f"{running.base_url}/overlay/shop/ws?token={token}&after=0")
        assert exc.value.status == 401


async def test_unknown_room_or_page_is_404(tmp_path: Path) -> None:
    async with running_service(settings(tmp_path)) as running, aiohttp.ClientSession() as http:
        for path in ["/overlay/nope/warnings", "/overlay/shop/admin", "/overlay/shop/base", "/console/nope"]:
            async with http.get(f"{running.base_url}{path}?token=overlay-shop") as resp:
                assert resp.status == 404, path


async def test_hello_carries_the_server_clock_and_replays_after_a_seq(tmp_path: Path) -> None:
    async with running_service(settings(tmp_path)) as running, aiohttp.ClientSession() as http:
        room = running.settings.rooms[0]
        for i in range(3):
            async with http.post(
                f"{running.base_url}/api/rooms/shop/speech",
                json={"text": f"第{i}句", "segment": f"s{i}"},
                headers={"Authorization": f"Bearer {room.ingest_token}"},
            ) as resp:
                assert resp.status == 202
        ws = await http.ws_connect(f"{running.base_url}/overlay/shop/ws?token=overlay-shop&after=0&types=speech")
        hello = await ws.receive_json(timeout=5)
        assert hello["op"] == "hello" and abs(hello["now"] - time.time()) < 5
        texts = []
        while len(texts) < 3:
            msg = await ws.receive_json(timeout=5)
            if msg["op"] == "event":
                texts.append(msg["event"]["text"])
        assert texts == ["第0句", "第1句", "第2句"]
        await ws.close()
