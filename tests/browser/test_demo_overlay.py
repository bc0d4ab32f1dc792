"""The foundation's promise, end to end: `livebot demo` prints a warnings URL, and that page, open in
Chromium, shows the warnings as the recording speaks them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.browser.conftest import wait_connected
from tests.livebot_proc import interrupt, spawn_livebot
from tests.support import DEMO_RECORDING, free_port

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def until_healthy(url: str) -> None:
    """The URLs are printed once the server listens; this also proves the health URL answers."""
    async with aiohttp.ClientSession() as http, asyncio.timeout(30):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def demo(tmp_path: Path, port: int) -> AsyncIterator[dict[str, str]]:
    """Run `livebot demo --speed 20` and yield the URLs it printed, by what they are for."""
    proc = await spawn_livebot(
        "demo", "--speed", "20", "--port", str(port), "--state-dir", str(tmp_path / "demo-state")
    )
    assert proc.stdout is not None
    urls: dict[str, str] = {}
    printed: list[str] = []
    drain: asyncio.Task[bytes] | None = None
    try:
        async with asyncio.timeout(90):  # start-up: a loaded machine may take a while
            while "health" not in urls:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise AssertionError("livebot demo exited:\n" + "".join(printed))
                printed.append(line)
                match = re.search(r"(warnings|FAQ cards|chat|console \(second screen\)|health): (http://\S+)", line)
                if match:
                    urls[match.group(1).split(" ")[0]] = match.group(2)
        # keep reading its log so the pipe never fills and stalls it
        drain = asyncio.create_task(proc.stdout.read())
        await until_healthy(urls["health"])
        yield urls
    finally:
        await interrupt(proc, grace=10)
        if drain is not None:
            drain.cancel()


async def test_demo_warnings_url_shows_warnings_as_the_recording_speaks(tmp_path: Path, open_page) -> None:
    spoken = "".join(
        json.loads(line)["text"]
        for line in DEMO_RECORDING.read_text("utf-8").splitlines()
        if line.strip() and json.loads(line).get("type") in ("speech", "chat")
    )
    async with demo(tmp_path, free_port()) as urls:
        assert "/overlay/demo/warnings?token=" in urls["warnings"]
        w = await open_page(urls["warnings"])
        await wait_connected(w.page)
        # at 20x speed the first labelled violations come within a few seconds of the start
        card = await w.page.wait_for_selector(".lb-warning", timeout=30_000)
        said = await card.eval_on_selector(".phrase", "n => n.textContent")
        assert said and said in spoken  # the phrase as the anchor said it
        assert (await card.eval_on_selector(".suggestion", "n => n.textContent")).strip()

        # the console it printed shows the same show: transcript lines with the violation marked
        console = await open_page(urls["console"])
        await console.page.wait_for_selector(".c-line mark.c-hit", timeout=30_000)
        assert not w.errors and not console.errors
