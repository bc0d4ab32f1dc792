"""End-to-end overlay latency: speech segment POSTed to the ingest -> warning card in the DOM of real
headless Chromium, next to the round trip of a bare websocket echo on the same machine, same run.

    python bench/bench_overlay_latency.py [--n 200] [--echo 1000]

What is measured, per sample (one at a time, the previous card gone first):
- ingest -> DOM: a segment with a violation is POSTed to /api/rooms/R/speech of the real service
  (ingest, room queue, rules engine, bus, overlay websocket); a MutationObserver in the warnings
  page stamps performance.now() when the card's element is added. The page's clock is mapped onto
  ours with a timestamp handshake (the evaluate round trip with the smallest RTT wins; its half-RTT
  is the uncertainty printed below).
- ingest -> feed: the same warning as received by a plain Python websocket client of the overlay
  feed (server-side share of the total).
- bare echo RTT: an aiohttp websocket echo handler in the same process and event loop, driven by an
  aiohttp client, and by Chromium's WebSocket (page JS, performance.now()).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import ensure_tokens, parse_config  # noqa: E402
from tests.chromium import launch_chromium  # noqa: E402
from tests.loopback.common import free_port  # noqa: E402
from tests.support import running_service  # noqa: E402

VIOLATION = "这款面霜是全网最低价"

OBSERVE = """() => {
  window.__added = [];
  new MutationObserver((records) => {
    const t = performance.now();
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType !== 1 || !n.classList.contains("lb-warning")) continue;
      window.__added.push({ t, seq: Number(n.dataset.seq) });
    }
  }).observe(document.getElementById("warnings"), { childList: true });
}"""

BROWSER_ECHO = """async (n) => {
  const ws = new WebSocket(`ws://${location.host}/echo`);
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const back = new Promise((ok) => { ws.onmessage = ok; });
    ws.send(JSON.stringify({ op: "event", i, pad: "x".repeat(600) }));
    await back;
    out.push(performance.now() - t0);
  }
  ws.close();
  return out;
}"""


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def row(name: str, ms: list[float]) -> str:
    return (
        f"{name:<34} n={len(ms):<5} median {statistics.median(ms):7.2f} ms   p90 {pct(ms, 90):7.2f}   "
        f"p99 {pct(ms, 99):7.2f}   min {min(ms):6.2f}   max {max(ms):7.2f}"
    )


@contextlib.asynccontextmanager
async def service(state: Path) -> AsyncIterator[tuple[str, Any]]:
    """The real service on a loopback port, one replay room with an empty show; yields (base URL, room)."""
    recording = state / "empty.jsonl"
    recording.write_text("", "utf-8")
    data = {
        "server": {"host": "127.0.0.1", "port": free_port(), "state_dir": str(state / "state")},
        "audit": {"dir": str(state / "audit")},
        "rooms": [{"name": "bench", "platform": "replay", "recording": str(recording), "packs": ["builtin"]}],
    }
    settings, _ = ensure_tokens(parse_config(data, "<bench>"))
    async with running_service(settings) as run:
        yield run.base_url, settings.rooms[0]


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[str]:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
        return ws

    async def blank(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>echo</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/", blank)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def clock_offset(page: Any) -> tuple[float, float]:
    """(browser performance.now() ms - our perf_counter ms, half of the best round trip in ms)."""
    best: tuple[float, float] | None = None
    for _ in range(40):
        a = time.perf_counter() * 1000
        b = await page.evaluate("performance.now()")
        c = time.perf_counter() * 1000
        if best is None or c - a < best[1] * 2:
            best = (b - (a + c) / 2, (c - a) / 2)
    assert best is not None
    return best


async def python_echo(base: str, n: int) -> list[float]:
    payload = '{"op": "event", "pad": "' + "x" * 600 + '"}'
    out = []
    async with aiohttp.ClientSession() as http, http.ws_connect(base.replace("http", "ws") + "/echo") as ws:
        for _ in range(n):
            t0 = time.perf_counter()
            await ws.send_str(payload)
            await ws.receive()
            out.append((time.perf_counter() - t0) * 1000)
    return out


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="ingest -> DOM samples (default 200)")
    parser.add_argument("--echo", type=int, default=1000, help="echo round trips per client (default 1000)")
    args = parser.parse_args()

    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        async with service(Path(tmp)) as (base, room), echo_server() as echo_base, async_playwright() as pw:
            browser = await launch_chromium(pw)
            chromium = browser.version
            page = await browser.new_page(viewport={"width": 1920, "height": 1080})
            # short-lived cards, so every sample adds a new card instead of merging into the last one
            await page.goto(f"{base}/overlay/{room.name}/warnings?token={room.overlay_token}&sound=0&seconds=0.1")
            await page.wait_for_selector('html[data-feed="connected"]')
            await page.evaluate(OBSERVE)

            feed_times: dict[int, float] = {}
            async with aiohttp.ClientSession() as http:
                feed = await http.ws_connect(
                    f"{base.replace('http', 'ws')}/overlay/{room.name}/ws?token={room.overlay_token}&types=warning"
                )

                async def listen() -> None:
                    async for msg in feed:
                        data = msg.json()
                        if data.get("op") == "event":
                            feed_times[data["event"]["seq"]] = time.perf_counter()

                listener = asyncio.create_task(listen())
                headers = {"Authorization": f"Bearer {room.ingest_token}"}
                url = f"{base}/api/rooms/{room.name}/speech"

                # warm-up: first requests pay for connection set-up and lazy imports
                for i in range(5):
                    async with http.post(url, json={"text": VIOLATION, "segment": f"warm-{i}"}, headers=headers):
                        pass
                    await page.wait_for_function(f"() => window.__added.length >= {i + 1}")
                    await page.wait_for_function("() => !document.querySelector('.lb-warning:not([data-leaving])')")

                offset, uncertainty = await clock_offset(page)
                dom_ms: list[float] = []
                feed_ms: list[float] = []
                for i in range(args.n):
                    seen = await page.evaluate("window.__added.length")
                    t0 = time.perf_counter()
                    async with http.post(url, json={"text": VIOLATION, "segment": f"s{i}"}, headers=headers) as resp:
                        assert resp.status == 202
                    await page.wait_for_function(f"() => window.__added.length > {seen}", polling="raf")
                    added = await page.evaluate(f"window.__added[{seen}]")
                    dom_ms.append(added["t"] - offset - t0 * 1000)
                    if added["seq"] in feed_times:
                        feed_ms.append((feed_times[added["seq"]] - t0) * 1000)
                    await page.wait_for_function("() => !document.querySelector('.lb-warning:not([data-leaving])')")
                listener.cancel()
                await feed.close()

            echo_page = await browser.new_page()
            await echo_page.goto(echo_base + "/")
            browser_echo = await echo_page.evaluate(BROWSER_ECHO, max(100, args.echo // 5))
            py_echo = await python_echo(echo_base, args.echo)
            await browser.close()

    load = os.getloadavg()
    print(
        f"overlay latency: {platform.machine()}, {os.cpu_count()} CPUs, load avg {load[0]:.2f}, "
        f"Python {platform.python_version()}, Chromium {chromium} headless"
    )
    print(row("ingest POST -> warning in DOM", dom_ms))
    print(row("ingest POST -> overlay feed (py)", feed_ms))
    print(row("bare ws echo RTT, Chromium", browser_echo))
    print(row("bare ws echo RTT, aiohttp client", py_echo))
    print(f"(browser clock handshake uncertainty +/- {uncertainty:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
