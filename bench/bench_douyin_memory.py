"""Memory per Douyin room: N rooms in one process share one headless Chromium, a page each.

    python bench/bench_douyin_memory.py [--rooms 1 2 4 8] [--settle 8]

For each N: start N Douyin adapters against the loopback stand-in of the room page (tests/loopback/
douyin.py), wait until every page's push socket delivers, send each room some chat, let it settle,
then sum the memory of every Chromium process this process started: RSS (counts shared libraries once
per process, so it overstates) and PSS (shared pages split among the sharers: the fair total). The
browser is stopped between runs. Per room = the growth from the smallest N to each larger N.

The stand-in page is tiny; Douyin's real room page (its React app, player and SDK scripts) weighs
more, so treat these figures as the floor of what a real room costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.adapters.douyin import DouyinAdapter  # noqa: E402
from bot.config import parse_config  # noqa: E402
from tests.loopback import douyin as standin  # noqa: E402
from tests.loopback.collect import Collector  # noqa: E402
from tests.loopback.douyin import DouyinLoopback  # noqa: E402
from tests.procs import descendants, pss_kib  # noqa: E402


async def measure(rooms: int, settle: float, state_dir: str) -> tuple[int, int, int]:
    """(processes, RSS MiB, PSS MiB) of the browser serving ``rooms`` rooms."""
    async with DouyinLoopback() as server:
        settings = parse_config(
            {
                "server": {"state_dir": state_dir},
                "platforms": {"douyin": server.settings_table()},
                "rooms": [{"name": f"r{i}", "platform": "douyin", "room_id": str(100 + i)} for i in range(rooms)],
            }
        )
        adapters = [DouyinAdapter(r, settings.platforms.douyin, state_dir) for r in settings.rooms]
        collectors = [Collector(a) for a in adapters]
        try:
            await server.wait_ready(rooms, within=120)
            for i, peer in enumerate(server.ready_peers):
                lines = [standin.chat(j, 1000 + j, f"观众{j}", f"第{j}条 {i}") for j in range(50)]
                await server.send(standin.msg_frame(lines), peer)
            await asyncio.sleep(settle)
            chromium = [p for p in descendants(os.getpid()) if p.is_chromium]
            rss = sum(p.rss_kib for p in chromium) // 1024
            pss = sum(pss_kib(p.pid) for p in chromium) // 1024
            return len(chromium), rss, pss
        finally:
            for a in adapters:
                await a.close()
            for c in collectors:
                await asyncio.wait_for(c.task, 30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--settle", type=float, default=8.0, help="seconds to wait before measuring")
    args = parser.parse_args()
    print(f"# {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| rooms | Chromium processes | RSS sum MiB | PSS sum MiB | PSS per extra room MiB |")
    print("|---|---|---|---|---|")
    first: tuple[int, int] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.rooms):
            procs, rss, pss = await measure(n, args.settle, str(Path(tmp) / f"state{n}"))
            per = "" if first is None or n == first[0] else f"{(pss - first[1]) / (n - first[0]):.0f}"
            first = first or (n, pss)
            print(f"| {n} | {procs} | {rss} | {pss} | {per} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
