"""Start-up as a newcomer meets it: the printed URLs work the moment they are printed, the admin
URL and token are among them, and two workers started alike on one machine both run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from pathlib import Path

import aiohttp
import pytest

from bot.bus.redis_link import RedisLink
from tests.livebot_proc import livebot, read_until
from tests.redis_support import RedisServer, needs_redis
from tests.support import free_port


@pytest.mark.asyncio
async def test_demo_urls_answer_the_moment_they_are_printed(tmp_path: Path) -> None:
    port = free_port()
    async with livebot("demo", "--port", str(port), "--state-dir", str(tmp_path), "--speed", "5") as proc:
        admin, lines = await read_until(proc, r"admin \(FAQ editor\): (http://\S+)")
        [warnings] = [m.group(1) for line in lines if (m := re.search(r"warnings: (http://\S+)", line))]
        async with aiohttp.ClientSession() as http:
            # no retry: printed means listening (before, the URLs came seconds before the server)
            async with http.get(warnings) as resp:
                assert resp.status == 200
            async with http.get(admin.group(1)) as resp:
                assert resp.status == 200  # the printed admin token is the one the server wants
        tokens = json.loads((tmp_path / "tokens.json").read_text("utf-8"))
        assert admin.group(1).endswith(f"token={tokens['server.admin_token']}")


@pytest.mark.asyncio
async def test_run_says_where_it_cannot_listen(tmp_path: Path) -> None:
    recording = tmp_path / "show.jsonl"
    recording.write_text("", "utf-8")
    with contextlib.closing(__import__("socket").socket()) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = tmp_path / "c.toml"
        config.write_text(
            f'[server]\nport = {port}\nstate_dir = "{tmp_path}"\n'
            f'[[rooms]]\nname = "a"\nplatform = "replay"\nrecording = "{recording}"\n',
            "utf-8",
        )
        async with livebot("run", "--config", str(config)) as proc:
            out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    assert proc.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in out and "Traceback" not in out


@pytest.mark.asyncio
@needs_redis[0]
@needs_redis[1]
async def test_two_workers_with_one_config_both_run_and_a_killed_ones_rooms_move(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", aof=False)
    await asyncio.to_thread(server.start)
    recording = tmp_path / "show.jsonl"
    recording.write_text("", "utf-8")
    rooms = "".join(f'[[rooms]]\nname = "r{i}"\nplatform = "replay"\nrecording = "{recording}"\n' for i in range(4))
    config = tmp_path / "c.toml"
    # the same file, no --port: the second worker finds worker_port taken and moves to a free one
    config.write_text(
        f'[server]\nstate_dir = "{tmp_path}"\n[audit]\ndir = "{tmp_path / "audit"}"\n'
        f'[redis]\nurl = "{server.url}"\nlease_seconds = 6.0\nworker_port = {free_port()}\n{rooms}',
        "utf-8",
    )
    try:
        async with livebot("worker", "--config", str(config)) as one, livebot("worker", "--config", str(config)) as two:
            ports = []
            for proc in (one, two):
                found, _ = await read_until(proc, r"health: http://127\.0\.0\.1:(\d+)/healthz")
                ports.append(int(found.group(1)))
            assert ports[0] != ports[1]

            async with aiohttp.ClientSession() as http:

                async def held(port: int) -> list[str]:
                    async with http.get(f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(5)) as resp:
                        return list((await resp.json())["cluster"]["rooms"])

                async def wait_until(check, within: float) -> float:  # type: ignore[no-untyped-def]
                    started = time.monotonic()
                    while not await check():
                        assert time.monotonic() - started < within, "not reached in time"
                        await asyncio.sleep(0.1)
                    return time.monotonic() - started

                async def spread() -> bool:
                    a, b = await held(ports[0]), await held(ports[1])
                    return len(a) == 2 and len(b) == 2

                await wait_until(spread, 60)
                one.kill()  # kill -9: nothing handed back
                await one.wait()

                async def all_on_two() -> bool:
                    return len(await held(ports[1])) == 4

                took = await wait_until(all_on_two, 30)
                assert took <= 15, f"the rooms took {took:.1f} s to move"
    finally:
        await asyncio.to_thread(server.stop)


@pytest.mark.asyncio
@needs_redis[0]
@needs_redis[1]
async def test_a_worker_stopped_during_start_up_never_heartbeats(tmp_path: Path) -> None:
    import threading

    from bot.cluster.worker import Worker
    from tests.support import make_settings

    server = RedisServer(tmp_path / "redis", aof=False)
    await asyncio.to_thread(server.start)
    recording = tmp_path / "show.jsonl"
    recording.write_text("", "utf-8")
    settings = make_settings(
        tmp_path, [{"name": "a", "platform": "replay", "recording": str(recording)}], redis={"url": server.url}
    )
    worker = Worker(settings)
    loading, release = threading.Event(), threading.Event()

    def slow_preload(rooms: object) -> None:  # the rule packs take a while to load
        loading.set()
        release.wait(10)

    worker._preload = slow_preload  # type: ignore[method-assign]
    close = worker.leases.close

    async def close_then_finish_loading() -> None:
        await close()
        release.set()  # the start-up would now go on to start the heartbeat, were it not cancelled
        await asyncio.sleep(0.5)

    worker.leases.close = close_then_finish_loading  # type: ignore[method-assign]
    try:
        await worker.start()
        assert await asyncio.to_thread(loading.wait, 10)
        await worker.stop()  # e.g. the server could not start, or SIGTERM during start-up
        await asyncio.sleep(1.0)
        assert worker.leases._task is None and not worker.ready
        probe = RedisLink(server.url)
        await probe.start()
        assert await probe.client.zcard(worker.keys.workers) == 0  # never announced itself alive
        await probe.close()
    finally:
        release.set()
        await asyncio.to_thread(server.stop)
