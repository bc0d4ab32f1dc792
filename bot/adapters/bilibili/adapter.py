"""The Bilibili live room adapter: set-up, websocket, auth, heartbeats, reconnects, sending.

One connection's life: pick the next host of the plan, connect, send the auth packet at once,
wait for the auth reply (``connect_timeout_seconds``), then heartbeat every ``heartbeat_seconds``
and read frames until the server goes away or stays silent for heartbeat + 5 s. Every packet of
every frame received is turned into events exactly once, in order; nothing is buffered across a
reconnect. Between connections: ``Backoff`` (full jitter), the next host, and a fresh set-up after
an auth rejection (-101) or every few failed connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import yarl

from bot.adapters.base import Adapter, Backoff, ProtocolError, SendError
from bot.adapters.bilibili.commands import CommandError, CommandParser
from bot.adapters.bilibili.frames import (
    DEFAULT_LIMITS,
    FrameError,
    Op,
    Packet,
    Proto,
    Reassembler,
    encode,
    expand,
    json_body,
)
from bot.adapters.bilibili.setup import RoomPlan, RoomSetup
from bot.config import BilibiliSettings, RoomSettings
from bot.events import Event, User

log = logging.getLogger(__name__)

# What the web client sends as its heartbeat body.
HEARTBEAT = encode(Op.HEARTBEAT, b"[object Object]", proto=Proto.RAW)
RECEIVE_GRACE = 5.0  # no data for heartbeat + this many seconds = a dead connection
SETUP_EVERY_FAILURES = 3  # re-run the set-up after this many failed connections in a row (at least one per host)
DEGRADED_RETRY_SECONDS = 60.0  # while on the anonymous fallback, try the full set-up again this often
SEND_TOO_FAST = 10031
SEND_RETRY_AFTER = 5.0


class AuthRejected(ProtocolError):
    def __init__(self, code: Any) -> None:
        super().__init__(f"auth rejected with code {code!r}")
        self.code = code


class _DropLog:
    """Logs dropped frames without letting a hostile server flood the log."""

    def __init__(self, room: str) -> None:
        self.room = room
        self.count = 0

    def __call__(self, what: str, exc: Exception) -> None:
        self.count += 1
        if self.count <= 10 or self.count % 1000 == 0:
            log.warning("room %s: dropped %s: %s (%d dropped so far)", self.room, what, exc, self.count)


class BilibiliAdapter(Adapter):
    platform = "bilibili"

    def __init__(self, room: RoomSettings, settings: BilibiliSettings, http: aiohttp.ClientSession) -> None:
        super().__init__(room.name)
        if not room.room_id.isdigit():
            raise ValueError(f"a Bilibili room_id is a number, not {room.room_id!r}")
        self.room_id = int(room.room_id)
        self.settings = settings
        self.http = http
        self.max_message_length = settings.max_message_length
        self.limits = DEFAULT_LIMITS
        #: no data for heartbeat_seconds + this long = a dead connection
        self.receive_grace = RECEIVE_GRACE
        self._setup = RoomSetup(self.room_id, settings, http, anchor_uid=room.anchor_uid or None, room_name=room.name)
        self._parser = CommandParser(room.name, anchor_uid=room.anchor_uid or None)
        self._backoff = Backoff(base=settings.reconnect_base_seconds, cap=settings.reconnect_cap_seconds)
        self._plan: RoomPlan | None = None
        self._setup_at = 0.0
        self._need_setup = True
        self._host_index = 0
        self._failures = 0  # connections in a row that failed or dropped
        self._closed = False
        self._wake: asyncio.Event | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._drops = _DropLog(room.name)
        self._send_lock = asyncio.Lock()
        self._last_sent: str | None = None
        #: successful auths so far (for /healthz and tests)
        self.connections = 0
        #: dropped frames / commands so far
        self.dropped = 0

    @property
    def plan(self) -> RoomPlan | None:
        return self._plan

    @property
    def can_send(self) -> bool:
        return bool(self.settings.sessdata and self.settings.bili_jct)

    # --- receiving -------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        self._wake = asyncio.Event()
        try:
            while not self._closed:
                if self._last_state is None:
                    st = self.status("connecting")
                    if st:
                        yield st
                if self._need_setup or (
                    self._plan is not None
                    and self._plan.degraded
                    and time.monotonic() - self._setup_at >= DEGRADED_RETRY_SECONDS
                ):
                    await self._run_setup()
                assert self._plan is not None
                url = self._plan.urls[self._host_index % len(self._plan.urls)]
                reason = "the server closed the connection"
                try:
                    async for ev in self._connection(url):
                        yield ev
                except AuthRejected as exc:
                    reason = str(exc)
                    self._need_setup = True  # -101 and friends: the token is stale
                except (aiohttp.ClientError, TimeoutError, OSError, ProtocolError) as exc:
                    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if self._closed:
                    break
                self._backoff.disconnected()
                self._failures += 1
                self._host_index += 1
                if self._failures % max(SETUP_EVERY_FAILURES, len(self._plan.urls)) == 0:
                    self._need_setup = True
                log.debug("room %s: connection to %s ended: %s", self.room, url, reason)
                st = self.status("reconnecting", f"{url}: {reason}")
                if st:
                    yield st
                await self._sleep(self._backoff.delay())
        finally:
            await self._close_ws()
        st = self.status("closed")
        if st:
            yield st

    async def _run_setup(self) -> None:
        plan = await self._setup.run()
        self._plan, self._need_setup, self._setup_at = plan, False, time.monotonic()
        self._host_index = self._failures = 0
        self.self_user_id = str(plan.uid) if plan.uid else None
        self._parser.anchor_uid = plan.anchor_uid
        self._parser.bot_uid = self.self_user_id

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _close_ws(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _connection(self, url: str) -> AsyncIterator[Event]:
        """One websocket connection: auth, then events until it ends (returns) or breaks (raises)."""
        assert self._plan is not None
        timeout = self.settings.connect_timeout_seconds
        ws = await asyncio.wait_for(
            self.http.ws_connect(
                yarl.URL(url),
                headers={"User-Agent": self.settings.user_agent, "Origin": "https://live.bilibili.com"},
                autoping=True,
                heartbeat=None,
                max_msg_size=self.limits.max_packet * 2,
            ),
            timeout,
        )
        self._ws = ws
        heartbeat: asyncio.Task[None] | None = None
        try:
            if self._closed:
                return
            await ws.send_bytes(encode(Op.AUTH, self._plan.auth_body(), proto=Proto.RAW))
            deadline = asyncio.get_running_loop().time() + timeout
            receive_timeout = self.settings.heartbeat_seconds + self.receive_grace
            reassembler = Reassembler(self.limits)
            authed = False
            while True:
                if authed:
                    wait = receive_timeout
                else:
                    wait = deadline - asyncio.get_running_loop().time()
                    if wait <= 0:
                        raise TimeoutError("no auth reply")
                msg = await ws.receive(timeout=wait)
                if msg.type == aiohttp.WSMsgType.BINARY:
                    try:
                        for top in reassembler.feed(msg.data):
                            for leaf in self._leaves(top):
                                if leaf.op == Op.AUTH_REPLY:
                                    if not authed:
                                        self._auth_reply(leaf)
                                        authed = True
                                        heartbeat = asyncio.create_task(self._heartbeat(ws))
                                        st = self.status("connected", url)
                                        if st:
                                            yield st
                                elif leaf.op == Op.MESSAGE:
                                    for ev in self._commands(leaf):
                                        yield ev
                    except FrameError as exc:
                        self.dropped += 1
                        self._drops("a malformed frame", exc)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    self.dropped += 1
                    self._drops("a text message", ProtocolError(repr(msg.data[:60])))
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    raise ProtocolError(f"websocket error: {ws.exception()!r}")
                else:  # CLOSE, CLOSING, CLOSED
                    if not authed:
                        raise ProtocolError("closed before the auth reply")
                    return
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await heartbeat
            await self._close_ws()

    def _leaves(self, top: Packet) -> list[Packet]:
        try:
            return expand(top, self.limits)
        except FrameError as exc:
            self.dropped += 1
            self._drops("a malformed packet", exc)
            return []

    def _auth_reply(self, leaf: Packet) -> None:
        try:
            body = json_body(leaf)
        except FrameError:
            body = None
        code = body.get("code") if isinstance(body, dict) else body
        if code != 0:
            raise AuthRejected(code)
        self.connections += 1
        self._failures = 0
        self._backoff.connected()

    def _commands(self, leaf: Packet) -> list[Event]:
        try:
            return self._parser.parse(json_body(leaf))
        except (FrameError, CommandError) as exc:
            self.dropped += 1
            self._drops("a command", exc)
            return []

    async def _heartbeat(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
            while not ws.closed:
                await ws.send_bytes(HEARTBEAT)
                await asyncio.sleep(self.settings.heartbeat_seconds)

    async def close(self) -> None:
        self._closed = True
        if self._wake is not None:
            self._wake.set()
        await self._close_ws()

    # --- sending ---------------------------------------------------------------------------------

    async def send(self, text: str, *, reply_to: User | None = None) -> None:
        s = self.settings
        if not self.can_send:
            raise SendError("not logged in: set [platforms.bilibili] sessdata and bili_jct to send")
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
                # Bilibili silently drops a repeat; refuse it loudly instead
                raise SendError("same text as the previous line")
            room_id = self._plan.room_id if self._plan else self.room_id
            form = {
                "msg": text,
                "roomid": str(room_id),
                "csrf": s.bili_jct,
                "csrf_token": s.bili_jct,
                "rnd": str(int(time.time())),
                "color": "16777215",
                "fontsize": "25",
                "mode": "1",
                "bubble": "0",
            }
            if reply_to is not None and reply_to.id.isdigit() and reply_to.id != "0":
                form["reply_mid"] = reply_to.id
            cookie = "; ".join(
                f"{k}={v}" for k, v in (("SESSDATA", s.sessdata), ("bili_jct", s.bili_jct), ("buvid3", s.buvid3)) if v
            )
            headers = {
                "User-Agent": s.user_agent,
                "Cookie": cookie,
                "Referer": "https://live.bilibili.com/",
                "Origin": "https://live.bilibili.com",
            }
            try:
                async with self.http.post(
                    f"{s.live_api_base}/msg/send",
                    data=form,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as resp:
                    if resp.status != 200:
                        raise SendError(f"HTTP {resp.status}")
                    body = await resp.content.read(1 << 16)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise SendError(f"network: {type(exc).__name__}: {exc}") from None
            try:
                data = json.loads(body)
                code = data.get("code") if isinstance(data, dict) else None
            except ValueError:
                raise SendError("msg/send answered with something that is not JSON") from None
            if code == 0:
                self._last_sent = text
                return
            message = str(data.get("message") or data.get("msg") or "")[:120]
            if code == SEND_TOO_FAST:
                raise SendError("sending too fast (10031)", retry_after=SEND_RETRY_AFTER)
            if code == 1003212:
                raise SendError("too long for this account (1003212)")
            if code == -101:
                raise SendError("login expired (-101): renew SESSDATA")
            if code == -111:
                raise SendError("csrf rejected (-111): bili_jct does not match the login")
            raise SendError(f"code {code}: {message}")
