"""How livebot's tests, benchmarks and screenshot script start a browser: Debian's chromium,
driven by Playwright, never a downloaded build.

The flags keep headless Chromium from reaching out to Google's services (this machine has no
network beyond loopback) and let the overlay's warning chime play without a click, as OBS does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("LIVEBOT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


async def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium browser from an async Playwright instance."""
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
