"""A Douyin stand-in: a room page whose own script signs and opens the push websocket, and that socket.

As on live.douyin.com, only the page can open the socket: ``GET /{room_id}`` serves a page whose
script computes a ``signature`` over the URL's query parameters with a salt baked into the page
(a per-server secret) and dials ``/webcast/im/push/v2/?...&signature=...``; the server rejects
a socket whose signature is missing or wrong (403, counted in ``rejected``). The page's script has
its own tiny protobuf reader/writer: it gunzips each ``PushFrame`` payload (``DecompressionStream``),
reads the ``Response``, acks ``needAck`` responses (``payloadType="ack"``, ``payload=internalExt``,
the frame's ``logId``, kept exact with BigInt) and sends a heartbeat (``payloadType="hb"``) every
``heartbeat_ms``. The server answers each heartbeat with one (unless ``stall``) and records what
the page sent, so tests can assert on it.

The outer layers (PushFrame, Response, Message) are written here by hand from the field numbers in
``shared/protocols/others.md``, not with livebot's generated code, so a wrong field number in the
``.proto`` would show; the inner message bodies use the generated classes.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.adapters.douyin import douyin_pb2 as pb
from tests.loopback.common import LoopbackServer, Peer

PUSH_PATH = "/webcast/im/push/v2/"
M32 = 0xFFFFFFFF


# --- a hand-written protobuf writer/reader for the outer layers ----------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 travel as their two's complement
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def read_fields(data: bytes) -> dict[int, list[int | bytes]]:
    """Field number -> values (ints for varints, bytes for length-delimited). Raises ValueError."""
    fields: dict[int, list[int | bytes]] = {}
    i = 0

    def read_varint() -> int:
        nonlocal i
        result = shift = 0
        while True:
            if i >= len(data):
                raise ValueError("truncated varint")
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    while i < len(data):
        key = read_varint()
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value = read_varint()
        elif wire == 2:
            n = read_varint()
            if i + n > len(data):
                raise ValueError("length past the end")
            value, i = data[i : i + n], i + n
        else:
            raise ValueError(f"wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def message(method: str, body: Any, msg_id: int) -> bytes:
    """One ``Message{method 1, payload 2, msgId 3}``; ``body`` is a generated message or bytes."""
    payload = body if isinstance(body, bytes) else body.SerializeToString()
    return field_bytes(1, method) + field_bytes(2, payload) + field_varint(3, msg_id)


def response(messages: list[bytes], *, need_ack: bool = False, internal_ext: str = "", heartbeat_ms: int = 0) -> bytes:
    """``Response{messages 1, cursor 2, fetchInterval 3, now 4, internalExt 5, heartbeatDuration 8, needAck 9}``."""
    out = b"".join(field_bytes(1, m) for m in messages)
    out += field_bytes(2, f"t-{int(time.time() * 1000)}_r-1") + field_varint(3, 1000)
    out += field_varint(4, int(time.time() * 1000))
    if internal_ext:
        out += field_bytes(5, internal_ext)
    if heartbeat_ms:
        out += field_varint(8, heartbeat_ms)
    if need_ack:
        out += field_varint(9, 1)
    return out


def push_frame(
    payload_type: str, payload: bytes = b"", *, log_id: int = 0, seq_id: int = 0, encoding: str = ""
) -> bytes:
    """``PushFrame{seqId 1, logId 2, payloadEncoding 6, payloadType 7, payload 8}``."""
    out = b""
    if seq_id:
        out += field_varint(1, seq_id)
    if log_id:
        out += field_varint(2, log_id)
    if encoding:
        out += field_bytes(6, encoding)
    return out + field_bytes(7, payload_type) + field_bytes(8, payload)


def msg_frame(
    messages: list[bytes], *, need_ack: bool = False, internal_ext: str = "", log_id: int = 0, seq_id: int = 0
) -> bytes:
    """A server frame as Douyin sends it: payloadType ``msg``, gzip of a ``Response``."""
    body = gzip.compress(response(messages, need_ack=need_ack, internal_ext=internal_ext))
    return push_frame("msg", body, log_id=log_id or secrets.randbits(63), seq_id=seq_id, encoding="gzip")


# --- message bodies ------------------------------------------------------------------------------


def user(uid: int, nick: str) -> pb.User:
    return pb.User(id=uid, idStr=str(uid), nickName=nick, shortId=uid % 10**9)


def common(method: str, msg_id: int) -> pb.Common:
    return pb.Common(method=method, msgId=msg_id, roomId=7_300_000_000_000_000_001, createTime=int(time.time() * 1000))


def chat(msg_id: int, uid: int, nick: str, text: str) -> bytes:
    m = "WebcastChatMessage"
    return message(m, pb.ChatMessage(common=common(m, msg_id), user=user(uid, nick), content=text), msg_id)


def gift(
    msg_id: int, uid: int, nick: str, name: str, *, diamonds: int, repeat: int = 1, group_id: int = 0, end: bool = False
) -> bytes:
    m = "WebcastGiftMessage"
    body = pb.GiftMessage(
        common=common(m, msg_id),
        giftId=463,
        groupCount=1,
        repeatCount=repeat,
        comboCount=repeat,
        user=user(uid, nick),
        repeatEnd=int(end),
        groupId=group_id,
        gift=pb.GiftStruct(id=463, name=name, diamondCount=diamonds, combo=bool(group_id)),
    )
    return message(m, body, msg_id)


def member(msg_id: int, uid: int, nick: str) -> bytes:
    m = "WebcastMemberMessage"
    return message(m, pb.MemberMessage(common=common(m, msg_id), user=user(uid, nick), memberCount=1234), msg_id)


def like(msg_id: int, uid: int, nick: str, count: int, total: int) -> bytes:
    m = "WebcastLikeMessage"
    return message(m, pb.LikeMessage(common=common(m, msg_id), user=user(uid, nick), count=count, total=total), msg_id)


def social(msg_id: int, uid: int, nick: str, action: int) -> bytes:
    m = "WebcastSocialMessage"
    return message(m, pb.SocialMessage(common=common(m, msg_id), user=user(uid, nick), action=action), msg_id)


def viewers(msg_id: int, online: int, total: int) -> bytes:
    m = "WebcastRoomUserSeqMessage"
    return message(m, pb.RoomUserSeqMessage(common=common(m, msg_id), total=online, totalUser=total), msg_id)


def control(msg_id: int, status: int) -> bytes:
    m = "WebcastControlMessage"
    return message(m, pb.ControlMessage(common=common(m, msg_id), status=status), msg_id)


# --- hostile frames ------------------------------------------------------------------------------


def corrupt_gzip_frame() -> bytes:
    good = gzip.compress(response([chat(1, 1, "x", "never seen")]))
    return push_frame("msg", good[:10] + bytes(b ^ 0x5A for b in good[10:]), log_id=5, encoding="gzip")


def not_protobuf_frame() -> bytes:
    return b"\x0a\xff\xff\xff\xff\x0fHTTP/1.1 502 Bad Gateway"  # a length that runs past the end


def gzip_bomb_frame(inflated: int = 24 << 20) -> bytes:
    return push_frame("msg", gzip.compress(b"\0" * inflated, 9), log_id=6, encoding="gzip")


def bad_payload_frame() -> bytes:
    """A good frame and response whose one chat message's payload is not a ChatMessage."""
    return msg_frame([message("WebcastChatMessage", b"\x12\xff\xff\xff\x7f", 77)])


