"""``livebot douyin-login``: log the bot account in once, by hand, in a visible browser window.

It opens ``live_base`` in the installed Chromium with the same persistent profile the Douyin rooms
use (``state_dir/douyin-profile``) and waits until the user closes the window; the login cookies
stay in the profile for every later ``livebot run``. livebot never sees the password: the user
logs in on Douyin's own page (QR code, SMS), as in any browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable

from bot.adapters.douyin.browser import BrowserError, find_browser, has_login, launch, profile_dir
from bot.config import DouyinSettings

#: how often the window's cookies are looked at to tell the user the login worked
POLL_SECONDS = 2.0


def has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


async def login(
    settings: DouyinSettings, state_dir: str, *, headless: bool = False, say: Callable[[str], None] = print
) -> int:
    """Run the login window until it is closed. 0 when the profile holds a login afterwards, 1 if not."""
    from playwright.async_api import async_playwright

    if not headless and not has_display():
        say(
            "livebot douyin-login: no desktop to open a window on (DISPLAY is not set). Run it on the machine's "
            "desktop (or with ssh -X), then copy the profile folder if livebot runs elsewhere."
        )
        return 2
    try:
        executable = find_browser(settings.browser_path)
    except BrowserError as exc:
        say(f"livebot douyin-login: {exc}")
        return 2
    profile = profile_dir(state_dir)
    async with async_playwright() as pw:
        try:
            context = await launch(pw, executable, profile, headless=headless)
        except BrowserError as exc:
            say(f"livebot douyin-login: {exc}")
            return 2
        closed = asyncio.Event()  # the user closed the window
        context.on("close", lambda _context: closed.set())
        stop = asyncio.Event()  # or pressed Ctrl-C: close the browser properly, so the login is saved
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        page = context.pages[0] if context.pages else await context.new_page()
        with contextlib.suppress(Exception):  # an unreachable page still leaves the window to use
            await page.goto(settings.live_base, timeout=settings.page_timeout_seconds * 1000)
        say(
            f"A browser window shows {settings.live_base}. Log the bot's Douyin account in there "
            f"(登录: QR code or SMS), then close the window or press Ctrl-C here. The login is kept in {profile}."
        )
        logged_in = False
        while not closed.is_set() and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(closed, stop), POLL_SECONDS)
            if closed.is_set():
                break
            now = await has_login(context, settings.live_base)
            if now and not logged_in:
                say("Logged in. Close the window (or press Ctrl-C here) when you are done.")
            logged_in = logged_in or now
        if not closed.is_set():
            await context.close()  # a clean browser shutdown writes the cookies to the profile
    if logged_in:
        say(f"Done: the Douyin login is kept in {profile}.")
        return 0
    say("The window was closed without a Douyin login; the rooms will read anonymously (see docs/platforms.md).")
    return 1


async def _first(*events: asyncio.Event) -> None:
    """Wait until one of ``events`` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
