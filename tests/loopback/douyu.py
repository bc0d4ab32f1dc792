"""A Douyu loopback server: the danmaku websocket and the open room API on 127.0.0.1.

Packets are built and checked here byte for byte from the protocol notes, independently of
``bot.adapters.douyu``: ``<len:u32le><len:u32le><type:u16le><0><0>`` + STT body + ``\\0``, with
``len`` = 8 + body + 1, type 689 from the client and 690 from the server. The server checks the
client's login sequence (``loginreq`` with the room id, then ``joingroup`` with ``rid`` and
``gid@=-9999``), answers ``loginres`` and each ``mrkl`` heartbeat, records every packet, and closes a
client that sends anything malformed. Tests push server packets with ``send``; ``chatmsg``,
``dgb`` and ``uenter`` build them with the fields Douyu sends.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.loopback.common import LoopbackServer, Peer

CLIENT, SERVER = 689, 690


def esc(value: str) -> str:
    return value.replace("@", "@A").replace("/", "@S")


def unesc(value: str) -> str:
    return value.replace("@S", "/").replace("@A", "@")


def stt(fields: dict[str, Any]) -> str:
    """Fields as STT text; a dict value is nested (its STT text escaped once more)."""
    out = []
    for k, v in fields.items():
        text = stt(v) if isinstance(v, dict) else str(v)
        out.append(f"{esc(k)}@={esc(text)}/")
    return "".join(out)


def parse_stt(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in text.split("/"):
        if item:
            key, sep, value = item.partition("@=")
            if not sep:
                raise ValueError(f"STT entry without @=: {item!r}")
            fields[unesc(key)] = unesc(value)
    return fields


def header(first: int, second: int | None = None, type_: int = SERVER, encrypt: int = 0, reserved: int = 0) -> bytes:
    return struct.pack("<IIHBB", first, first if second is None else second, type_, encrypt, reserved)


def raw_packet(body: bytes, type_: int = SERVER) -> bytes:
    """A well-formed packet around ``body`` (which must carry its own final NUL)."""
    return header(8 + len(body), type_=type_) + body


def packet(fields: dict[str, Any] | str, type_: int = SERVER) -> bytes:
    text = fields if isinstance(fields, str) else stt(fields)
    return raw_packet(text.encode("utf-8") + b"\0", type_)


def chatmsg(uid: int, nn: str, txt: str, *, rid: int = 0, level: int = 12, rg: int = 1, **extra: Any) -> bytes:
    fields: dict[str, Any] = {
        "type": "chatmsg",
        "rid": rid,
        "ct": 14,
        "uid": uid,
        "nn": nn,
        "txt": txt,
        "cid": f"{uid:08x}{time.monotonic_ns() & 0xFFFFFFFF:08x}",
        "ic": "avatar_v3/202012/53e8ba245fc34ee89ac4fb3fd085ea60",
        "level": level,
        "sahf": 0,
        "col": 0,
        "rg": rg,
        "cst": int(time.time() * 1000),
        "bnn": "",
        "bl": 0,
        "brid": 0,
        "el": "",
    }
    fields.update(extra)
    return packet(fields)


def dgb(uid: int, nn: str, gfid: int, *, count: int = 1, rid: int = 0, **extra: Any) -> bytes:
    fields: dict[str, Any] = {
        "type": "dgb",
        "rid": rid,
        "gfid": gfid,
        "gs": 0,
        "uid": uid,
        "nn": nn,
        "ic": "avanew/face/201711/08/19/dee5e04ca606c4d8de09cd6512e2dd87",
        "level": 32,
        "dw": 0,
        "gfcnt": count,
        "hits": count,
        "bcnt": count,
        "bnn": "网时代",
        "bl": 17,
        "brid": rid,
        # a list of one map, as Douyu nests it (escaped twice)
        "el": esc(stt({"eid": 1500000113, "etp": 1, "sc": 1, "ef": 0})) + "/",
    }
    fields.update(extra)
    return packet(fields)


def uenter(uid: int, nn: str, *, rid: int = 0, level: int = 40) -> bytes:
    return packet({"type": "uenter", "rid": rid, "uid": uid, "nn": nn, "level": level, "rni": 0, "sahf": 0})


@dataclass
class Client(Peer):
    #: every packet the client sent, decoded
    packets: list[dict[str, str]] = field(default_factory=list)
    login: dict[str, str] | None = None
    join: dict[str, str] | None = None
    #: monotonic times of the client's mrkl heartbeats
    heartbeats: list[float] = field(default_factory=list)
    #: why the server closed this client, if it did
    problem: str = ""
    #: the Origin header of the websocket upgrade
    origin: str = ""


class DouyuLoopback(LoopbackServer[Client]):
    def __init__(self, *, room_id: int = 288016, live: bool = True, gifts: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.room_id = room_id
        self.live = live
        self.gifts = gifts if gifts is not None else []
        self.api_calls = 0
        #: an STT error body to answer the next loginreq with, instead of loginres
        self.login_error: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._ws)
        app.router.add_get("/api/RoomApi/room/{rid}", self._room_api)
        return app

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings_table(self, **overrides: Any) -> dict[str, Any]:
        table: dict[str, Any] = {"danmaku_url": self.url, "reconnect_base_seconds": 0.02, "reconnect_cap_seconds": 0.1}
        table.update(overrides)
        return table

    async def wait_joined(self, count: int, within: float = 10.0) -> Client:
        return await self.wait_ready(count, within)

    async def send(self, *packets: bytes, client: Client | None = None) -> None:
        """All ``packets`` in one websocket message, as Douyu batches them."""
        client = client or self.ready_peers[-1]
        await client.ws.send_bytes(b"".join(packets))

    # --- room API --------------------------------------------------------------------------------

    async def _room_api(self, request: web.Request) -> web.Response:
        self.api_calls += 1
        if request.match_info["rid"] != str(self.room_id):
            return web.json_response({"error": 101, "data": "房间未找到"})
        return web.json_response(
            {
                "error": 0,
                "data": {
                    "room_id": str(self.room_id),
                    "room_status": "1" if self.live else "2",
                    "owner_name": "主播",
                    "online": 1234,
                    "gift": self.gifts,
                },
            }
        )

    # --- websocket -------------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        client = await self._accept(request, Client)
        client.origin = request.headers.get("Origin", "")
        ws = client.ws
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                await self._refuse(client, "a non-binary message")
                break
            try:
                bodies = self._split(msg.data)
            except ValueError as exc:
                await self._refuse(client, str(exc))
                break
            for fields in bodies:
                client.packets.append(fields)
                await self._packet(client, fields)
            if ws.closed:
                break
        return ws

    @staticmethod
    def _split(data: bytes) -> list[dict[str, str]]:
        out, at = [], 0
        while at < len(data):
            if len(data) - at < 12:
                raise ValueError("a fragment shorter than a header")
            first, second, type_, encrypt, reserved = struct.unpack_from("<IIHBB", data, at)
            if first != second or type_ != CLIENT or encrypt or reserved:
                raise ValueError(f"bad header {data[at : at + 12].hex()}")
            body = data[at + 12 : at + 4 + first]
            if len(body) != first - 8 or not body.endswith(b"\0"):
                raise ValueError("body length or terminator wrong")
            out.append(parse_stt(body[:-1].decode("utf-8")))
            at += 4 + first
        return out

    async def _refuse(self, client: Client, problem: str) -> None:
        client.problem = problem
        await client.ws.close()

    async def _packet(self, c: Client, f: dict[str, str]) -> None:
        if self.stall:
            return
        kind = f.get("type")
        if kind == "loginreq":
            if c.login is not None or f.get("roomid") != str(self.room_id):
                await self._refuse(c, f"unexpected loginreq {f}")
                return
            c.login = f
            if self.login_error:
                await c.ws.send_bytes(packet(self.login_error))
                return
            await c.ws.send_bytes(
                packet(
                    {
                        "type": "loginres",
                        "userid": 0,
                        "roomgroup": 0,
                        "pg": 0,
                        "sessionid": 0,
                        "username": "",
                        "nickname": "",
                        "live_stat": 0,
                        "is_illegal": 0,
                        "npv": 0,
                        "best_dlev": 0,
                        "cur_lev": 0,
                        "nrc": 528853104,
                        "ih": 0,
                        "sid": 75381,
                        "sahf": 0,
                    }
                )
            )
        elif kind == "joingroup":
            if c.login is None or f.get("rid") != str(self.room_id) or f.get("gid") != "-9999":
                await self._refuse(c, f"unexpected joingroup {f}")
                return
            c.join = f
            await self._mark_ready(c)
        elif kind == "mrkl":
            c.heartbeats.append(time.monotonic())
            await c.ws.send_bytes(packet({"type": "mrkl"}))
        elif kind == "logout":
            await c.ws.close()

    async def wait_heartbeats(self, client: Client, count: int, within: float = 10.0) -> None:
        async def poll() -> None:
            while len(client.heartbeats) < count:  # noqa: ASYNC110 - counted by the handler
                await asyncio.sleep(0.01)

        await asyncio.wait_for(poll(), within)
