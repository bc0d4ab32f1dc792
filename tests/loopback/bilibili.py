"""A Bilibili loopback server: the room set-up HTTP API and the danmaku websocket, on 127.0.0.1.

It speaks the wire format byte for byte and checks what a real server checks: the WBI signature
and its freshness on getDanmuInfo (-352 otherwise), the auth packet's header, room id and token
(-101 otherwise), csrf and cookies on msg/send. Its packet code is written here independently of
``bot.adapters.bilibili.frames`` so that a shared misunderstanding cannot make both sides agree.

Tests drive it: ``send()`` frames to the connected client, ``drop()`` connections, ``stall``
(stop answering), ``reject_auth`` (answer the next auth packets with -101), ``risk_control``
(answer the next getDanmuInfo calls with -352), ``rotate_wbi_keys()``, ``kill()`` / ``restart()``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import struct
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from typing import Any

import brotli
from aiohttp import WSMsgType, web

from tests.loopback.common import LoopbackServer, Peer, free_port

_HDR = struct.Struct(">IHHII")
# the public WBI permutation, typed in again here on purpose (see the module docstring)
_TABLE = [46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49, 33, 9, 42, 19, 29, 28, 14,
          39, 12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40, 61, 26, 17, 0, 1, 60, 51, 30, 4, 22, 25, 54, 21, 56, 59, 6,
          63, 57, 62, 11, 36, 20, 34, 44, 52]  # fmt: skip


def pack(op: int, body: bytes | str | dict[str, Any], proto: int = 0, seq: int = 0) -> bytes:
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if isinstance(body, str):
        body = body.encode()
    return _HDR.pack(16 + len(body), 16, proto, op, seq) + body


def cmd_packet(payload: dict[str, Any]) -> bytes:
    return pack(5, payload, proto=0)


def brotli_frame(payloads: list[dict[str, Any]]) -> bytes:
    """What the real server sends: one op-5 packet of proto 3 wrapping many proto-0 packets."""
    inner = b"".join(cmd_packet(p) for p in payloads)
    return pack(5, brotli.compress(inner), proto=3)


def zlib_frame(payloads: list[dict[str, Any]]) -> bytes:
    inner = b"".join(cmd_packet(p) for p in payloads)
    return pack(5, zlib.compress(inner), proto=2)


@dataclass
class Conn(Peer):
    auth: dict[str, Any] | None = None
    heartbeats: int = 0

    @property
    def authed(self) -> asyncio.Event:
        return self.ready


class BilibiliLoopback(LoopbackServer[Conn]):
    def __init__(
        self,
        *,
        short_id: int = 77,
        room_id: int = 7_700_001,
        anchor_uid: int = 1001,
        sessdata: str = "loopback-sessdata",
        bili_jct: str = "loopback-jct",
        bot_uid: int = 4242,
        refusing_host_first: bool = True,
    ) -> None:
        super().__init__()
        self.short_id, self.room_id, self.anchor_uid = short_id, room_id, anchor_uid
        self.sessdata, self.bili_jct, self.bot_uid = sessdata, bili_jct, bot_uid
        self.refusing_host_first = refusing_host_first
        self.img_key, self.sub_key = secrets.token_hex(16), secrets.token_hex(16)
        self.tokens: set[str] = set()
        self.reject_auth = 0
        self.risk_control = 0
        self.send_mode = "ok"  # ok | too_fast
        self.sent: list[dict[str, str]] = []
        self.calls: dict[str, int] = {}
        self.bad_signatures = 0
        self.refused_port = free_port()

    # --- lifecycle -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/x/frontend/finger/spi", self._spi)
        app.router.add_get("/x/web-interface/nav", self._nav)
        app.router.add_get("/room/v1/Room/get_info", self._get_info)
        app.router.add_get("/xlive/web-room/v1/index/getDanmuInfo", self._danmu_info)
        app.router.add_post("/msg/send", self._msg_send)
        app.router.add_get("/sub", self._sub)
        return app

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings_table(self, **extra: Any) -> dict[str, Any]:
        """``[platforms.bilibili]`` keys pointing at this server."""
        return {
            "api_base": self.base,
            "live_api_base": self.base,
            "danmaku_scheme": "ws",
            "fallback_url": f"ws://127.0.0.1:{self.port}/sub",
            **extra,
        }

    def rotate_wbi_keys(self) -> None:
        self.img_key, self.sub_key = secrets.token_hex(16), secrets.token_hex(16)

    # --- driving the websocket -------------------------------------------------------------------

    @property
    def conns(self) -> list[Conn]:
        return self.peers

    @property
    def authed_conns(self) -> list[Conn]:
        return self.ready_peers

    async def wait_authed(self, count: int, within: float = 10.0) -> Conn:
        """Wait until ``count`` connections in total have authenticated; returns the latest."""
        return await self.wait_ready(count, within)

    async def send(self, data: bytes, conn: Conn | None = None) -> None:
        conn = conn or self.authed_conns[-1]
        await conn.ws.send_bytes(data)

    # --- HTTP handlers ---------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def _cookies(self, request: web.Request) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in request.headers.get("Cookie", "").split(";"):
            k, _, v = part.strip().partition("=")
            if k:
                out[k] = v
        return out

    async def _spi(self, request: web.Request) -> web.Response:
        self._count("spi")
        return web.json_response({"code": 0, "data": {"b_3": "LOOPBACK-B3-0000infoc", "b_4": "LOOPBACK-B4"}})

    async def _nav(self, request: web.Request) -> web.Response:
        self._count("nav")
        wbi = {
            "img_url": f"https://i0.hdslb.com/bfs/wbi/{self.img_key}.png",
            "sub_url": f"https://i0.hdslb.com/bfs/wbi/{self.sub_key}.png",
        }
        if self._cookies(request).get("SESSDATA") == self.sessdata:
            return web.json_response({"code": 0, "data": {"isLogin": True, "mid": self.bot_uid, "wbi_img": wbi}})
        return web.json_response({"code": -101, "message": "账号未登录", "data": {"isLogin": False, "wbi_img": wbi}})

    async def _get_info(self, request: web.Request) -> web.Response:
        self._count("get_info")
        rid = request.query.get("room_id", "")
        if rid not in (str(self.short_id), str(self.room_id)):
            return web.json_response({"code": 1, "message": "房间不存在"})
        return web.json_response(
            {"code": 0, "data": {"room_id": self.room_id, "short_id": self.short_id, "uid": self.anchor_uid}}
        )

    def _signature_ok(self, raw_query: str) -> bool:
        params = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        w_rid = params.pop("w_rid", "")
        try:
            wts = int(params.get("wts", ""))
        except ValueError:
            return False
        if abs(time.time() - wts) > 300:
            return False
        raw = self.img_key + self.sub_key
        mixin = "".join(raw[i] for i in _TABLE)[:32]
        query = urllib.parse.urlencode(sorted(params.items()))
        return hashlib.md5((query + mixin).encode()).hexdigest() == w_rid

    async def _danmu_info(self, request: web.Request) -> web.Response:
        self._count("getDanmuInfo")
        if self.risk_control > 0:
            self.risk_control -= 1
            return web.json_response({"code": -352, "message": "-352"})
        if not self._signature_ok(request.query_string):
            self.bad_signatures += 1
            return web.json_response({"code": -352, "message": "-352"})
        if request.query.get("id") != str(self.room_id):
            return web.json_response({"code": 1, "message": "错误"})
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        hosts = [{"host": "127.0.0.1", "port": self.port, "wss_port": self.port, "ws_port": self.port}]
        if self.refusing_host_first:
            refused = {
                "host": "127.0.0.1",
                "port": self.refused_port,
                "wss_port": self.refused_port,
                "ws_port": self.refused_port,
            }
            hosts.insert(0, refused)
        return web.json_response({"code": 0, "message": "0", "data": {"token": token, "host_list": hosts}})

    async def _msg_send(self, request: web.Request) -> web.Response:
        self._count("msg_send")
        form = {k: str(v) for k, v in (await request.post()).items()}
        cookies = self._cookies(request)
        if cookies.get("SESSDATA") != self.sessdata:
            return web.json_response({"code": -101, "message": "账号未登录"})
        if form.get("csrf") != cookies.get("bili_jct") or form.get("csrf") != self.bili_jct:
            return web.json_response({"code": -111, "message": "csrf 校验失败"})
        if self.send_mode == "too_fast":
            return web.json_response({"code": 10031, "message": "您发送弹幕的频率过快"})
        self.sent.append(form)
        return web.json_response({"code": 0, "data": {"mode_info": {}, "dm_v2": None}, "message": "", "msg": ""})

    # --- the danmaku websocket -------------------------------------------------------------------

    async def _sub(self, request: web.Request) -> web.WebSocketResponse:
        conn = await self._accept(request, Conn)
        ws = conn.ws
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            data = msg.data
            pos = 0
            while pos + 16 <= len(data):
                plen, hlen, proto, op, _seq = _HDR.unpack_from(data, pos)
                if hlen != 16 or plen < 16 or pos + plen > len(data):
                    await ws.close()
                    break
                body = data[pos + hlen : pos + plen]
                pos += plen
                if op == 7:
                    await self._on_auth(conn, proto, body)
                elif op == 2 and conn.authed.is_set() and not self.stall:
                    conn.heartbeats += 1
                    await ws.send_bytes(pack(3, struct.pack(">I", 2466), proto=1))
        return ws

    async def _on_auth(self, conn: Conn, proto: int, body: bytes) -> None:
        try:
            auth = json.loads(body)
        except ValueError:
            auth = {}
        conn.auth = auth
        if self.stall:
            return
        ok = (
            proto == 1
            and auth.get("roomid") == self.room_id
            and auth.get("protover") == 3
            and (auth.get("key") in self.tokens or "key" not in auth)  # no key: the anonymous fallback
        )
        if self.reject_auth > 0:
            self.reject_auth -= 1
            ok = False
        await conn.ws.send_bytes(pack(8, {"code": 0 if ok else -101}, proto=1))
        if ok:
            await self._mark_ready(conn)
        else:
            await conn.ws.close()


# --- realistic commands (field layout of the public protocol notes) --------------------------------


def danmu(
    uid: int,
    name: str,
    text: str,
    *,
    medal: tuple[int, str] | None = None,
    level: int = 12,
    guard: int = 0,
    admin: bool = False,
    emoticon: bool = False,
    reply_uname: str = "",
    id_str: str | None = None,
    ts_ms: int | None = None,
) -> dict[str, Any]:
    """A DANMU_MSG as the web client receives it (with the ``:4:0:2:2:2:0`` suffix)."""
    ts_ms = ts_ms or int(time.time() * 1000)
    id_str = id_str or secrets.token_hex(17)
    extra = {
        "send_from_me": False, "mode": 0, "color": 16777215, "dm_type": 1 if emoticon else 0, "font_size": 25,
        "player_mode": 1, "show_player_type": 0, "content": text, "user_hash": "2402762465",
        "emoticon_unique": "upower_[官方_哈哈]" if emoticon else "", "bulge_display": 0, "recommend_score": 3,
        "main_state_dm_color": "", "objective_state_dm_color": "", "direction": 0, "pk_direction": 0,
        "quartet_direction": 0, "anniversary_crowd": 0, "yeah_space_type": "", "yeah_space_url": "",
        "jump_to_url": "", "space_type": "", "space_url": "", "animation": {}, "emots": None,
        "is_audited": False, "id_str": id_str, "icon": None, "show_reply": True, "reply_mid": 0,
        "reply_uname": reply_uname, "reply_uname_color": "", "reply_is_mystery": False, "hit_combo": 0,
    }  # fmt: skip
    user = {
        "uid": uid,
        "base": {"name": name, "face": "https://i0.hdslb.com/bfs/face/member/noface.jpg", "name_color": 0,
                 "is_mystery": False, "risk_ctrl_info": None, "origin_info": {"name": name, "face": ""},
                 "official_info": {"role": 0, "title": "", "desc": "", "type": -1}, "name_color_str": ""},
        "medal": None if medal is None else {"name": medal[1], "level": medal[0], "color_start": 6067854,
                                             "color_end": 6067854, "color_border": 6067854, "ruid": 1001},
        "wealth": None, "title": {"old_title_css_id": "", "title_css_id": ""}, "guard": None,
        "uhead_frame": None, "guard_leader": {"is_guard_leader": False},
    }  # fmt: skip
    meta = [0, 1, 25, 16777215, ts_ms, -1566113955, 0, "a53e47f1", 0, 0, 0, "", 1 if emoticon else 0,
            "{}", "{}", {"extra": json.dumps(extra, ensure_ascii=False), "mode": 0, "show_player_type": 0,
                         "user": user},
            {"activity_identity": "", "activity_source": 0, "not_show": 0}, 0, None]  # fmt: skip
    medal_arr: list[Any] = [] if medal is None else [medal[0], medal[1], "主播", 7700001, 6067854, "", 0,
                                                     6067854, 6067854, 6067854, 0, 1, 1001]  # fmt: skip
    info = [meta, text, [uid, name, 1 if admin else 0, 0, 0, 10000, 1, ""], medal_arr,
            [level, 0, 9868950, ">50000", 0], ["", ""], 0, guard, None,
            {"ts": ts_ms // 1000, "ct": "DD2DB7A1"}, 0, 0, None, None, 0, 105, [21], None]  # fmt: skip
    return {"cmd": "DANMU_MSG:4:0:2:2:2:0", "dm_v2": "", "info": info}


def send_gift(uid: int, name: str, gift: str, num: int = 1, price: int = 100, coin_type: str = "gold") -> dict:
    return {
        "cmd": "SEND_GIFT",
        "data": {
            "action": "投喂", "batch_combo_id": "", "coin_type": coin_type, "giftId": 31036, "giftName": gift,
            "giftType": 0, "guard_level": 0, "medal_info": {"medal_level": 5, "medal_name": "青禾"},
            "num": num, "price": price, "rnd": "1699999999", "tid": "1699999999110", "timestamp": 1699999999,
            "total_coin": price * num, "uid": uid, "uname": name,
        },
    }  # fmt: skip
