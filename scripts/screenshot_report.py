#!/usr/bin/env python3
"""The post-stream report's screenshot for the docs (docs/screenshots/report.png), in headless Chromium.

    python scripts/screenshot_report.py                       # replays the demo show once (6.5 min at --speed 1)
    python scripts/screenshot_report.py --audit DIR --room demo --date 2026-05-01   # an existing audit log

At the default speed the show plays in real time, so the timeline has one bar per minute of it; a
faster replay squeezes the show into a minute or two. The page is opened from ``file://`` and the
top of it (figures, timeline, categories, rules) is captured.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


async def replay_demo(state: Path, speed: float) -> tuple[str, str, str]:
    """The demo show once through the real service; returns (audit dir, room, date)."""
    from bot.cli import demo_settings
    from bot.config import ensure_tokens
    from tests.loopback.common import free_port
    from tests.report_support import wait_for_show_end
    from tests.support import running_service

    args = argparse.Namespace(host="127.0.0.1", port=free_port(), state_dir=str(state), speed=speed, once=True)
    settings, _ = ensure_tokens(demo_settings(args))
    room = settings.rooms[0].name
    async with running_service(settings):
        await wait_for_show_end(settings, timeout=3600, room=room)
    day = sorted((Path(settings.audit.dir) / room).glob("*.jsonl"))[-1].stem
    return settings.audit.dir, room, day


async def capture(html: Path, out: Path, height: int) -> None:
    from playwright.async_api import async_playwright

    from tests.chromium import launch_chromium

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": height})
            await page.goto(html.as_uri())
            await page.screenshot(path=str(out))
        finally:
            await browser.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audit", help="an existing audit directory (default: replay the demo show)")
    parser.add_argument("--room", default="demo")
    parser.add_argument("--date", default=dt.date.today().isoformat())
    parser.add_argument("--speed", type=float, default=1.0, help="demo replay speed when replaying")
    parser.add_argument("--height", type=int, default=1500, help="pixels of the page's top to capture")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "report.png")
    args = parser.parse_args()

    from bot.cli import main as livebot

    with tempfile.TemporaryDirectory() as tmp:
        audit, room, day = args.audit, args.room, args.date
        if not audit:
            audit, room, day = await replay_demo(Path(tmp) / "state", args.speed)
        html = Path(tmp) / "report.html"
        if livebot(["report", "--audit", audit, "--room", room, "--date", day, "--out", str(html)]) != 0:
            return 1
        args.out.parent.mkdir(parents=True, exist_ok=True)
        await capture(html, args.out, args.height)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
