"""The Douyin live room adapter: the room page runs in the shared Chromium, livebot reads its websocket.

One page's life: open ``{live_base}/{room_id}`` in a fresh page of the shared browser, watch the
page's websockets for the push socket (its URL contains ``push_url_contains``), and decode every
frame it receives, each on its own. The page signs the socket, heartbeats and acks by itself;
livebot only checks that frames come in and heartbeats go out. When either stops for
``heartbeat_seconds`` + 10 s (or the page fails to load, or the browser dies) the page is thrown
away and a new one is opened after ``Backoff``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from playwright.async_api import Error as PlaywrightError

from bot.adapters.base import Adapter, Backoff, LogOnce, SendError, describe
from bot.adapters.douyin.browser import BrowserError, SharedBrowser, find_browser, profile_dir
from bot.adapters.douyin.frames import ACK, DEFAULT_LIMITS, HEARTBEAT, FrameError, decode, push_frame
from bot.adapters.douyin.messages import MessageError, MessageMapper
from bot.config import DouyinSettings, RoomSettings
from bot.events import Event, User

log = logging.getLogger(__name__)

#: no frame (or no heartbeat from the page) for heartbeat_seconds + this long: reload the page
RELOAD_GRACE = 10.0
#: frames waiting to be decoded; past this the page is far ahead of us and frames are dropped (counted)
MAX_QUEUED = 10_000
#: internalExt values remembered while waiting for the page's ack
MAX_PENDING_ACKS = 256


class Stalled(Exception):
    """The page's push socket went quiet: no frames, or no heartbeats from the page."""


