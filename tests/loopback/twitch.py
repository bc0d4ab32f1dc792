"""A Twitch chat loopback server: IRC over websocket on 127.0.0.1, as tmi.twitch.tv speaks it.

It checks the handshake (CAP REQ, PASS/NICK, JOIN), answers the login with what Twitch answers
(``001``..., ``GLOBALUSERSTATE``, the JOIN echo, ``ROOMSTATE``, ``USERSTATE``) or with the login
failure NOTICE, answers PING, and records what the client sends. Tests push lines with ``send``;
``privmsg`` / ``usernotice`` build lines with real tag sets (escaped here independently of
``bot.adapters.irc``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.loopback.common import LoopbackServer, Peer

_ESC = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}


def esc(value: str) -> str:
    return "".join(_ESC.get(c, c) for c in value)


def tagged(tags: dict[str, Any], rest: str) -> str:
    return "@" + ";".join(f"{k}={esc(str(v))}" for k, v in tags.items()) + " " + rest


def privmsg(
    channel: str,
    login: str,
    text: str,
    *,
    user_id: str = "",
    badges: str = "",
    display_name: str = "",
    msg_id: str = "",
    bits: int = 0,
    reply_parent: tuple[str, str] | None = None,  # (parent msg id, parent display name)
) -> str:
    tags: dict[str, Any] = {
        "badge-info": "",
        "badges": badges,
        "color": "#1E90FF",
        "display-name": display_name or login.capitalize(),
        "emotes": "",
        "first-msg": 0,
        "flags": "",
        "id": msg_id or secrets.token_hex(16),
        "mod": int("moderator/" in badges),
        "returning-chatter": 0,
        "room-id": "12826",
        "subscriber": int("subscriber/" in badges),
        "tmi-sent-ts": int(time.time() * 1000),
        "turbo": 0,
        "user-id": user_id or str(abs(hash(login)) % 10**9),
        "user-type": "mod" if "moderator/" in badges else "",
    }
    if bits:
        tags["bits"] = bits
    if reply_parent:
        tags["reply-parent-msg-id"], tags["reply-parent-display-name"] = reply_parent
        tags["reply-parent-user-login"] = reply_parent[1].lower()
    return tagged(tags, f":{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #{channel} :{text}")


def usernotice(channel: str, login: str, msg_id: str, system_msg: str, text: str = "", **params: Any) -> str:
    tags: dict[str, Any] = {
        "badges": "subscriber/0",
        "display-name": login.capitalize(),
        "id": secrets.token_hex(16),
        "login": login,
        "msg-id": msg_id,
        "room-id": "12826",
        "system-msg": system_msg,
        "tmi-sent-ts": int(time.time() * 1000),
        "user-id": str(abs(hash(login)) % 10**9),
    }
    tags.update({f"msg-param-{k.replace('_', '-')}": v for k, v in params.items()})
    tail = f" :{text}" if text else ""
    return tagged(tags, f":tmi.twitch.tv USERNOTICE #{channel}{tail}")


@dataclass
class Client(Peer):
    lines: list[str] = field(default_factory=list)
    nick: str = ""
    password: str = ""
    caps: str = ""

    @property
    def joined(self) -> asyncio.Event:
        return self.ready


class TwitchLoopback(LoopbackServer[Client]):
    def __init__(
        self, *, login: str = "livebot", token: str = "goodtoken", bot_user_id: str = "90001", moderator: bool = False
    ) -> None:
        super().__init__()
        self.login, self.token, self.bot_user_id, self.moderator = login, token, bot_user_id, moderator
        self.privmsgs: list[tuple[dict[str, str], str]] = []  # (tags, text) the bot sent
        self.pongs: list[str] = []
        self.pings_from_client = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._ws)
        return app

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def clients(self) -> list[Client]:
        return self.peers

    @property
    def joined(self) -> list[Client]:
        return self.ready_peers

    async def wait_joined(self, count: int, within: float = 10.0) -> Client:
        return await self.wait_ready(count, within)

    async def send(self, *lines: str, client: Client | None = None) -> None:
        """Several lines in one websocket message, as Twitch batches them."""
        client = client or self.joined[-1]
        await client.ws.send_str("".join(line + "\r\n" for line in lines))

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        client = await self._accept(request, Client)
        ws = client.ws
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                await ws.close()
                break
            for line in msg.data.split("\r\n"):
                if line:
                    client.lines.append(line)
                    await self._line(client, line)
        return ws

    async def _line(self, c: Client, line: str) -> None:
        tags: dict[str, str] = {}
        if line.startswith("@"):
            raw, _, line = line[1:].partition(" ")
            tags = dict(item.partition("=")[::2] for item in raw.split(";"))
        cmd, _, rest = line.partition(" ")
        if self.stall:
            return
        if cmd == "CAP":
            c.caps = rest
            await c.ws.send_str(f":tmi.twitch.tv CAP * ACK :{rest.partition(':')[2]}\r\n")
        elif cmd == "PASS":
            c.password = rest
        elif cmd == "NICK":
            c.nick = rest.strip()
            anonymous = not c.password and c.nick.startswith("justinfan")
            if not anonymous and (c.password != f"oauth:{self.token}" or c.nick != self.login):
                await c.ws.send_str(":tmi.twitch.tv NOTICE * :Login authentication failed\r\n")
                await c.ws.close()
                return
            welcome = [f":tmi.twitch.tv 00{i} {c.nick} :-" for i in range(1, 5)] + [
                f":tmi.twitch.tv 375 {c.nick} :-",
                f":tmi.twitch.tv 376 {c.nick} :>",
            ]
            if not anonymous:
                welcome.append(
                    tagged(
                        {"badges": "", "display-name": self.login, "user-id": self.bot_user_id, "user-type": ""},
                        ":tmi.twitch.tv GLOBALUSERSTATE",
                    )
                )
            await c.ws.send_str("".join(x + "\r\n" for x in welcome))
        elif cmd == "JOIN":
            channel = rest.strip()
            out = [
                f":{c.nick}!{c.nick}@{c.nick}.tmi.twitch.tv JOIN {channel}",
                tagged(
                    {"emote-only": 0, "followers-only": -1, "r9k": 0, "room-id": "12826", "slow": 0, "subs-only": 0},
                    f":tmi.twitch.tv ROOMSTATE {channel}",
                ),
            ]
            if c.password:
                badges = "moderator/1" if self.moderator else ""
                out.append(
                    tagged(
                        {"badges": badges, "display-name": self.login, "mod": int(self.moderator)},
                        f":tmi.twitch.tv USERSTATE {channel}",
                    )
                )
            await c.ws.send_str("".join(x + "\r\n" for x in out))
            await self._mark_ready(c)
        elif cmd == "PING":
            self.pings_from_client += 1
            await c.ws.send_str(f":tmi.twitch.tv PONG tmi.twitch.tv {rest}\r\n")
        elif cmd == "PONG":
            self.pongs.append(rest)
        elif cmd == "PRIVMSG":
            _channel, _, text = rest.partition(" :")
            self.privmsgs.append((tags, text))
