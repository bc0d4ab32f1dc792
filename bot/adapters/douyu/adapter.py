"""The Douyu room adapter: websocket, login, join, heartbeats, reconnects (read-only).

One connection's life: (the room API, if configured), connect to ``danmaku_url``, send
``loginreq`` with the room id at once, wait for ``loginres`` (``connect_timeout_seconds``), send
``joingroup`` with ``gid@=-9999`` (the group every viewer of the room reads), then ``mrkl`` every
``heartbeat_seconds`` and read packets until the server goes away or stays silent for heartbeat +
10 s. Every packet of every message is handled exactly once, in order; junk (framing, STT or a
message without what it must have) is dropped with a log line and a count, and the next packet is
handled. A ``type@=error/`` from the server ends the connection; the shared backoff redials.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import aiohttp

from bot.adapters.base import Backoff, ProtocolError, Redial, SendError, WebsocketAdapter
from bot.adapters.douyu import stt
from bot.adapters.douyu.messages import MessageError, MessageParser
from bot.adapters.douyu.packets import MAX_PACKET, Junk, PacketError, Splitter, encode
from bot.adapters.douyu.room_api import RoomApiError, fetch_room
from bot.config import DouyuSettings, RoomSettings
from bot.events import Event, LiveStatus, User

log = logging.getLogger(__name__)

HEARTBEAT = encode(stt.dumps({"type": "mrkl"}))
RECEIVE_GRACE = 10.0  # no data for heartbeat + this many seconds = a dead connection
#: largest websocket message accepted (several packets)
MAX_MESSAGE = 4 * MAX_PACKET
GROUP_ALL = "-9999"
#: what a browser on the room page sends with the websocket upgrade
HEADERS = {"Origin": "https://www.douyu.com"}
#: give the event loop a turn after this many packets of one websocket message
YIELD_EVERY = 200
#: the room API is asked at most this often, however often the websocket redials
ROOM_API_EVERY = 60.0


class ServerError(ProtocolError):
    """The server sent ``type@=error/``."""


class DouyuAdapter(WebsocketAdapter):
    platform = "douyu"
    max_message_length = 50
    _cannot_send = "sending to a Douyu room is not supported: livebot reads Douyu rooms only"

    def __init__(self, room: RoomSettings, settings: DouyuSettings, http: aiohttp.ClientSession) -> None:
        super().__init__(
            room.name, http, Backoff(base=settings.reconnect_base_seconds, cap=settings.reconnect_cap_seconds)
        )
        if not (room.room_id.isascii() and room.room_id.isdigit()):
            raise ValueError(f"a Douyu room_id is the number in the room URL, not {room.room_id!r}")
        self.room_id = int(room.room_id)
        self.settings = settings
        #: no data for heartbeat_seconds + this long = a dead connection
        self.receive_grace = RECEIVE_GRACE
        self.max_packet = MAX_PACKET
        self.parser = MessageParser(room.name, anchor_uid=room.anchor_uid or None)
        self._live: bool | None = None
        self._pending: list[Event] = []
        self._api_failed_logged = False
        #: where the current connection is: "dialling", "login" (loginreq sent) or "joined"
        self._stage = "dialling"
        self._api_at: float | None = None

    @property
    def other_types(self) -> dict[str, int]:
        """Messages received of types the bot does not turn into events, by type."""
        return dict(self.parser.other_types)

    # --- receiving -------------------------------------------------------------------------------

    async def _target(self) -> str:
        now = time.monotonic()
        if self.settings.room_api_base and (self._api_at is None or now - self._api_at >= ROOM_API_EVERY):
            self._api_at = now
            await self._read_room_api()
        return self.settings.danmaku_url

    async def _read_room_api(self) -> None:
        try:
            info = await fetch_room(
                self.http, self.settings.room_api_base, self.room_id, self.settings.connect_timeout_seconds
            )
        except RoomApiError as exc:
            if not self._api_failed_logged:
                self._api_failed_logged = True
                self._log.warning("room %s: Douyu room API failed (%s); reading chat without it", self.room, exc)
            return
        if self._live is None:
            self._log.info(
                "room %s: Douyu room %d of %s is %s; %d gift prices known",
                self.room,
                self.room_id,
                info.owner_name or "?",
                "live" if info.live else "offline" if info.live is False else "in an unknown state",
                len(info.gifts),
            )
        self._api_failed_logged = False
        if info.gifts:
            self.parser.gifts = info.gifts
        if info.live is not None and info.live != self._live:
            self._live = info.live
            self._pending.append(
                LiveStatus(room=self.room, platform=self.platform, status="live" if info.live else "offline")
            )

    async def _connection(self, url: str) -> AsyncIterator[Event]:
        """One websocket connection: login, join, then events until it ends (returns) or breaks (raises)."""
        s = self.settings
        self._stage = "dialling"
        pending, self._pending = self._pending, []
        for ev in pending:  # what the room API said, even while the websocket does not connect
            yield ev
        ws = await self._dial(url, s.connect_timeout_seconds, headers=HEADERS, max_msg_size=MAX_MESSAGE)
        try:
            if self._closed:
                return
            await ws.send_bytes(encode(stt.dumps({"type": "loginreq", "roomid": self.room_id})))
            self._stage = "login"
            deadline = asyncio.get_running_loop().time() + s.connect_timeout_seconds
            splitter = Splitter(self.max_packet)
            while True:
                msg = await self._receive(
                    ws,
                    ready=self._stage == "joined",
                    deadline=deadline,
                    idle=s.heartbeat_seconds + self.receive_grace,
                    awaiting="login reply",
                )
                if msg is None:
                    return
                if msg.type != aiohttp.WSMsgType.BINARY:
                    self._drop("a text message", ProtocolError(repr(msg.data[:60])))
                    continue
                for n, item in enumerate(splitter.walk(msg.data), 1):
                    if n % YIELD_EVERY == 0:
                        await asyncio.sleep(0)  # a message of many packets must not hold up the other rooms
                    if isinstance(item, Junk):
                        self._drop("a malformed packet", PacketError(item.reason))
                        continue
                    fields = self._fields(item.body)
                    if fields is None:
                        continue
                    kind = fields.get("type")
                    if kind == "error":
                        raise ServerError(f"Douyu error code {fields.get('code', '?')[:20]}")
                    if kind == "loginres" and self._stage == "login":
                        await ws.send_bytes(
                            encode(stt.dumps({"type": "joingroup", "rid": self.room_id, "gid": GROUP_ALL}))
                        )
                        self._stage = "joined"
                        st = self._connected(
                            ws, f"room {self.room_id}", beat=HEARTBEAT, every=s.heartbeat_seconds, at_once=False
                        )
                        if st:
                            yield st
                        continue
                    for ev in self._events(fields):
                        yield ev
        finally:
            await self._hang_up()

    def _ended(self, target: str, exc: Exception | None) -> Redial:
        if isinstance(exc, TimeoutError) and self._stage == "login":
            return Redial(f"no login reply within {self.settings.connect_timeout_seconds:g} s")
        return super()._ended(target, exc)

    def _fields(self, body: str) -> dict[str, str] | None:
        try:
            return stt.loads(body)
        except stt.SttError as exc:
            self._drop("a packet of bad STT", exc)
            return None

    def _events(self, fields: dict[str, str]) -> list[Event]:
        # The frame boundary: whatever one message does to the parser, the room's loop goes on.
        try:
            return self.parser.parse(fields)
        except MessageError as exc:
            self._drop("a message", exc)
        except Exception as exc:  # a parser bug must cost one message, not the room
            self._log.exception("room %s: parsing a Douyu %r message failed", self.room, fields.get("type", "")[:40])
            self._drop("a message", exc)
        return []

    # --- sending ---------------------------------------------------------------------------------

    async def _send_line(self, text: str, reply_to: User | None) -> None:
        raise SendError(self._cannot_send)
