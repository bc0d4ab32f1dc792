"""A stand-in for blivedm 1.1's client, parse only: the work it does for each danmaku, step by step.

The load bar compares livebot with "blivedm 1.1's parse-only figure". PyPI's blivedm stops at 0.1.1
(of 2023); blivedm 1.1's own code is on PyPI as sumiblivedm 1.1.0, which the load bench runs too when
it is installed (``pip install --no-deps sumiblivedm==1.1.0``). Without it, two stand-ins on the same
frames:

- ``bare``: the least any client must do (websocket, brotli, packet split, ``json.loads``, cmd and
  text out): a floor, cheaper than any real client;
- ``blivedm``: this module, the steps blivedm 1.1's web client takes, written from its published
  design (not its code): every websocket message through a coroutine, the header read into a
  named tuple, brotli bodies decompressed in the default thread pool (it does so to keep the
  network coroutine free), each packet through a coroutine, ``json.loads``, the handler's
  dispatch on the command name before its first ``:``, and a ``DanmakuMessage`` dataclass of the
  ~40 fields it offers filled from ``info``; the user's callback then does nothing.

Both count DANMU_MSG packets; neither keeps anything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

import brotli

HEADER = struct.Struct(">I2H2I")
OP_MESSAGE, OP_AUTH_REPLY = 5, 8
VER_NORMAL, VER_BROTLI = 0, 3


class Header(NamedTuple):
    pack_len: int
    raw_header_size: int
    ver: int
    operation: int
    seq_id: int


@dataclasses.dataclass
class DanmakuMessage:
    """The fields a blivedm-style danmaku model offers, filled as such a client fills them."""

    mode: int = 0
    font_size: int = 0
    color: int = 0
    timestamp: int = 0
    rnd: int = 0
    uid_crc32: str = ""
    msg_type: int = 0
    bubble: int = 0
    dm_type: int = 0
    emoticon_options: Any = ""
    voice_config: Any = ""
    mode_info: dict[str, Any] = dataclasses.field(default_factory=dict)
    msg: str = ""
    uid: int = 0
    uname: str = ""
    face: str = ""
    admin: int = 0
    vip: int = 0
    svip: int = 0
    urank: int = 0
    mobile_verify: int = 0
    uname_color: str = ""
    medal_level: int = 0
    medal_name: str = ""
    runame: str = ""
    medal_room_id: int = 0
    mcolor: int = 0
    special_medal: Any = ""
    user_level: int = 0
    ulevel_color: int = 0
    ulevel_rank: Any = ""
    old_title: str = ""
    title: str = ""
    privilege_type: int = 0
    wealth_level: int = 0

    @classmethod
    def from_info(cls, info: list[Any]) -> DanmakuMessage:
        meta, sender, medal, level, titles = info[0], info[2], info[3], info[4], info[5]
        mode_info = meta[15]
        try:
            face = mode_info["user"]["base"]["face"]
        except (TypeError, KeyError):
            face = ""
        medal_fields = (medal[0], medal[1], medal[2], medal[3], medal[4], medal[5]) if medal else (0, "", "", 0, 0, 0)
        old_title, title = (titles[0], titles[1]) if titles else ("", "")
        return cls(
            mode=meta[1], font_size=meta[2], color=meta[3], timestamp=meta[4], rnd=meta[5], uid_crc32=meta[7],
            msg_type=meta[9], bubble=meta[10], dm_type=meta[12], emoticon_options=meta[13], voice_config=meta[14],
            mode_info=mode_info, msg=info[1],
            uid=sender[0], uname=sender[1], face=face, admin=sender[2], vip=sender[3], svip=sender[4],
            urank=sender[5], mobile_verify=sender[6], uname_color=sender[7],
            medal_level=medal_fields[0], medal_name=medal_fields[1], runame=medal_fields[2],
            medal_room_id=medal_fields[3], mcolor=medal_fields[4], special_medal=medal_fields[5],
            user_level=level[0], ulevel_color=level[2], ulevel_rank=level[3],
            old_title=old_title, title=title, privilege_type=info[7], wealth_level=info[16][0],
        )  # fmt: skip


class Handler:
    """Dispatch on the command name, as a blivedm handler does; only DANMU_MSG has a callback."""

    def __init__(self, on_danmaku: Callable[[DanmakuMessage], None]) -> None:
        self.on_danmaku = on_danmaku
        self.callbacks: dict[str, Callable[[dict[str, Any]], None]] = {"DANMU_MSG": self._danmu}
        self.unknown: set[str] = set()

    def handle(self, command: dict[str, Any]) -> None:
        cmd = command.get("cmd", "")
        pos = cmd.find(":")
        if pos != -1:
            cmd = cmd[:pos]
        callback = self.callbacks.get(cmd)
        if callback is None:
            self.unknown.add(cmd)
            return
        callback(command)

    def _danmu(self, command: dict[str, Any]) -> None:
        self.on_danmaku(DanmakuMessage.from_info(command["info"]))


class Parser:
    """One connection's message parsing, coroutine for coroutine as the client's."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def on_ws_message(self, data: bytes) -> None:
        try:
            await self.parse_ws_message(data)
        except Exception:  # such a client logs the error and goes on
            pass

    async def parse_ws_message(self, data: bytes) -> None:
        offset = 0
        try:
            header = Header(*HEADER.unpack_from(data, offset))
        except struct.error:
            return
        if header.operation not in (OP_MESSAGE, OP_AUTH_REPLY):
            return
        while True:
            body = data[offset + header.raw_header_size : offset + header.pack_len]
            await self.parse_business_message(header, body)
            offset += header.pack_len
            if offset >= len(data):
                break
            try:
                header = Header(*HEADER.unpack_from(data, offset))
            except struct.error:
                break

    async def parse_business_message(self, header: Header, body: bytes) -> None:
        if header.operation != OP_MESSAGE:
            return
        if header.ver == VER_BROTLI:
            body = await asyncio.get_running_loop().run_in_executor(None, brotli.decompress, body)
            await self.parse_ws_message(body)
        elif header.ver == VER_NORMAL and body:
            self.handler.handle(json.loads(body.decode("utf-8")))