class DouyinAdapter(Adapter):
    platform = "douyin"

    def __init__(self, room: RoomSettings, settings: DouyinSettings, state_dir: str) -> None:
        super().__init__(room.name)
        if not room.room_id.isdigit():
            raise ValueError(f"a Douyin room_id is the number in the room's URL, not {room.room_id!r}")
        self.room_id = room.room_id
        self.settings = settings
        self.url = f"{settings.live_base.rstrip('/')}/{room.room_id}"
        self.profile = profile_dir(state_dir)
        self.limits = DEFAULT_LIMITS
        self.reload_grace = RELOAD_GRACE
        self._mapper = MessageMapper(room.name, anchor_uid=room.anchor_uid or None)
        self._backoff = Backoff(base=settings.reconnect_base_seconds, cap=settings.reconnect_cap_seconds)
        self._closed = False
        self._wake = asyncio.Event()
        self._queue: asyncio.Queue[tuple[str, Any]] | None = None
        self._page: Any = None
        self._drop_kinds = LogOnce()
        self._pending_acks: dict[str, int] = {}
        #: the shared browser, once a page was opened (tests and the memory bench look at it)
        self.browser: SharedBrowser | None = None
        #: pages opened (the first load and every reload), frames decoded, frames/messages dropped
        self.pages = 0
        self.connections = 0
        self.frames = 0
        self.dropped = 0
        #: what the page sent: heartbeats, acks matching a needAck response, acks matching none
        self.heartbeats = 0
        self.acks = 0
        self.unexpected_acks = 0

    # --- receiving -------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        while not self._closed:
            if self._last_state is None:
                st = self.status("connecting", self.url)
                if st:
                    yield st
            state, delay = "reconnecting", None
            try:
                async for ev in self._page_session():
                    yield ev
                reason = "the page closed"
            except BrowserError as exc:
                # no browser to run: nothing to retry quickly, say what to do and try again later
                state, reason, delay = "failed", str(exc), self.settings.reconnect_cap_seconds
            except (PlaywrightError, TimeoutError, Stalled, OSError) as exc:
                reason = describe(exc).splitlines()[0][:300]
            except Exception as exc:  # a bug of ours or a Playwright surprise: say so, and keep the room
                log.exception("room %s: the Douyin page session failed unexpectedly", self.room)
                reason = describe(exc).splitlines()[0][:300]
            if self._closed:
                break
            if state == "reconnecting":
                self._backoff.disconnected()
            st = self.status(state, reason)
            if st:
                yield st
            await self._sleep(self._backoff.delay() if delay is None else delay)
        st = self.status("closed")
        if st:
            yield st

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _page_session(self) -> AsyncIterator[Event]:
        """One page: load the room, then events until the push socket stalls (raises) or we close."""
        browser = self.browser = SharedBrowser.get(find_browser(self.settings.browser_path), self.profile)
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._queue = queue
        page = self._page = await browser.open_page(block_media=self.settings.block_media)
        try:
            page.on("websocket", lambda ws: self._watch_socket(ws, queue))
            # a crashed renderer or a dead browser: no need to wait for the silence to tell
            page.on("crash", lambda _page: queue.put_nowait(("gone", "the page crashed")))
            page.on("close", lambda _page: queue.put_nowait(("gone", "the page was closed")))
            self.pages += 1
            if self._closed:
                return
            # the socket may open before the page's pictures and scripts are all in: no need to wait for "load"
            await page.goto(self.url, timeout=self.settings.page_timeout_seconds * 1000, wait_until="domcontentloaded")
            if not await browser.logged_in(self.url) and browser.warn_login_once():
                log.warning(
                    "douyin: the browser profile %s is not logged in; Douyin stops pushing to anonymous pages "
                    "after a while. Run `livebot douyin-login --config ...` once and log the bot account in.",
                    self.profile,
                )
            async for ev in self._read(queue):
                yield ev
        finally:
            await self._release_page()

    async def _release_page(self) -> None:
        """Give the page back to the shared browser, once (from the session's end or from ``close()``,
        which must not rely on the pump still running this generator to its end)."""
        page, self._page = self._page, None
        if page is not None and self.browser is not None:
            await self.browser.close_page(page)

    def _watch_socket(self, ws: Any, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        if self.settings.push_url_contains not in ws.url:
            return  # the page's other sockets (analytics, the player) are none of our business
        log.debug("room %s: the page opened its push socket %s", self.room, ws.url[:200])

        def received(payload: str | bytes) -> None:
            if queue.qsize() >= MAX_QUEUED:
                self._drop("a frame", OverflowError(f"{MAX_QUEUED} frames waiting to be decoded"))
            else:
                queue.put_nowait(("received", payload))

        ws.on("framereceived", received)
        ws.on("framesent", lambda payload: queue.put_nowait(("sent", payload)))
        ws.on("close", lambda _ws: queue.put_nowait(("socket_closed", ws.url)))

    async def _read(self, queue: asyncio.Queue[tuple[str, Any]]) -> AsyncIterator[Event]:
        loop = asyncio.get_running_loop()
        stall_after = self.settings.heartbeat_seconds + self.reload_grace
        last_frame = last_beat = loop.time()
        connected = False
        while not self._closed:
            now = loop.time()
            if now - last_frame >= stall_after:
                raise Stalled(f"no frame on the page's push socket for {now - last_frame:.0f} s")
            if now - last_beat >= stall_after:
                raise Stalled(f"the page sent no heartbeat for {now - last_beat:.0f} s")
            try:
                kind, data = await asyncio.wait_for(queue.get(), stall_after - (now - min(last_frame, last_beat)))
            except TimeoutError:
                continue
            if kind == "received":
                last_frame = loop.time()
                if not connected:
                    connected = True
                    self.connections += 1
                    self._backoff.connected()
                    st = self.status("connected", self.url)
                    if st:
                        yield st
                for ev in self._decode(data):
                    yield ev
            elif kind == "sent":
                if self._sent(data):
                    last_beat = loop.time()
            elif kind == "socket_closed":
                log.info("room %s: the page's push socket closed; waiting for the page to reopen it", self.room)
            elif kind == "gone":
                raise Stalled(data)
            elif kind == "close":
                return

    def _decode(self, data: str | bytes) -> list[Event]:
        """The events of one received frame. Nothing in a frame can break the loop: any failure drops
        that frame (or, inside a good frame, that one message) with a count and a log line."""
        try:
            if not isinstance(data, bytes):
                raise FrameError(f"a text frame: {data[:40]!r}")
            decoded = decode(data, self.limits)
        except FrameError as exc:
            self._drop("a frame", exc)
            return []
        except Exception as exc:  # a decoder bug must not kill the room either
            self._drop("a frame", exc)
            return []
        self.frames += 1
        response = decoded.response
        if response is None:
            return []
        if response.needAck:
            self._pending_acks[response.internalExt] = decoded.frame.logId
            while len(self._pending_acks) > MAX_PENDING_ACKS:
                self._pending_acks.pop(next(iter(self._pending_acks)))
        events: list[Event] = []
        for message in response.messages:
            try:
                events.extend(self._mapper.map(message))
            except MessageError as exc:
                self._drop("a message", exc)
            except Exception as exc:
                self._drop(f"a {message.method[:64]} message", exc)
        return events

    def _sent(self, data: str | bytes) -> bool:
        """Note a frame the page sent; True for a heartbeat."""
        if not isinstance(data, bytes):
            return False
        try:
            frame = push_frame(data, self.limits)
        except FrameError:
            return False
        if frame.payloadType == HEARTBEAT:
            self.heartbeats += 1
            return True
        if frame.payloadType == ACK:
            ext = frame.payload.decode("utf-8", "replace")
            if self._pending_acks.pop(ext, None) is not None:
                self.acks += 1
            else:
                self.unexpected_acks += 1
        return False

    def _drop(self, what: str, exc: Exception) -> None:
        """Count a dropped frame or message; log each kind of failure once (and every 1000th drop).
        The kind is the error's type and what its message says before the first colon."""
        self.dropped += 1
        kind = f"{what}: {type(exc).__name__}: {str(exc).split(':', 1)[0][:80]}"
        if self._drop_kinds.first(kind) or self.dropped % 1000 == 0:
            log.warning("room %s: dropped %s: %s (%d dropped so far)", self.room, what, exc, self.dropped)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._queue is not None:
            self._queue.put_nowait(("close", None))
        await self._release_page()  # cuts a page load short; the last room's close stops the browser

    # --- sending ---------------------------------------------------------------------------------

    async def send(self, text: str, *, reply_to: User | None = None) -> None:
        raise SendError("livebot does not write into Douyin chat (read-only)")
