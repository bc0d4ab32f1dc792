"""The Bilibili live room adapter: set-up, websocket, auth, heartbeats, reconnects, sending.

One connection's life: pick the next host of the plan, connect, send the auth packet at once,
wait for the auth reply (``connect_timeout_seconds``), then heartbeat every ``heartbeat_seconds``
and read frames until the server goes away or stays silent for heartbeat + 5 s. Each websocket
message is decoded on its own, from offset 0 (Bilibili sends whole packets per message), and every
packet in it is turned into events exactly once, in order; a malformed message or command is
dropped and counted at that boundary and the connection goes on. Decoding is charged to the room's
``CpuBudget``, so one room's junk cannot stall the others. Between connections: ``Backoff`` (full
jitter), the next host, and a fresh set-up after an auth rejection (-101) or every few failed
connections.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from bot.adapters.base import Backoff, ProtocolError, Redial, SendError, WebsocketAdapter
from bot.adapters.bilibili.commands import CommandError, CommandParser
from bot.adapters.bilibili.frames import DEFAULT_LIMITS, FrameError, Op, Packet, Proto, decode, encode, json_body
from bot.adapters.bilibili.setup import RoomPlan, RoomSetup, SetupFailed
from bot.audit import raw_json
from bot.config import BilibiliSettings, RoomSettings
from bot.events import Event, User

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


class BilibiliAdapter(WebsocketAdapter):
    platform = "bilibili"
    _cannot_send = "not logged in: set [platforms.bilibili] sessdata and bili_jct to send"

    def __init__(self, room: RoomSettings, settings: BilibiliSettings, http: aiohttp.ClientSession) -> None:
        super().__init__(
            room.name, http, Backoff(base=settings.reconnect_base_seconds, cap=settings.reconnect_cap_seconds)
        )
        if not (room.room_id.isascii() and room.room_id.isdigit()):
            raise ValueError(f"a Bilibili room_id is a number, not {room.room_id!r}")
        self.room_id = int(room.room_id)
        self.settings = settings
        self.max_message_length = settings.max_message_length
        self.limits = DEFAULT_LIMITS
        #: no data for heartbeat_seconds + this long = a dead connection
        self.receive_grace = RECEIVE_GRACE
        self._setup = RoomSetup(self.room_id, settings, http, anchor_uid=room.anchor_uid or None, room_name=room.name)
        self._parser = CommandParser(room.name, anchor_uid=room.anchor_uid or None)
        self._plan: RoomPlan | None = None
        self._setup_at = 0.0
        self._need_setup = True
        self._host_index = 0
        self._failures = 0  # connections in a row that failed or dropped

    @property
    def plan(self) -> RoomPlan | None:
        return self._plan

    @property
    def can_send(self) -> bool:
        return bool(self.settings.sessdata and self.settings.bili_jct)

    # --- receiving -------------------------------------------------------------------------------

    async def _target(self) -> str:
        if self._need_setup or (
            self._plan is not None
            and self._plan.degraded
            and time.monotonic() - self._setup_at >= DEGRADED_RETRY_SECONDS
        ):
            await self._run_setup()
        assert self._plan is not None
        return self._plan.urls[self._host_index % len(self._plan.urls)]

    def _ended(self, target: str, exc: Exception | None) -> Redial:
        if isinstance(exc, SetupFailed) or self._plan is None:
            # no plan, and no fallback for the configured endpoints: set up again after the backoff
            self._need_setup = True
            return super()._ended(target, exc)
        if isinstance(exc, AuthRejected):
            redial = Redial(str(exc))
            self._need_setup = True  # -101 and friends: the token is stale
        else:
            redial = super()._ended(target, exc)
        self._failures += 1
        self._host_index += 1
        if self._failures % max(SETUP_EVERY_FAILURES, len(self._plan.urls)) == 0:
            self._need_setup = True
        return dataclasses.replace(redial, detail=f"{target}: {redial.reason}")

    async def _run_setup(self) -> None:
        plan = await self._setup.run()
        self._plan, self._need_setup, self._setup_at = plan, False, time.monotonic()
        self._host_index = self._failures = 0
        self.self_user_id = str(plan.uid) if plan.uid else None
        self._parser.anchor_uid = plan.anchor_uid
        self._parser.bot_uid = self.self_user_id

    async def _connection(self, url: str) -> AsyncIterator[Event]:
        """One websocket connection: auth, then events until it ends (returns) or breaks (raises)."""
        assert self._plan is not None
        timeout = self.settings.connect_timeout_seconds
        ws = await self._dial(
            url,
            timeout,
            headers={"User-Agent": self.settings.user_agent, "Origin": "https://live.bilibili.com"},
            max_msg_size=self.limits.max_packet * 2,
        )
        try:
            if self._closed:
                return
            await ws.send_bytes(encode(Op.AUTH, self._plan.auth_body(), proto=Proto.RAW))
            deadline = asyncio.get_running_loop().time() + timeout
            receive_timeout = self.settings.heartbeat_seconds + self.receive_grace
            authed = False
            while True:
                msg = await self._receive(
                    ws, ready=authed, deadline=deadline, idle=receive_timeout, awaiting="auth reply"
                )
                if msg is None:
                    return
                if msg.type != aiohttp.WSMsgType.BINARY:
                    self._drop("a text message", ProtocolError(repr(msg.data[:60])))
                    continue
                started = time.perf_counter()
                events, auth = self._decode(msg.data, authed)
                if auth is not None:
                    self._auth_reply(auth)  # raises AuthRejected: the connection ends
                    authed = True
                    st = self._connected(ws, url, beat=HEARTBEAT, every=self.settings.heartbeat_seconds, at_once=True)
                    if st:
                        yield st
                for ev in events:
                    yield ev
                await self._budget.spend(time.perf_counter() - started)
        finally:
            await self._hang_up()

    def _decode(self, data: bytes, authed: bool) -> tuple[list[Event], Packet | None]:
        """One websocket message on its own, from offset 0: its events, and the auth reply when it
        is the first. This is the frame boundary: nothing a hostile message holds escapes it; a
        broken message or command is dropped and counted, and the connection goes on."""
        events: list[Event] = []
        auth: Packet | None = None
        try:
            leaves = decode(data, self.limits)
        except FrameError as exc:
            self._drop("a malformed frame", exc)
            return events, None
        except Exception as exc:  # a bug of ours must not end the room: drop this message only
            self._drop("a frame that broke the decoder", exc)
            return events, None
        for leaf in leaves:
            if leaf.op == Op.AUTH_REPLY:
                if not authed and auth is None:
                    auth = leaf
            elif leaf.op == Op.MESSAGE:
                events.extend(self._commands(leaf))
        return events, auth

    def _auth_reply(self, leaf: Packet) -> None:
        try:
            body = json_body(leaf)
        except FrameError:
            body = None
        code = body.get("code") if isinstance(body, dict) else body
        if code != 0:
            raise AuthRejected(code)
        self._failures = 0

    def _commands(self, leaf: Packet) -> list[Event]:
        try:
            raw = raw_json(leaf.body)
            events = self._parser.danmu_bytes(leaf.body, raw)  # the usual danmaku, decoded typed
            return events if events is not None else self._parser.parse(json_body(leaf), raw=raw)
        except (FrameError, CommandError) as exc:
            self._drop("a command", exc)
        except Exception as exc:  # a field we read wrong: this command is lost, the others are not
            self._drop("a command that broke the parser", exc)
        return []

    # --- sending ---------------------------------------------------------------------------------

    async def _send_line(self, text: str, reply_to: User | None) -> None:
        s = self.settings
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
