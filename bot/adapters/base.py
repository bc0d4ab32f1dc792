"""The Adapter contract: one platform's protocol for one room.

An adapter connects to a room, yields Events, sends chat lines and closes. It owns heartbeats,
decompression, reconnects and re-authentication, and knows nothing of rules, FAQs or overlays.

``events()`` runs until ``close()``: it reconnects by itself (``Backoff``) and yields a
``RoomStatus`` event at every change of connection state, so the pipeline and the console see
the same story the log tells.

``WebsocketAdapter`` is that story for the live platforms, told once: the redial loop, the
handshake deadline and silence timeout, the keepalive task, drop logging and the send guards.
A platform module adds only its protocol.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl

from bot.events import Event, RoomStatus, User
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)


#: what ``ascii_int`` reads: ASCII digits with at most one leading minus
_INT_TEXT = re.compile(r"-?[0-9]+")


def ascii_int(text: object, *, max_digits: int = 18) -> int | None:
    """``text`` as an int when it is plainly one (ASCII digits, one optional leading minus, at most
    ``max_digits`` digits), else None. Not ``str.isdigit()``: it accepts "²" and "١", which int()
    refuses, and a check on ``lstrip("-")`` lets "--1" through to the same ValueError."""
    if not isinstance(text, str) or len(text) > max_digits + 1 or not _INT_TEXT.fullmatch(text):
        return None
    return int(text)


class SendError(Exception):
    """The platform refused a chat line. ``retry_after`` (seconds) is set when it asked us to slow down."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ProtocolError(Exception):
    """A frame or response that breaks the platform's protocol; the connection is dropped and redialled."""


@dataclass
class Backoff:
    """Exponential backoff with full jitter and a cap, reset after a healthy period.

    ``delay()`` returns a random wait in ``[0, min(cap, base * 2**failures)]`` (AWS's "full jitter"),
    which spreads many rooms reconnecting after one outage.
    """

    base: float = 1.0
    cap: float = 30.0
    healthy_after: float = 60.0
    failures: int = 0
    _connected_at: float | None = None
    rng: random.Random | None = None

    def connected(self) -> None:
        self._connected_at = time.monotonic()

    def disconnected(self) -> None:
        # A connection that stayed up for a healthy period starts the count afresh.
        if self._connected_at is not None and time.monotonic() - self._connected_at >= self.healthy_after:
            self.failures = 0
        self._connected_at = None

    def reset(self) -> None:
        self.failures = 0

    def delay(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.failures))
        self.failures += 1
        return (self.rng or random).uniform(0, ceiling)


class Adapter(abc.ABC):
    """One room on one platform."""

    platform: str = ""
    #: longest chat line the platform accepts from this account, in code points
    max_message_length: int = 20

    def __init__(self, room: str) -> None:
        self.room = room
        self._last_state: str | None = None
        #: the bot's own account, once known (never answered, never checked as anchor text)
        self.self_user_id: str | None = None

    @abc.abstractmethod
    def events(self) -> AsyncIterator[Event]:
        """Yield the room's events until ``close()``, reconnecting as needed."""

    @abc.abstractmethod
    async def send(self, text: str, *, reply_to: User | None = None) -> None:
        """Send one chat line; raise SendError when the platform refuses it."""

    @property
    def can_send(self) -> bool:
        """Whether this adapter has what it needs to send (a login, a token)."""
        return False

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop ``events()`` and release the connection."""

    def forget_status(self) -> None:
        """Forget the last state told, so the next one is told even if it is the same (after a
        restart by the supervisor, which told its own state in between)."""
        self._last_state = None

    def status(self, state: str, detail: str = "") -> RoomStatus | None:
        """A RoomStatus event for a new state, logged once; None when the state did not change."""
        if state == self._last_state:
            return None
        self._last_state = state
        log.info("room %s (%s): %s%s", self.room, self.platform, state, f" ({detail})" if detail else "")
        return RoomStatus(room=self.room, platform=self.platform, state=state, detail=detail)


# --- live platforms: one websocket at a time, redialled until close() -----------------------------

#: what a refused, broken or silent connection raises; ``WebsocketAdapter.events()`` redials after any of them
CONNECTION_ERRORS = (aiohttp.ClientError, TimeoutError, OSError, ProtocolError)
#: a frame that took longer than this to decode yields the event loop before the next one is read
HEAVY_FRAME_SECONDS = 0.002
#: distinct kinds of dropped input remembered for the once-per-kind log line and the counts
MAX_DROP_KINDS = 100


def describe(exc: BaseException) -> str:
    """``Type: message`` for a status detail, or the bare type when there is no message (``TimeoutError()``)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class LogOnce:
    """Which keys were already logged. Remembers at most ``limit`` of them, so a hostile stream of
    new names can neither grow it without bound nor flood the log."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def first(self, key: str) -> bool:
        """True the first time ``key`` comes (while there is room to remember it): log it now."""
        if key in self._seen or len(self._seen) >= self.limit:
            return False
        self._seen.add(key)
        return True


class CpuBudget:
    """How much of the event loop one room's decoding may take: ``share`` of every ``window`` seconds.

    A room over its budget stops reading until the window ends: its frames wait in the socket
    (nothing is dropped, the room only lags) while every other room and ``/healthz`` go on.
    Between heavy frames the loop is yielded to at once, so one burst cannot hold it either.
    """

    def __init__(self, share: float = 0.25, window: float = 1.0) -> None:
        self.share = share
        self.window = window
        self._start = time.monotonic()
        self._used = 0.0
        #: times this room was paused for using up its budget
        self.throttled = 0

    async def spend(self, seconds: float) -> None:
        """Charge ``seconds`` of work just done; pause when the window's budget is used up."""
        now = time.monotonic()
        if now - self._start >= self.window:
            self._start, self._used = now, 0.0
        self._used += seconds
        if self._used > self.share * self.window:
            self.throttled += 1
            await asyncio.sleep(max(0.0, self._start + self.window - now))
            self._start, self._used = time.monotonic(), 0.0
        elif seconds > HEAVY_FRAME_SECONDS:
            await asyncio.sleep(0)


