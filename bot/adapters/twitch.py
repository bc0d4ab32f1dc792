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
import logging
import random
import re
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from bot.adapters.base import (
    CONNECTION_ERRORS,
    Backoff,
    LogOnce,
    ProtocolError,
    Redial,
    SendError,
    WebsocketAdapter,
    ascii_int,
)
from bot.adapters.irc import IrcMessage, IrcParseError, build_line, clean_text, parse_line
from bot.config import RoomSettings, TwitchSettings
from bot.events import ChatMessage, Event, Gift, GuardBuy, User

log = logging.getLogger(__name__)

CHANNEL_RE = re.compile(r"^[a-z0-9_]{1,25}$")
LOGIN_FAILURES = ("login authentication failed", "improperly formatted auth", "login unsuccessful", "invalid nick")
SEND_WINDOW = 30.0
SEND_LIMIT, SEND_LIMIT_MODERATOR = 20, 100
SILENCE_GRACE = 10.0
PING = "PING :tmi.twitch.tv\r\n"
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


class TwitchAdapter(WebsocketAdapter):
    platform = "twitch"
    max_message_length = 500
    _cannot_send = "anonymous (justinfan) connection: set [platforms.twitch] login and oauth_token to send"

    def __init__(self, room: RoomSettings, settings: TwitchSettings, http: aiohttp.ClientSession) -> None:
        super().__init__(
            room.name, http, Backoff(base=settings.reconnect_base_seconds, cap=settings.reconnect_cap_seconds)
        )
        channel = room.room_id.strip().lstrip("#").lower()
        if not CHANNEL_RE.match(channel):
            raise ValueError(f"a Twitch channel is 1-25 letters, digits or _, not {room.room_id!r}")
        self.channel = channel
        self.settings = settings
        token = settings.oauth_token.strip()
        self.anonymous = not (settings.login and token)
        self._pass = None if self.anonymous else (token if token.startswith("oauth:") else f"oauth:{token}")
        self.nick = settings.login.lower() if not self.anonymous else f"justinfan{random.randint(10000, 99999)}"
        self.anchor_uid = room.anchor_uid or None
        self.moderator = settings.moderator
        #: no data for ping_seconds + this long = a dead link
        self.silence_grace = SILENCE_GRACE
        self._joined = False
        self._sent_at: deque[float] = deque()
        self._last_msg_id: OrderedDict[str, str] = OrderedDict()  # user id -> their latest message id
        self._once = LogOnce()

    @property
    def can_send(self) -> bool:
        return not self.anonymous

    # --- receiving -------------------------------------------------------------------------------

    async def _target(self) -> str:
        return self.settings.irc_url

    def _ended(self, target: str, exc: Exception | None) -> Redial:
        if isinstance(exc, LoginFailed):
            log.error(
                "room %s: Twitch rejected the login of %r (%s). Check [platforms.twitch] login and "
                "oauth_token (LIVEBOT_TWITCH_OAUTH_TOKEN); retrying in %.0f s",
                self.room,
                self.nick,
                exc,
                self.settings.login_retry_seconds,
            )
            return Redial(
                str(exc), detail=f"login rejected: {exc}", state="failed", delay=self.settings.login_retry_seconds
            )
        if isinstance(exc, ReconnectRequested):
            return Redial("the server asked to reconnect", delay=0.0)
        return super()._ended(target, exc)

    async def _close_ws(self) -> None:
        self._joined = False
        await super()._close_ws()

    async def _connection(self, url: str) -> AsyncIterator[Event]:
        s = self.settings
        ws = await self._dial(url, s.connect_timeout_seconds, max_msg_size=MAX_BUFFER)
        buffer = ""
        announced = False
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
                msg = await self._receive(
                    ws,
                    ready=self._joined,
                    deadline=deadline,
                    idle=s.ping_seconds + self.silence_grace,
                    awaiting="JOIN confirmation",
                )
                if msg is None:
                    return
                if msg.type != aiohttp.WSMsgType.TEXT:
                    self._drop("a binary message", ProtocolError(f"{len(msg.data)} bytes"))
                    continue
                buffer += msg.data
                *lines, buffer = buffer.replace("\r\n", "\n").split("\n")
                if len(buffer) > MAX_BUFFER:
                    self._drop("an over-long partial line", ProtocolError(f"{len(buffer)} characters"))
                    buffer = ""
                started = time.perf_counter()
                for line in lines:
                    if not line:
                        continue
                    for ev in await self._line(ws, line):
                        yield ev
                    if self._joined and not announced:
                        announced = True
                        st = self._connected(
                            ws, f"#{self.channel} as {self.nick}", beat=PING, every=s.ping_seconds, at_once=False
                        )
                        if st:
                            yield st
                await self._budget.spend(time.perf_counter() - started)
        finally:
            await self._hang_up()

    async def _line(self, ws: aiohttp.ClientWebSocketResponse, line: str) -> list[Event]:
        """One IRC line on its own: the frame boundary. A malformed line, or one a handler cannot
        read, is dropped and counted and the connection goes on; what ends a connection on purpose
        (a login failure, RECONNECT, a link that broke while answering PING) still does."""
        try:
            return await self._handle(ws, parse_line(line), line)
        except IrcParseError as exc:
            self._drop("a malformed line", exc)
        except CONNECTION_ERRORS:
            raise
        except Exception as exc:
            self._drop("a line that broke the handler", exc)
        return []

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
        elif cmd not in QUIET and self._once.first(f"cmd:{cmd}"):
            log.debug("room %s: ignoring Twitch %s", self.room, cmd)
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

    def _common(self, m: IrcMessage, line: str, user: User, text: str) -> dict[str, Any]:
        """The fields every event of a PRIVMSG or USERNOTICE shares."""
        raw_ts = m.tags.get("tmi-sent-ts", "")
        return {
            "room": self.room,
            "platform": self.platform,
            "raw": line,
            "platform_ts": _positive(raw_ts, 15) / 1000 or None,
            "user": user,
            "text": text,
        }

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
        common = self._common(m, line, user, text)
        bits = _positive(m.tags.get("bits"), 9)
        if bits:
            return [Gift(**common, gift_name="bits", count=bits, price=bits / 100, currency="USD")]
        reply = m.tags.get("reply-parent-display-name") or m.tags.get("reply-parent-user-login") or None
        return [ChatMessage(**common, msg_id=msg_id, reply_to=reply)]

    def _usernotice(self, m: IrcMessage, line: str) -> list[Event]:
        tags = m.tags
        kind = tags.get("msg-id", "")
        user = self._user(m)
        text = m.trailing if len(m.params) > 1 else tags.get("system-msg", "")
        common = self._common(m, line, user, text)
        plan = tags.get("msg-param-sub-plan", "1000")
        level, price = SUB_PLANS.get(plan, (3, 4.99))
        if kind in ("sub", "resub"):
            months = _positive(tags.get("msg-param-multimonth-duration")) or 1
            return [GuardBuy(**common, level=level, months=months, price=price * months, currency="USD")]
        if kind in ("subgift", "anonsubgift"):
            if tags.get("msg-param-community-gift-id"):
                return []  # one of the subs of a submysterygift already counted
            return [Gift(**common, gift_name=f"sub gift ({plan})", count=1, price=price, currency="USD")]
        if kind in ("submysterygift", "anonsubmysterygift"):
            count = _positive(tags.get("msg-param-mass-gift-count")) or 1
            return [Gift(**common, gift_name=f"sub gift ({plan})", count=count, price=price * count, currency="USD")]
        if kind == "announcement" and len(m.params) > 1:
            return [ChatMessage(**common, msg_id=tags.get("id") or None)]  # highlighted chat: still chat text
        if self._once.first(f"usernotice:{kind}"):
            log.info("room %s: ignoring Twitch USERNOTICE %r (logged once)", self.room, kind[:40])
        return []

    # --- sending ---------------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        return clean_text(text)

    async def _send_line(self, text: str, reply_to: User | None) -> None:
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


def _positive(value: str | None, max_digits: int = 9) -> int:
    """A tag's count or time when it is a plain positive number, else 0 (never a ValueError)."""
    n = ascii_int(value, max_digits=max_digits)
    return n if n is not None and n > 0 else 0
