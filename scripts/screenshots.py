#!/usr/bin/env python3
"""Screenshots of every overlay page for the README (docs/screenshots/*.png), in headless Chromium.

    python scripts/screenshots.py                      # starts its own demo service (the demo show at 8x)
    python scripts/screenshots.py --url http://127.0.0.1:8765 --token TOKEN   # a running `livebot demo`

Each page is captured once it shows something worth seeing (two warning cards, an FAQ card, a full
chat, a console with highlighted violations and FAQ decisions). The OBS pages are transparent; the
screenshots put them over a flat backdrop so they can be read on a white README.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Stands in for the video under the OBS source; the page itself is transparent.
BACKDROP = "html { background: linear-gradient(135deg, #39424e 0%, #5b6776 55%, #7d8a96 100%) !important; }"

# page -> (path, JS condition that says the page shows something worth a screenshot, viewport, scale)
PAGES = {
    "warnings": (
        "/overlay/{room}/warnings?token={token}&sound=0",
        "document.querySelectorAll('.lb-warning:not(.leaving)').length >= 2",
        (1920, 1080),
        0.5,
    ),
    "faq": (
        "/overlay/{room}/faq?token={token}",
        "!!document.querySelector('.lb-faq:not(.leaving)')",
        (1920, 1080),
        0.5,
    ),
    "chat": (
        "/overlay/{room}/chat?token={token}",
        "document.querySelectorAll('.lines .line').length >= 12",
        (1920, 1080),
        0.5,
    ),
    "console": (
        "/console/{room}?token={token}",
        "document.querySelectorAll('.c-line mark.c-hit').length >= 4"
        " && document.querySelectorAll('.c-faq').length >= 4",
        (1440, 900),
        1,
    ),
}


@contextlib.asynccontextmanager
async def demo_service(speed: float) -> AsyncIterator[tuple[str, str, str]]:
    """The demo show through the real service, on a loopback port; yields (base URL, room, token)."""
    from bot.cli import demo_settings
    from bot.config import ensure_tokens
    from tests.loopback.common import free_port
    from tests.support import running_service

    with tempfile.TemporaryDirectory() as state:
        args = argparse.Namespace(host="127.0.0.1", port=free_port(), state_dir=state, speed=speed, once=False)
        settings, _ = ensure_tokens(demo_settings(args))
        async with running_service(settings) as run:
            room = settings.rooms[0]
            yield run.base_url, room.name, room.overlay_token


async def capture(base: str, room: str, token: str, out: Path, timeout: float, only: list[str]) -> None:
    from playwright.async_api import async_playwright

    from tests.chromium import launch_chromium

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)

        async def one(name: str) -> None:
            path, ready, (width, height), scale = PAGES[name]
            context = await browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
            page = await context.new_page()
            await page.goto(base + path.format(room=room, token=token))
            if name != "console":
                await page.add_style_tag(content=BACKDROP)
            await page.wait_for_function(f"() => {ready}", timeout=timeout * 1000, polling=200)
            await asyncio.sleep(0.4)  # let the entry animation finish
            target = out / f"{name}.png"
            await page.screenshot(path=str(target))
            print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
            await context.close()

        try:
            await asyncio.gather(*(one(name) for name in only))
        finally:
            await browser.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="base URL of a running livebot (default: start a demo service here)")
    parser.add_argument("--room", default="demo")
    parser.add_argument("--token", help="the room's overlay token (with --url)")
    parser.add_argument("--speed", type=float, default=8.0, help="demo replay speed when starting our own")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each page's content")
    parser.add_argument("pages", nargs="*", choices=[[], *PAGES], help="pages to capture (default: all)")
    args = parser.parse_args()
    only = args.pages or list(PAGES)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.url:
        if not args.token:
            parser.error("--url needs --token (the room's overlay token)")
        await capture(args.url.rstrip("/"), args.room, args.token, args.out, args.timeout, only)
    else:
        async with demo_service(args.speed) as (base, room, token):
            await capture(base, room, token, args.out, args.timeout, only)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