@dataclass(frozen=True)
class Redial:
    """How ``WebsocketAdapter.events()`` goes on after a connection ended."""

    #: why it ended, for the debug log and (by default) the status detail
    reason: str
    #: the RoomStatus detail; empty: the reason
    detail: str = ""
    #: ``reconnecting`` after a connection ended; ``failed`` when the platform refused us (a bad
    #: login): nothing dropped, so no backoff bookkeeping, just the status and ``delay``
    state: str = "reconnecting"
    #: seconds to wait before dialling again; None: the backoff's next delay
    delay: float | None = None


class WebsocketAdapter(Adapter):
    """A room read over one websocket at a time, redialled with ``Backoff`` until ``close()``.

    A platform says where to dial (``_target``), what one connection yields (``_connection``, built
    from ``_dial``, ``_receive``, ``_connected``, ``_drop`` and ``_hang_up``), how to go on when one
    ends (``_ended``) and how to put a checked line on the wire (``_send_line``).
    """

    #: what ``send()`` says while ``can_send`` is False (name the config keys that would fix it)
    _cannot_send = "this connection cannot send"

    def __init__(self, room: str, http: aiohttp.ClientSession, backoff: Backoff) -> None:
        super().__init__(room)
        self.http = http
        # the platform module's logger, so the log says which platform and log config by module works
        self._log = logging.getLogger(type(self).__module__)
        self._backoff = backoff
        self._closed = False
        self._wake: asyncio.Event | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._last_sent: str | None = None
        #: successful connections so far (handshake confirmed), for /healthz and tests
        self.connections = 0
        #: frames, lines or commands dropped as malformed so far
        self.dropped = 0
        #: the same by kind ("a malformed frame: FrameError"), for /healthz and tests
        self.drops: dict[str, int] = {}
        self._drop_kinds = LogOnce(MAX_DROP_KINDS)
        #: the share of the event loop this room's decoding may take (``_receive`` callers spend it)
        self._budget = CpuBudget()

    # --- what a platform provides ----------------------------------------------------------------

    @abc.abstractmethod
    async def _target(self) -> str:
        """The URL to dial next (may run the platform's set-up first)."""

    @abc.abstractmethod
    def _connection(self, target: str) -> AsyncIterator[Event]:
        """One connection: handshake, then events until it ends (returns) or breaks (raises)."""

    def _ended(self, target: str, exc: Exception | None) -> Redial:
        """How to go on after the connection to ``target`` ended, cleanly (``exc`` None) or with ``exc``
        (one of ``CONNECTION_ERRORS``). Called once per connection; platforms add their own cases."""
        return Redial("the server closed the connection" if exc is None else describe(exc))

    @abc.abstractmethod
    async def _send_line(self, text: str, reply_to: User | None) -> None:
        """Put one line that passed ``send()``'s guards on the wire; raise SendError when refused."""

    def _clean(self, text: str) -> str:
        """The line as the platform can carry it (IRC: one line); checked after this."""
        return text

    # --- receiving -------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        self._wake = asyncio.Event()
        try:
            while not self._closed:
                if self._last_state is None:
                    st = self.status("connecting")
                    if st:
                        yield st
                target = ""
                try:
                    target = await self._target()
                    async for ev in self._connection(target):
                        yield ev
                    redial = self._ended(target, None)
                except CONNECTION_ERRORS as exc:
                    redial = self._ended(target, exc)
                if redial.state == "reconnecting":
                    if self._closed:
                        break
                    self._backoff.disconnected()
                    self._log.debug("room %s: connection to %s ended: %s", self.room, target, redial.reason)
                st = self.status(redial.state, redial.detail or redial.reason)
                if st:
                    yield st
                await self._sleep(self._backoff.delay() if redial.delay is None else redial.delay)
        finally:
            await self._close_ws()
        st = self.status("closed")
        if st:
            yield st

    async def _sleep(self, seconds: float) -> None:
        """Wait between connections; ``close()`` cuts it short."""
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _dial(self, url: str, timeout: float, **options: Any) -> aiohttp.ClientWebSocketResponse:
        """Open the websocket as the current one; ``timeout`` covers TCP, TLS and the upgrade.
        aiohttp's own heartbeat is off: each platform has its keepalive (``_connected``)."""
        self._ws = await asyncio.wait_for(
            self.http.ws_connect(yarl.URL(url), autoping=True, heartbeat=None, **options), timeout
        )
        return self._ws

    async def _receive(
        self, ws: aiohttp.ClientWebSocketResponse, *, ready: bool, deadline: float, idle: float, awaiting: str
    ) -> aiohttp.WSMessage | None:
        """The next TEXT or BINARY message; None when the server closed the connection after ``ready``.

        Until ``ready`` the handshake must finish by ``deadline`` (loop time), else
        ``TimeoutError("no <awaiting>")``; after it, ``idle`` seconds of silence are a dead link. A
        websocket error, or a close before ``ready``, is a ``ProtocolError``.
        """
        if ready:
            wait = idle
        else:
            wait = deadline - asyncio.get_running_loop().time()
            if wait <= 0:
                raise TimeoutError(f"no {awaiting}")
        msg = await ws.receive(timeout=wait)
        if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            return msg
        if msg.type == aiohttp.WSMsgType.ERROR:
            raise ProtocolError(f"websocket error: {ws.exception()!r}")
        # CLOSE, CLOSING, CLOSED
        if not ready:
            raise ProtocolError(f"closed before the {awaiting}")
        return None

    def _connected(
        self, ws: aiohttp.ClientWebSocketResponse, detail: str, *, beat: str | bytes, every: float, at_once: bool
    ) -> RoomStatus | None:
        """The handshake is confirmed: count the connection, tell the backoff, send ``beat`` every
        ``every`` seconds (the first one at once or after a period) until ``_hang_up()``."""
        self.connections += 1
        self._backoff.connected()
        self._keepalive = asyncio.create_task(self._beat(ws, beat, every, at_once))
        return self.status("connected", detail)

    async def _beat(self, ws: aiohttp.ClientWebSocketResponse, beat: str | bytes, every: float, at_once: bool) -> None:
        # a failed send means the link is gone: the receive side notices and redials
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
            if not at_once:
                await asyncio.sleep(every)
            while not ws.closed:
                await (ws.send_bytes(beat) if isinstance(beat, bytes) else ws.send_str(beat))
                await asyncio.sleep(every)

    def _drop(self, what: str, exc: Exception) -> None:
        """Count a dropped frame, line or command, and log it once per kind (what was dropped and
        why), so a hostile server can neither flood the log nor hide a new kind of trouble."""
        self.dropped += 1
        kind = f"{what}: {type(exc).__name__}"
        if kind in self.drops or len(self.drops) < MAX_DROP_KINDS:
            self.drops[kind] = self.drops.get(kind, 0) + 1
        if self._drop_kinds.first(kind):
            self._log.warning(
                "room %s: dropped %s: %s (logged once per kind; %d dropped so far)",
                self.room,
                what,
                str(exc)[:200],
                self.dropped,
            )
        elif self.dropped % 1000 == 0:
            self._log.warning("room %s: %d frames, lines or commands dropped so far", self.room, self.dropped)

    async def _hang_up(self) -> None:
        """End the current connection: stop its keepalive, close its websocket."""
        task, self._keepalive = self._keepalive, None
        await cancel_and_wait(task)
        await self._close_ws()

    async def _close_ws(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def close(self) -> None:
        self._closed = True
        if self._wake is not None:
            self._wake.set()
        await self._close_ws()

    # --- sending ---------------------------------------------------------------------------------

    async def send(self, text: str, *, reply_to: User | None = None) -> None:
        if not self.can_send:
            raise SendError(self._cannot_send)
        text = self._clean(text)
        if not text.strip():
            raise SendError("empty line")
        if len(text) > self.max_message_length:
            raise SendError(f"longer than {self.max_message_length} characters")
        if reply_to is not None and (
            "bot" in reply_to.roles or (self.self_user_id and reply_to.id == self.self_user_id)
        ):
            raise SendError("refusing to answer the bot's own account")
        async with self._send_lock:
            if text == self._last_sent:
                # the platforms drop a repeat (Bilibili silently): refuse it loudly instead
                raise SendError("same text as the previous line")
            await self._send_line(text, reply_to)
            self._last_sent = text
