"""The one Chromium that runs every Douyin room page of a process.

Douyin signs its websocket URL with its own obfuscated script, so livebot lets the real page do it:
Playwright drives the installed Chromium (never a downloaded one) with a persistent profile under
``state_dir``, where the bot account's login lives (``livebot douyin-login``). ``SharedBrowser`` is
that browser: the first room that asks launches it, each room gets a page of its own, and the last
room to let go closes it (so nothing is left behind when livebot stops). If the browser dies, the
next room that asks launches a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path
from typing import Any, ClassVar

log = logging.getLogger(__name__)

#: what ``browser_path = ""`` looks for on PATH, in this order
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: the profile folder under ``state_dir``
PROFILE_DIR = "douyin-profile"

BASE_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    # Cookies encrypted with a fixed key, not the desktop keyring: a login made in the desktop's window
    # (douyin-login) must still be readable by the headless browser of a livebot started as a service,
    # which has no keyring to ask. The profile folder is then as secret as a password.
    "--password-store=basic",
]
# Room pages are all background tabs of one headless browser: without these, Chromium throttles
# their timers (the page's heartbeat) to once a minute after a few minutes.
HEADLESS_ARGS = [
    "--disable-gpu",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-features=IntensiveWakeUpThrottling",
]
#: what a room page never needs to load: the video, pictures and fonts (the chat comes over the websocket)
BLOCKED_RESOURCES = frozenset({"media", "image", "font"})
BLOCKED_SUFFIXES = (".flv", ".m3u8", ".ts", ".mp4")


class BrowserError(Exception):
    """The browser cannot be found or started; the message says what to do."""


def profile_dir(state_dir: str) -> Path:
    return Path(state_dir) / PROFILE_DIR


def find_browser(configured: str) -> str:
    """The Chromium to run: ``[platforms.douyin] browser_path``, or the first of BROWSER_NAMES on PATH."""
    if configured:
        path = shutil.which(configured) or (configured if Path(configured).is_file() else None)
        if path is None:
            raise BrowserError(f"[platforms.douyin] browser_path {configured!r} is not an executable file")
        return path
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserError(
        f"no Chromium found on PATH (looked for {', '.join(BROWSER_NAMES)}): install one "
        "(Debian: apt-get install chromium) or set [platforms.douyin] browser_path"
    )


async def launch(playwright: Any, executable: str, profile: Path, *, headless: bool) -> Any:
    """A persistent Chromium context on ``profile`` (Playwright's BrowserContext)."""
    from playwright.async_api import Error as PlaywrightError

    await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
    try:
        return await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=headless,
            args=BASE_ARGS + (HEADLESS_ARGS if headless else []),
            viewport={"width": 1280, "height": 800},
            locale="zh-CN",
            # livebot stops the browser itself; a Ctrl-C in the terminal must not kill it mid-shutdown
            handle_sigint=False,
            handle_sigterm=False,
            handle_sighup=False,
        )
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BrowserError(
            f"cannot start {executable} with the profile {profile} ({first}); "
            "is another livebot or `livebot douyin-login` using that profile?"
        ) from None


#: the cookies a logged-in Douyin session has
LOGIN_COOKIES = frozenset({"sessionid", "sessionid_ss"})


async def has_login(context: Any, url: str) -> bool:
    """Whether a browser context holds a Douyin login (its ``sessionid`` cookie) for ``url``."""
    try:
        cookies = await context.cookies(url)
    except Exception:  # a context closing under us has no login to report
        return False
    return any(c.get("name") in LOGIN_COOKIES and c.get("value") for c in cookies)


async def _block_heavy(route: Any) -> None:
    request = route.request
    path = request.url.split("?", 1)[0].lower()
    if request.resource_type in BLOCKED_RESOURCES or path.endswith(BLOCKED_SUFFIXES):
        await route.abort()
    else:
        await route.fallback()


class SharedBrowser:
    """One persistent browser per (executable, profile, event loop), a page per room."""

    _shared: ClassVar[dict[tuple[str, str, int], SharedBrowser]] = {}

    def __init__(self, executable: str, profile: Path) -> None:
        self.executable = executable
        self.profile = profile
        self._lock = asyncio.Lock()
        self._pages = 0
        self._playwright: Any = None
        self._manager: Any = None
        self._context: Any = None
        #: browsers launched so far (a crashed browser is relaunched on the next page)
        self.launches = 0
        self._warned_login = False

    @classmethod
    def get(cls, executable: str, profile: Path) -> SharedBrowser:
        key = (executable, str(profile.resolve()), id(asyncio.get_running_loop()))
        shared = cls._shared.get(key)
        if shared is None:
            shared = cls._shared[key] = SharedBrowser(executable, profile)
        return shared

    async def _context_now(self) -> Any:
        async with self._lock:
            if self._context is None:
                from playwright.async_api import async_playwright

                if self._playwright is None:
                    self._manager = async_playwright()
                    self._playwright = await self._manager.start()
                self._context = await launch(self._playwright, self.executable, self.profile, headless=True)
                self._context.on("close", self._closed)
                self.launches += 1
                log.info("douyin: browser started (%s, profile %s)", self.executable, self.profile)
            return self._context

    def _closed(self, context: Any) -> None:
        if context is self._context:
            self._context = None
            if self._pages:
                log.warning("douyin: the browser went away; the rooms will start a new one")

    async def open_page(self, *, block_media: bool) -> Any:
        """A fresh page in the shared browser (launched if need be); give it back with ``close_page``."""
        self._pages += 1
        try:
            context = await self._context_now()
            page = await context.new_page()
            if block_media:
                await page.route("**/*", _block_heavy)
        except BaseException:
            await self._let_go()
            raise
        return page

    async def close_page(self, page: Any) -> None:
        """Close a page from ``open_page``; the browser stops with the last one."""
        with contextlib.suppress(Exception):
            await page.close()
        await self._let_go()

    async def _let_go(self) -> None:
        self._pages -= 1
        if self._pages == 0:
            await self._shutdown()

    async def logged_in(self, url: str) -> bool:
        """Whether the profile holds a Douyin login for ``url``."""
        return self._context is not None and await has_login(self._context, url)

    def warn_login_once(self) -> bool:
        """True the first time in this browser's life: the caller logs that the profile is not logged in."""
        first, self._warned_login = not self._warned_login, True
        return first

    async def _shutdown(self) -> None:
        async with self._lock:
            if self._pages:
                return  # a room asked for a page while we waited
            context, self._context = self._context, None
            manager, self._manager, self._playwright = self._manager, None, None
            if context is not None:
                with contextlib.suppress(Exception):
                    await context.close()
                log.info("douyin: browser stopped")
            if manager is not None:
                with contextlib.suppress(Exception):
                    await manager.__aexit__(None, None, None)
