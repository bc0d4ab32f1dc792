"""The roles: `livebot run` (memory or Redis), their /healthz and /metrics, shared files, CLI errors."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.bus.redis_keys import Keys
from bot.bus.redis_link import RedisLink
from bot.cluster.roles import build_app
from bot.cluster.shared_files import SharedFiles
from tests.redis_support import RedisServer, needs_redis, redis_server  # noqa: F401 - fixture
from tests.support import DEMO_FAQ, DEMO_RECORDING, ROOT, free_port, make_settings


def test_worker_and_web_need_a_redis_url(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[[rooms]]\nname = "a"\nplatform = "replay"\nrecording = "{DEMO_RECORDING}"\n')
    for role in ("worker", "web"):
        proc = subprocess.run(
            [sys.executable, "-m", "bot", role, "--config", str(config)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().count("\n") == 0
        assert "redis.url: missing value" in proc.stderr


@pytest.mark.asyncio
async def test_run_in_memory_serves_metrics(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[server]\nport = {port}\nstate_dir = "{tmp_path}"\n[audit]\ndir = "{tmp_path / "audit"}"\n'
        f'[[rooms]]\nname = "a"\nplatform = "replay"\ningest_token = "t"\nrecording = "{empty_recording(tmp_path)}"\n'
    )
    proc = spawn([sys.executable, "-m", "bot", "run", "--config", str(config)])
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                try:
                    async with http.post(
                        f"http://127.0.0.1:{port}/api/rooms/a/speech",
                        json={"text": "这是全网最低价"},
                        headers={"Authorization": "Bearer t"},
                    ) as resp:
                        if resp.status == 202:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            for _ in range(50):
                async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    assert resp.status == 200
                    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                    text = await resp.text()
                if 'livebot_warnings_total{room="a"} 1.0' in text:
                    break
                await asyncio.sleep(0.1)
        assert 'livebot_node{role="run"} 1.0' in text
        assert "livebot_rooms_joined 1.0" in text
        assert 'livebot_messages_in_total{room="a"}' in text
        assert 'livebot_warnings_total{room="a"} 1.0' in text
        assert "livebot_bus_connected 1.0" in text and "livebot_bus_reconnects_total 0.0" in text
    finally:
        proc.terminate()
        proc.wait(15)


@pytest.mark.asyncio
@needs_redis[0]
@needs_redis[1]
async def test_run_with_redis_is_a_worker_and_a_web_node_in_one_process(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", aof=True)
    await asyncio.to_thread(server.start)
    settings = make_settings(
        tmp_path,
        [{"name": "a", "platform": "replay", "faq": str(DEMO_FAQ), "recording": empty_recording(tmp_path)}],
        redis={"url": server.url, "lease_seconds": 2.0},
    )
    app = build_app(settings, worker=True, web=True)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings.server.port)
    await site.start()
    base = f"http://127.0.0.1:{settings.server.port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                async with http.get(f"{base}/healthz") as resp:
                    health = await resp.json()
                if health["rooms"]["a"].get("worker"):
                    break
                await asyncio.sleep(0.1)
            assert resp.status == 200 and health["role"] == "run", health
            async with http.ws_connect(f"{base}/overlay/a/ws?token=overlay-a&after=0") as ws:
                async with http.post(
                    f"{base}/api/rooms/a/speech",
                    json={"text": "这款是全网最低价", "segment": "s1"},
                    headers={"Authorization": "Bearer ingest-a"},
                ) as resp:
                    assert resp.status == 202
                kinds: list[str] = []
                deadline = time.monotonic() + 10
                while "warning" not in kinds and time.monotonic() < deadline:
                    msg = json.loads((await ws.receive(timeout=10)).data)
                    if msg["op"] == "event":
                        kinds.append(msg["event"]["type"])
                assert "speech" in kinds and "warning" in kinds
            async with http.get(f"{base}/metrics") as resp:
                text = await resp.text()
            assert 'livebot_node{role="run"} 1.0' in text and "livebot_rooms_joined 1.0" in text
            assert 'livebot_ingest_accepted_total{room="a"} 1.0' in text
            assert 'livebot_bus_lag_seconds{kind="outbox",room="a"}' in text
            # Redis away: the node keeps serving and says so
            await asyncio.to_thread(server.stop)
            for _ in range(50):
                async with http.get(f"{base}/healthz") as resp:
                    status, health = resp.status, await resp.json()
                if status == 503:
                    break
                await asyncio.sleep(0.1)
            assert status == 503
            assert "unreachable" in health["bus"]["detail"]
            async with http.post(
                f"{base}/api/rooms/a/speech",
                json={"text": "还是全网最低价"},
                headers={"Authorization": "Bearer ingest-a"},
            ) as resp:
                assert resp.status == 503 and resp.headers["Retry-After"]
            async with http.get(f"{base}/metrics") as resp:
                assert "livebot_bus_connected 0.0" in await resp.text()
            await asyncio.to_thread(server.start)
            for _ in range(100):
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.1)
            assert resp.status == 200
    finally:
        await runner.cleanup()
        server.stop()


@pytest.mark.asyncio
@needs_redis[0]
@needs_redis[1]
async def test_shared_files_adopt_publish_and_follow(tmp_path: Path, redis_server: RedisServer) -> None:  # noqa: F811
    # two nodes, each with its own disk: the same FAQ path in the config, different copies
    disk_a, disk_b = tmp_path / "a", tmp_path / "b"
    for disk, answer in ((disk_a, "七天无理由退货"), (disk_b, "旧的答案")):
        disk.mkdir()
        (disk / "faq.toml").write_text(f'[[faq]]\nid = "r"\nquestion = "怎么退货"\nanswer = "{answer}"\n', "utf-8")
    old = time.time() - 3600
    os.utime(disk_b / "faq.toml", (old, old))  # b's copy is older

    def node(disk: Path) -> tuple[SharedFiles, RedisLink]:
        (disk / "c.toml").write_text("")
        settings = make_settings(disk, a_settings_rooms(disk))
        settings = dataclasses.replace(settings, source=str(disk / "c.toml"))
        link = RedisLink(redis_server.url)
        return SharedFiles(link, Keys("livebot"), settings, node=disk.name, interval=0.1), link

    a, link_a = node(disk_a)
    b, link_b = node(disk_b)
    await link_a.start()
    await link_b.start()
    try:
        room_a = a.mirrored_rooms(make_settings(disk_a, a_settings_rooms(disk_a)).rooms)[0]
        room_b = b.mirrored_rooms(make_settings(disk_b, a_settings_rooms(disk_b)).rooms)[0]
        await a.start()
        await b.start()
        # b's older copy did not replace a's: both run a's content
        assert "七天无理由退货" in text_of(room_a.faq)
        assert "七天无理由退货" in text_of(room_b.faq)
        assert "旧的答案" in text_of(str(disk_b / "faq.toml"))  # the original is untouched
        # an edit on b's disk is published and reaches a's mirror
        edit(disk_b / "faq.toml", '[[faq]]\nid = "r"\nquestion = "怎么退货"\nanswer = "新答案"\n')
        # the mirror file is written (in a thread) a moment before the node records its version
        for _ in range(200):
            if "新答案" in text_of(room_a.faq) and a.status() == b.status():
                break
            await asyncio.sleep(0.05)
        assert "新答案" in text_of(room_a.faq)
        assert a.status() == b.status() and next(iter(a.status().values())) == 2
    finally:
        await a.close()
        await b.close()
        await link_a.close()
        await link_b.close()


def a_settings_rooms(disk: Path) -> list[dict[str, str]]:
    return [{"name": "r", "platform": "replay", "faq": str(disk / "faq.toml"), "recording": empty_recording(disk)}]


def empty_recording(directory: Path) -> str:
    """A replay room with nothing to play: it only gets what is ingested."""
    path = directory / "empty.jsonl"
    path.write_text("")
    return str(path)


def spawn(args: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def edit(path: Path, text: str) -> None:
    path.write_text(text, "utf-8")


def text_of(path: str) -> str:
    return Path(path).read_text("utf-8")