# --- signing: the same function as the page's script ---------------------------------------------


def fnv1a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & M32
    return h


def sign(params: dict[str, str], salt: str) -> str:
    base = "&".join(f"{k}={params[k]}" for k in sorted(params))
    a, b = fnv1a((salt + base).encode()), fnv1a((base + salt).encode())
    for _ in range(3):
        a = ((a ^ (b >> 7)) * 0x9E3779B1) & M32
        b = ((b ^ ((a << 5) & M32)) * 0x85EBCA6B) & M32
    return f"{a:08x}{b:08x}"


PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>直播间 __ROOM__ (stand-in)</title></head>
<body>
<div id="status">loading</div>
<img src="/static/cover.jpg" alt="">
<script>
(() => {
  "use strict";
  const CONFIG = __CONFIG__;
  const state = (window.__standin = { opened: 0, frames: 0, acks: 0, heartbeats: 0, errors: [] });
  const enc = new TextEncoder();

  // --- signing (Douyin's real page does this in its obfuscated webmssdk) ---
  function fnv(str) {
    let h = 0x811c9dc5;
    for (const c of enc.encode(str)) { h ^= c; h = Math.imul(h, 0x01000193) >>> 0; }
    return h >>> 0;
  }
  function sign(params) {
    const base = Object.keys(params).sort().map((k) => k + "=" + params[k]).join("&");
    let a = fnv(CONFIG.salt + base), b = fnv(base + CONFIG.salt);
    for (let i = 0; i < 3; i++) {
      a = Math.imul(a ^ (b >>> 7), 0x9e3779b1) >>> 0;
      b = Math.imul(b ^ (a << 5), 0x85ebca6b) >>> 0;
    }
    return a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0");
  }

  // --- a tiny protobuf writer and reader (varints as BigInt: logIds are 64-bit) ---
  function writeVarint(out, v) {
    v = BigInt.asUintN(64, BigInt(v));
    while (v > 127n) { out.push(Number(v & 127n) | 128); v >>= 7n; }
    out.push(Number(v));
  }
  function writeBytes(out, num, bytes) {
    writeVarint(out, (num << 3) | 2); writeVarint(out, bytes.length);
    for (const b of bytes) out.push(b);
  }
  function encodeFrame(payloadType, payload, logId) {
    const out = [];
    if (logId) { writeVarint(out, 2 << 3); writeVarint(out, logId); }
    writeBytes(out, 6, enc.encode("pb"));
    writeBytes(out, 7, enc.encode(payloadType));
    writeBytes(out, 8, payload || new Uint8Array());
    return new Uint8Array(out);
  }
  function readFields(buf) {
    const fields = new Map();
    let i = 0;
    const varint = () => {
      let r = 0n, s = 0n;
      for (;;) {
        if (i >= buf.length) throw new Error("truncated varint");
        const b = buf[i++];
        r |= BigInt(b & 127) << s;
        if (!(b & 128)) return r;
        s += 7n;
        if (s > 63n) throw new Error("varint too long");
      }
    };
    while (i < buf.length) {
      const key = Number(varint()), num = key >> 3, wire = key & 7;
      let v;
      if (wire === 0) v = varint();
      else if (wire === 2) {
        const n = Number(varint());
        if (i + n > buf.length) throw new Error("length past the end");
        v = buf.subarray(i, i + n); i += n;
      } else if (wire === 1) { i += 8; v = null; }
      else if (wire === 5) { i += 4; v = null; }
      else throw new Error("wire type " + wire);
      if (!fields.has(num)) fields.set(num, []);
      fields.get(num).push(v);
    }
    return fields;
  }
  const first = (f, n, d) => (f.has(n) ? f.get(n)[0] : d);
  async function gunzip(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  // --- the push socket ---
  const params = {
    app_name: "douyin_web", version_code: "180800", webcast_sdk_version: "1.0.14", compress: "gzip",
    room_id: CONFIG.roomId, user_unique_id: CONFIG.userId, cursor: "t-" + Date.now() + "_r-1",
    ts: String(Date.now()),
  };
  params.signature = sign(params);
  const query = Object.keys(params).map((k) => k + "=" + encodeURIComponent(params[k])).join("&");
  const ws = new WebSocket(CONFIG.pushUrl + "?" + query);
  ws.binaryType = "arraybuffer";
  const heartbeat = () => { if (ws.readyState === 1) { ws.send(encodeFrame("hb")); state.heartbeats++; } };
  ws.onopen = () => {
    state.opened++;
    document.getElementById("status").textContent = "connected";
    if (CONFIG.heartbeatMs > 0) {
      heartbeat();
      setInterval(heartbeat, CONFIG.heartbeatMs);
    }
  };
  ws.onmessage = async (event) => {
    try {
      const frame = readFields(new Uint8Array(event.data));
      state.frames++;
      const type = new TextDecoder().decode(first(frame, 7, new Uint8Array()));
      if (type !== "msg") return;
      let payload = first(frame, 8, new Uint8Array());
      if (new TextDecoder().decode(first(frame, 6, new Uint8Array())) === "gzip") payload = await gunzip(payload);
      const response = readFields(payload);
      if (first(response, 9, 0n) === 1n) {
        ws.send(encodeFrame("ack", first(response, 5, new Uint8Array()), first(frame, 2, 0n)));
        state.acks++;
      }
    } catch (err) {
      state.errors.push(String(err));
    }
  };
  // what a real room page also loads: the stream and pictures (livebot blocks them)
  fetch("/stream/live.flv").catch(() => {});
})();
</script>
</body></html>
"""


@dataclass
class DouyinPeer(Peer):
    """One push socket the page opened."""

    params: dict[str, str] = field(default_factory=dict)
    #: every frame the page sent, decoded: {"type", "log_id", "payload"}
    sent: list[dict[str, Any]] = field(default_factory=list)
    #: (logId, payload) of each ack frame
    acks: list[tuple[int, bytes]] = field(default_factory=list)
    heartbeats: int = 0
    #: frames from the page that were not PushFrames
    garbage: int = 0
    #: logId -> internalExt of each needAck frame sent and not yet acked
    unacked: dict[int, bytes] = field(default_factory=dict)
    #: acks whose logId was never sent with needAck, or whose payload is not that frame's internalExt
    bad_acks: int = 0


class DouyinLoopback(LoopbackServer[DouyinPeer]):
    def __init__(self, *, heartbeat_ms: int = 1000) -> None:
        super().__init__()
        self.heartbeat_ms = heartbeat_ms
        self.salt = secrets.token_hex(8)
        #: page loads per room id, requests for the stream and pictures, rejected sockets and why
        self.page_loads: dict[str, int] = {}
        self.heavy_requests: list[str] = []
        self.rejected: list[str] = []
        self.home_loads = 0
        #: False: the pages served from now on never heartbeat (a page whose script broke)
        self.page_heartbeats = True
        #: the login cookie the front page hands out
        self.session = secrets.token_hex(16)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings_table(self, **extra: Any) -> dict[str, Any]:
        """``[platforms.douyin]`` pointing at this server."""
        return {"live_base": self.base, "heartbeat_seconds": self.heartbeat_ms / 1000, **extra}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(PUSH_PATH, self._push)
        app.router.add_get("/static/{name}", self._heavy)
        app.router.add_get("/stream/{name}", self._heavy)
        app.router.add_get("/", self._home)
        app.router.add_get("/{room_id}", self._page)
        return app

    async def _home(self, request: web.Request) -> web.Response:
        """The site's front page, where ``douyin-login`` sends the user: it "logs in" at once, setting a
        persistent ``sessionid`` cookie as Douyin's login does."""
        self.home_loads += 1
        response = web.Response(text="<!doctype html><title>stand-in home</title>登录", content_type="text/html")
        response.set_cookie("sessionid", self.session, max_age=30 * 86400, httponly=True)
        return response

    async def _page(self, request: web.Request) -> web.Response:
        room_id = request.match_info["room_id"]
        if not room_id.isdigit():
            raise web.HTTPNotFound()
        self.page_loads[room_id] = self.page_loads.get(room_id, 0) + 1
        config = {
            "roomId": room_id,
            "userId": str(7_000_000_000_000_000_000 + secrets.randbits(40)),
            "salt": self.salt,
            "heartbeatMs": self.heartbeat_ms if self.page_heartbeats else 0,
            "pushUrl": f"ws://127.0.0.1:{self.port}{PUSH_PATH}",
        }
        html = PAGE.replace("__CONFIG__", json.dumps(config)).replace("__ROOM__", room_id)
        return web.Response(text=html, content_type="text/html")

    async def _heavy(self, request: web.Request) -> web.Response:
        self.heavy_requests.append(request.path)
        return web.Response(body=b"\0" * 1024)

    def _check_signature(self, request: web.Request) -> str:
        params = {k: v for k, v in request.query.items() if k != "signature"}
        if "signature" not in request.query:
            return "unsigned"
        if request.query["signature"] != sign(params, self.salt):
            return "wrong signature"
        if not params.get("room_id", "").isdigit():
            return "no room_id"
        if abs(time.time() * 1000 - int(params.get("ts", "0") or 0)) > 120_000:
            return "stale ts"
        return ""

    async def _push(self, request: web.Request) -> web.StreamResponse:
        problem = self._check_signature(request)
        if problem:
            self.rejected.append(problem)
            raise web.HTTPForbidden(text=f"DEVICE_BLOCKED: {problem}")
        peer = await self._accept(request, lambda ws: DouyinPeer(ws, params=dict(request.query)))
        await self._mark_ready(peer)
        async for msg in peer.ws:
            if msg.type != WSMsgType.BINARY:
                peer.garbage += 1
                continue
            try:
                fields = read_fields(msg.data)
            except ValueError:
                peer.garbage += 1
                continue
            kind = bytes(fields.get(7, [b""])[0]).decode("utf-8", "replace")  # type: ignore[arg-type]
            log_id = fields.get(2, [0])[0]
            payload = bytes(fields.get(8, [b""])[0])  # type: ignore[arg-type]
            peer.sent.append({"type": kind, "log_id": log_id, "payload": payload})
            if kind == "hb":
                peer.heartbeats += 1
                if not self.stall and not peer.ws.closed:
                    with contextlib.suppress(ConnectionError):  # the page went away mid-answer
                        await peer.ws.send_bytes(push_frame("hb", log_id=secrets.randbits(63)))
            elif kind == "ack":
                peer.acks.append((int(log_id), payload))  # type: ignore[arg-type]
                if peer.unacked.pop(int(log_id), None) != payload:  # type: ignore[arg-type]
                    peer.bad_acks += 1
        return peer.ws

    @staticmethod
    def _expect_ack(peer: DouyinPeer, frame: bytes) -> None:
        """Remember the internalExt of a needAck frame, to check the page's ack against it."""
        try:
            fields = read_fields(frame)
            if fields.get(7) != [b"msg"] or fields.get(6) != [b"gzip"]:
                return
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(bytes(fields[8][0]), 1 << 20)  # type: ignore[arg-type]
            if inflater.unconsumed_tail:
                return  # a bomb: not worth parsing in pure Python, and it asks for no ack
            body = read_fields(raw)
        except (ValueError, OSError, EOFError, KeyError, IndexError, zlib.error):
            return  # a hostile frame: it asks for no ack
        if body.get(9) == [1]:
            peer.unacked[int(fields.get(2, [0])[0])] = bytes(body.get(5, [b""])[0])  # type: ignore[arg-type]

    async def send(self, data: bytes | str, peer: DouyinPeer | None = None) -> None:
        """One websocket frame to ``peer`` (default: the newest connected one)."""
        peer = peer or self.ready_peers[-1]
        if isinstance(data, bytes):
            self._expect_ack(peer, data)
        if isinstance(data, str):
            await peer.ws.send_str(data)
        else:
            await peer.ws.send_bytes(data)
