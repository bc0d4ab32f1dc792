"""The service end to end on loopback: ingest -> pipeline -> bus -> overlay websocket, health, tokens."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support import DEMO_FAQ, ROOT, Running, free_port, make_settings, running_service


def replay_room(tmp_path: Path, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    recording = tmp_path / "show.jsonl"
    recording.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines or []), "utf-8")
    return {"name": "r", "platform": "replay", "recording": str(recording), "faq": str(DEMO_FAQ)}


async def next_event(ws: aiohttp.ClientWebSocketResponse, type_: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), max(0.01, deadline - time.monotonic()))
        if msg["op"] == "event" and msg["event"]["type"] == type_:
            return msg["event"]


async def post_speech(run: Running, http: aiohttp.ClientSession, body: Any, token: str | None = None):  # type: ignore[no-untyped-def]
    token = token if token is not None else run.settings.room("r").ingest_token  # type: ignore[union-attr]
    return await http.post(
        f"{run.base_url}/api/rooms/r/speech", json=body, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.mark.asyncio
async def test_speech_ingest_puts_a_warning_on_the_overlay_feed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, [replay_room(tmp_path)])
    async with running_service(settings) as run, aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{run.base_url}/overlay/r/ws?token=overlay-r") as ws:
            hello = await ws.receive_json()
            assert hello["op"] == "hello" and hello["room"] == "r"
            resp = await post_speech(run, http, {"text": "这个价格绝对是全网最低价", "final": True, "segment": "7"})
            assert resp.status == 202
            warning = await next_event(ws, "warning")
            assert "最低价" in warning["matched"]
            assert warning["text"][warning["start"] : warning["end"]] == warning["matched"]
            assert warning["segment"] == "7"


@pytest.mark.asyncio
async def test_wrong_tokens_get_401_and_change_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, [replay_room(tmp_path)])
    async with running_service(settings) as run, aiohttp.ClientSession() as http:
        await asyncio.sleep(0.3)  # the replay room announces its (empty) show first
        before = run.service.bus.last_seq("r")
        resp = await post_speech(run, http, {"text": "全网最低价"}, token="wrong")
        assert resp.status == 401
        resp = await http.post(f"{run.base_url}/api/rooms/r/speech", json={"text": "全网最低价"})
        assert resp.status == 401
        await asyncio.sleep(0.2)
        assert run.service.bus.last_seq("r") == before
        for url in ("/overlay/r/warnings?token=nope", "/overlay/r/ws?token=nope", "/overlay/r/warnings"):
            resp = await http.get(run.base_url + url)
            assert resp.status == 401
            assert "overlay-r" not in await resp.text()
        assert (await http.get(f"{run.base_url}/overlay/nosuchroom/warnings?token=overlay-r")).status == 404


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"final": True}, "text must be a string"),
        ({"text": "x" * 5000}, "longer than"),
        ({"text": "x", "final": "yes"}, "final must be true or false"),
        ([1, 2], "JSON object"),
    ],
)
async def test_bad_speech_bodies_get_a_clear_400(tmp_path: Path, body: Any, error: str) -> None:
    settings = make_settings(tmp_path, [replay_room(tmp_path)])
    async with running_service(settings) as run, aiohttp.ClientSession() as http:
        resp = await post_speech(run, http, body)
        assert resp.status == 400
        assert error in (await resp.json())["error"]


@pytest.mark.asyncio
async def test_streaming_speech_websocket(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, [replay_room(tmp_path)])
    async with running_service(settings) as run, aiohttp.ClientSession() as http:
        feed = await http.ws_connect(f"{run.base_url}/overlay/r/ws?token=overlay-r&types=warning")
        await feed.receive_json()
        ingest = await http.ws_connect(
            f"{run.base_url}/api/rooms/r/speech/ws", headers={"Authorization": "Bearer ingest-r"}
        )
        await ingest.send_str(json.dumps({"text": "这个可以根", "final": False, "segment": "a"}))
        assert (await ingest.receive_json())["ok"]
        await ingest.send_str("not json {")
        assert (await ingest.receive_json())["ok"]  # plain text is a final segment
        await ingest.send_str(json.dumps({"text": "这个可以根治", "final": True, "segment": "a"}))
        assert (await ingest.receive_json())["ok"]
        warning = await next_event(feed, "warning")
        assert warning["matched"] == "根治"
        await ingest.close()
        await feed.close()


@pytest.mark.asyncio
async def test_overlay_reconnect_replays_what_it_missed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, [replay_room(tmp_path)])
    async with running_service(settings) as run, aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{run.base_url}/overlay/r/ws?token=overlay-r") as ws:
            last = (await ws.receive_json())["last_seq"]
        await post_speech(run, http, {"text": "我们是销量冠军"})
        await post_speech(run, http, {"text": "加我微信私下交易"})
        await asyncio.sleep(0.3)
        async with http.ws_connect(f"{run.base_url}/overlay/r/ws?token=overlay-r&after={last}&types=warning") as ws:
            assert (await ws.receive_json())["op"] == "hello"
            first = await next_event(ws, "warning")
            assert first["seq"] > last
            assert "销量冠军" in first["matched"]


@pytest.mark.asyncio
async def test_healthz_reports_rooms(tmp_path: Path) -> None:
    lines = [{"t": 0.0, "type": "live_status", "status": "live"}]
    settings = make_settings(tmp_path, [replay_room(tmp_path, lines)])
    async with running_service(settings) as run, aiohttp.ClientSession() as http:
        await asyncio.sleep(0.3)
        resp = await http.get(f"{run.base_url}/healthz")
        assert resp.status == 200
        body = await resp.json()
        assert body["ok"] is True
        assert body["rooms"]["r"]["platform"] == "replay"
        assert body["rooms"]["r"]["events"] >= 1


def test_livebot_run_with_the_example_config_serves_healthz(tmp_path: Path) -> None:
    port = free_port()
    text = (ROOT / "config.example.toml").read_text("utf-8")
    text = text.replace("port = 8765", f"port = {port}")
    text = text.replace('dir = "audit"', f'dir = "{tmp_path / "audit"}"')
    text = text.replace('state_dir = "var"', f'state_dir = "{tmp_path / "var"}"')
    text = text.replace('"bot/demo/', f'"{ROOT}/bot/demo/')
    config = tmp_path / "livebot.toml"
    config.write_text(text, "utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        import urllib.request

        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    body = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(0.3)
        assert body is not None, proc.stdout.read() if proc.poll() is not None else "no answer"  # type: ignore[union-attr]
        assert body["ok"] is True and "shop" in body["rooms"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}/overlay/shop/warnings?token=" in out
