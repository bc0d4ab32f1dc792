"""The Twitch chat adapter: IRC over websocket (see shared/protocols/others.md).

Handshake ``CAP REQ :twitch.tv/tags twitch.tv/commands``, ``PASS oauth:...`` + ``NICK login`` (or
an anonymous read-only ``justinfanNNNNN``), ``JOIN #channel``; the room counts as connected when
the server confirms the JOIN. ``PING`` is answered with ``PONG``; the bot also PINGs every
``ping_seconds`` and treats ``ping_seconds + 10`` s of silence as a dead link. ``RECONNECT`` means
reconnect now. A login failure NOTICE is logged once, clearly, yields a ``failed`` RoomStatus and
waits ``login_retry_seconds`` before trying again (hammering a bad token can lock the account).

Sending keeps Twitch's limits on the client side with a sliding window: 20 lines / 30 s, or 100
for a moderator or the broadcaster (from config, or learned from USERSTATE badges).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import yarl

from bot.adapters.base import Adapter, Backoff, ProtocolError, SendError
from bot.adapters.irc import IrcMessage, IrcParseError, build_line, clean_text, parse_line
from bot.config import RoomSettings, TwitchSettings
from bot.events import ChatMessage, Event, Gift, GuardBuy, User

log = logging.getLogger(__name__)

CHANNEL_RE = re.compile(r"^[a-z0-9_]{1,25}$")
LOGIN_FAILURES = ("login authentication failed", "improperly formatted auth", "login unsuccessful", "invalid nick")
SEND_WINDOW = 30.0
SEND_LIMIT, SEND_LIMIT_MODERATOR = 20, 100
SILENCE_GRACE = 10.0
MAX_BUFFER = 128 * 1024
# tier -> (Bilibili-style guard level for GuardBuy, US list price); Prime pays the streamer like tier 1
SUB_PLANS = {"1000": (3, 4.99), "2000": (2, 9.99), "3000": (1, 24.99), "Prime": (3, 4.99)}
QUIET = frozenset(
    {"CAP", "001", "002", "003", "004", "353", "366", "372", "375", "376", "PONG", "PART", "HOSTTARGET", "WHISPER"}
)


class LoginFailed(ProtocolError):
    pass


class ReconnectRequested(ProtocolError):
    pass


def parse_badges(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in value.split(","):
        name, _, version = item.partition("/")
        if name:
            out[name] = version
    return out


class TwitchAdapter(Adapter):
    platform = "twitch"
    max_message_length = 500

    def __init__(self, room: RoomSettings, settings: TwitchSettings, http: aiohttp.ClientSession) -> None:
        super().__init__(room.name)
        channel = room.room_id.strip().lstrip("#").lower()
        if not CHANNEL_RE.match(channel):
            raise ValueError(f"a Twitch channel is 1-25 letters, digits or _, not {room.room_id!r}")
        self.channel = channel
        self.settings = settings
        self.http = http
        token = settings.oauth_token.strip()
        self.anonymous = not (settings.login and token)
        self._pass = None if self.anonymous else (token if token.startswith("oauth:") else f"oauth:{token}")
        self.nick = settings.login.lower() if not self.anonymous else f"justinfan{random.randint(10000, 99999)}"
        self.anchor_uid = room.anchor_uid or None
        self.moderator = settings.moderator
        #: no data for ping_seconds + this long = a dead link
        self.silence_grace = SILENCE_GRACE
        self._backoff = Backoff(base=settings.reconnect_base_seconds, cap=settings.reconnect_cap_seconds)
        self._closed = False
        self._wake: asyncio.Event | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._joined = False
        self._send_lock = asyncio.Lock()
        self._sent_at: deque[float] = deque()
        self._last_sent: str | None = None
        self._last_msg_id: OrderedDict[str, str] = OrderedDict()  # user id -> their latest message id
        self._logged: set[str] = set()
        #: successful JOINs so far, and lines dropped as malformed
        self.connections = 0
        self.dropped = 0

    @property
    def can_send(self) -> bool:
        return not self.anonymous

    def _once(self, key: str, level: int, msg: str, *args: Any) -> None:
        if key not in self._logged and len(self._logged) < 1000:
            self._logged.add(key)
            log.log(level, msg, *args)

    # --- receiving -------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        self._wake = asyncio.Event()
        try:
            while not self._closed:
                if self._last_state is None:
                    st = self.status("connecting")
                    if st:
                        yield st
                delay: float | None = None
                try:
                    async for ev in self._connection():
                        yield ev
                    reason = "the server closed the connection"
                except LoginFailed as exc:
                    log.error(
                        "room %s: Twitch rejected the login of %r (%s). Check [platforms.twitch] login and "
                        "oauth_token (LIVEBOT_TWITCH_OAUTH_TOKEN); retrying in %.0f s",
                        self.room,
                        self.nick,
                        exc,
                        self.settings.login_retry_seconds,
                    )
                    st = self.status("failed", f"login rejected: {exc}")
                    if st:
                        yield st
                    await self._sleep(self.settings.login_retry_seconds)
                    continue
                except ReconnectRequested:
                    reason, delay = "the server asked to reconnect", 0.0
                except (aiohttp.ClientError, TimeoutError, OSError, ProtocolError) as exc:
                    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if self._closed:
                    break
                self._backoff.disconnected()
                log.debug("room %s: Twitch connection ended: %s", self.room, reason)
                st = self.status("reconnecting", reason)
                if st:
                    yield st
                await self._sleep(self._backoff.delay() if delay is None else delay)
        finally:
            await self._close_ws()
        st = self.status("closed")
        if st:
            yield st

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _close_ws(self) -> None:
        ws, self._ws = self._ws, None
        self._joined = False
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _connection(self) -> AsyncIterator[Event]:
        s = self.settings
        ws = await asyncio.wait_for(
            self.http.ws_connect(yarl.URL(s.irc_url), autoping=True, heartbeat=None, max_msg_size=MAX_BUFFER),
            s.connect_timeout_seconds,
        )
        self._ws = ws
        keepalive: asyncio.Task[None] | None = None
        buffer = ""
        try:
            if self._closed:
                return
            hello = ["CAP REQ :twitch.tv/tags twitch.tv/commands"]
            if self._pass:
                hello.append(f"PASS {self._pass}")
            hello += [f"NICK {self.nick}", f"JOIN #{self.channel}"]
            await ws.send_str("\r\n".join(hello) + "\r\n")
            deadline = asyncio.get_running_loop().time() + s.connect_timeout_seconds
            while True:
                if self._joined:
                    wait = s.ping_seconds + self.silence_grace
                else:
                    wait = deadline - asyncio.get_running_loop().time()
                    if wait <= 0:
                        raise TimeoutError("no JOIN confirmation")
                msg = await ws.receive(timeout=wait)
                if msg.type == aiohttp.WSMsgType.TEXT:
                    buffer += msg.data
                    *lines, buffer = buffer.replace("\r\n", "\n").split("\n")
                    if len(buffer) > MAX_BUFFER:
                        self._drop("an over-long partial line", ProtocolError(f"{len(buffer)} characters"))
                        buffer = ""
                    for line in lines:
                        if not line:
                            continue
                        try:
                            m = parse_line(line)
                        except IrcParseError as exc:
                            self._drop("a malformed line", exc)
                            continue
                        for ev in await self._handle(ws, m, line):
                            yield ev
                        if self._joined and keepalive is None:
                            keepalive = asyncio.create_task(self._keepalive(ws))
                            self.connections += 1
                            self._backoff.connected()
                            st = self.status("connected", f"#{self.channel} as {self.nick}")
                            if st:
                                yield st
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    self._drop("a binary message", ProtocolError(f"{len(msg.data)} bytes"))
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    raise ProtocolError(f"websocket error: {ws.exception()!r}")
                else:
                    if not self._joined:
                        raise ProtocolError("closed before the JOIN was confirmed")
                    return
        finally:
            if keepalive is not None:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await keepalive
            await self._close_ws()

    def _drop(self, what: str, exc: Exception) -> None:
        self.dropped += 1
        if self.dropped <= 10 or self.dropped % 1000 == 0:
            log.warning("room %s: dropped %s: %s (%d dropped so far)", self.room, what, exc, self.dropped)

    async def _keepalive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
            while not ws.closed:
                await asyncio.sleep(self.settings.ping_seconds)
                await ws.send_str("PING :tmi.twitch.tv\r\n")

    async def _handle(self, ws: aiohttp.ClientWebSocketResponse, m: IrcMessage, line: str) -> list[Event]:
        cmd = m.command
        if cmd == "PING":
            await ws.send_str(build_line("PONG", m.trailing or "tmi.twitch.tv") + "\r\n")
        elif cmd == "PRIVMSG":
            if m.params and m.params[0].lower() == f"#{self.channel}":
                return self._privmsg(m, line)
        elif cmd == "USERNOTICE":
            if m.params and m.params[0].lower() == f"#{self.channel}":
                return self._usernotice(m, line)
        elif cmd in ("JOIN", "ROOMSTATE"):
            if m.params and m.params[0].lower() == f"#{self.channel}" and (cmd == "ROOMSTATE" or m.nick == self.nick):
                self._joined = True
        elif cmd == "NOTICE":
            text = m.trailing
            if any(f in text.lower() for f in LOGIN_FAILURES):
                raise LoginFailed(text[:200])
            msg_id = m.tags.get("msg-id", "")
            log.info("room %s: Twitch notice %s: %s", self.room, msg_id or "-", text[:200])
        elif cmd == "RECONNECT":
            raise ReconnectRequested("RECONNECT")
        elif cmd == "GLOBALUSERSTATE":
            self.self_user_id = m.tags.get("user-id") or self.self_user_id
        elif cmd == "USERSTATE":
            badges = parse_badges(m.tags.get("badges", ""))
            if ("moderator" in badges or "broadcaster" in badges) and not self.moderator:
                self.moderator = True
                log.info(
                    "room %s: the bot is a moderator in #%s: sending up to %d lines / 30 s",
                    self.room,
                    self.channel,
                    SEND_LIMIT_MODERATOR,
                )
        elif cmd == "CLEARCHAT":
            target = m.params[1] if len(m.params) > 1 else "everyone"
            log.info(
                "room %s: Twitch cleared the chat of %s (ban-duration %s)",
                self.room,
                target,
                m.tags.get("ban-duration", "permanent"),
            )
        elif cmd == "CLEARMSG":
            log.info(
                "room %s: Twitch deleted a message of %s: %r", self.room, m.tags.get("login", "?"), m.trailing[:100]
            )
        elif cmd not in QUIET:
            self._once(f"cmd:{cmd}", logging.DEBUG, "room %s: ignoring Twitch %s", self.room, cmd)
        return []

    def _user(self, m: IrcMessage) -> User:
        tags = m.tags
        login = (tags.get("login") or m.nick).lower()
        uid = tags.get("user-id") or login
        badges = parse_badges(tags.get("badges", ""))
        roles: list[str] = []
        if "broadcaster" in badges or login == self.channel or (self.anchor_uid and uid == self.anchor_uid):
            roles.append("anchor")
        if (not self.anonymous and login == self.nick) or (self.self_user_id and uid == self.self_user_id):
            roles.append("bot")
        if "moderator" in badges or tags.get("mod") == "1":
            roles.append("moderator")
        if "vip" in badges or tags.get("vip") == "1":
            roles.append("vip")
        if "subscriber" in badges or "founder" in badges:
            roles.append("subscriber")
        return User(id=uid, name=tags.get("display-name") or login, roles=tuple(roles))

    @staticmethod
    def _ts(m: IrcMessage) -> float | None:
        raw = m.tags.get("tmi-sent-ts", "")
        return int(raw) / 1000 if raw.isdigit() and len(raw) < 16 else None

    def _privmsg(self, m: IrcMessage, line: str) -> list[Event]:
        text = m.trailing
        if text.startswith("\x01ACTION ") and text.endswith("\x01"):
            text = text[8:-1]  # /me
        user = self._user(m)
        msg_id = m.tags.get("id") or None
        if msg_id:
            self._last_msg_id[user.id] = msg_id
            self._last_msg_id.move_to_end(user.id)
            if len(self._last_msg_id) > 5000:
                self._last_msg_id.popitem(last=False)
        common: dict[str, Any] = {
            "room": self.room,
            "platform": self.platform,
            "raw": line,
            "platform_ts": self._ts(m),
            "user": user,
            "text": text,
        }
        bits = m.tags.get("bits", "")
        if bits.isdigit() and 0 < len(bits) < 10:
            return [Gift(**common, gift_name="bits", count=int(bits), price=int(bits) / 100, currency="USD")]
        reply = m.tags.get("reply-parent-display-name") or m.tags.get("reply-parent-user-login") or None
        return [ChatMessage(**common, msg_id=msg_id, reply_to=reply)]

    def _usernotice(self, m: IrcMessage, line: str) -> list[Event]:
        tags = m.tags
        kind = tags.get("msg-id", "")
        user = self._user(m)
        text = m.trailing if len(m.params) > 1 else tags.get("system-msg", "")
        common: dict[str, Any] = {
            "room": self.room,
            "platform": self.platform,
            "raw": line,
            "platform_ts": self._ts(m),
            "user": user,
            "text": text,
        }
        plan = tags.get("msg-param-sub-plan", "1000")
        level, price = SUB_PLANS.get(plan, (3, 4.99))
        if kind in ("sub", "resub"):
            months = _int(tags.get("msg-param-multimonth-duration")) or 1
            return [GuardBuy(**common, level=level, months=months, price=price * months, currency="USD")]
        if kind in ("subgift", "anonsubgift"):
            if tags.get("msg-param-community-gift-id"):
                return []  # one of the subs of a submysterygift already counted
            return [Gift(**common, gift_name=f"sub gift ({plan})", count=1, price=price, currency="USD")]
        if kind in ("submysterygift", "anonsubmysterygift"):
            count = _int(tags.get("msg-param-mass-gift-count")) or 1
            return [Gift(**common, gift_name=f"sub gift ({plan})", count=count, price=price * count, currency="USD")]
        if kind == "announcement" and len(m.params) > 1:
            return [ChatMessage(**common, msg_id=tags.get("id") or None)]  # highlighted chat: still chat text
        self._once(
            f"usernotice:{kind}",
            logging.INFO,
            "room %s: ignoring Twitch USERNOTICE %r (logged once)",
            self.room,
            kind[:40],
        )
        return []

    async def close(self) -> None:
        self._closed = True
        if self._wake is not None:
            self._wake.set()
        await self._close_ws()

    # --- sending ---------------------------------------------------------------------------------

    async def send(self, text: str, *, reply_to: User | None = None) -> None:
        if self.anonymous:
            raise SendError("anonymous (justinfan) connection: set [platforms.twitch] login and oauth_token to send")
        text = clean_text(text)
        if not text:
            raise SendError("empty line")
        if len(text) > self.max_message_length:
            raise SendError(f"longer than {self.max_message_length} characters")
        if reply_to is not None and (
            "bot" in reply_to.roles or (self.self_user_id and reply_to.id == self.self_user_id)
        ):
            raise SendError("refusing to answer the bot's own account")
        async with self._send_lock:
            if text == self._last_sent:
                raise SendError("same text as the previous line")  # Twitch drops it as a duplicate anyway
            ws = self._ws
            if ws is None or ws.closed or not self._joined:
                raise SendError("not connected")
            now = time.monotonic()
            while self._sent_at and now - self._sent_at[0] >= SEND_WINDOW:
                self._sent_at.popleft()
            limit = SEND_LIMIT_MODERATOR if self.moderator else SEND_LIMIT
            if len(self._sent_at) >= limit:
                wait = SEND_WINDOW - (now - self._sent_at[0])
                raise SendError(f"over {limit} lines / {SEND_WINDOW:.0f} s", retry_after=max(wait, 0.01))
            tags = None
            if reply_to is not None and reply_to.id in self._last_msg_id:
                tags = {"reply-parent-msg-id": self._last_msg_id[reply_to.id]}
            try:
                await ws.send_str(build_line("PRIVMSG", f"#{self.channel}", text, tags=tags) + "\r\n")
            except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
                raise SendError(f"network: {exc}") from None
            self._sent_at.append(now)
            self._last_sent = text


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 10 else 0
