"""Bilibili danmaku packets: encode, decode, decompress, reassemble. Pure bytes in, bytes out.

A packet is a 16-byte big-endian header ``packet_len u32, header_len u16, proto u16, op u32,
seq u32`` and a body. One websocket message may carry several packets back to back, and a packet
of proto 2 (zlib) or 3 (brotli) carries more packets inside its compressed body.

Everything here treats its input as hostile: every length is checked against the bytes actually
present and against ``Limits``, decompression stops at a budget (no decompression bombs), nesting
is bounded, and anything malformed raises ``FrameError`` - never another exception type.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import brotli
import orjson

HEADER = struct.Struct(">IHHII")
HEADER_LEN = HEADER.size  # 16


class Op(IntEnum):
    HEARTBEAT = 2
    HEARTBEAT_REPLY = 3
    MESSAGE = 5
    AUTH = 7
    AUTH_REPLY = 8


class Proto(IntEnum):
    JSON = 0  # plain JSON body
    RAW = 1  # heartbeat / auth (bodies the client sends, and the heartbeat reply's u32)
    ZLIB = 2  # zlib-compressed packets inside
    BROTLI = 3  # brotli-compressed packets inside (what web clients ask for)


class FrameError(ValueError):
    """Bytes that are not a valid danmaku packet (bad length, bad compression, too big, not JSON)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one packet may cost. Real traffic is far below every one of them."""

    #: largest packet (header + body) accepted off the wire, compressed or not
    max_packet: int = 1 << 20
    #: total bytes one top-level packet may inflate to, across all nesting levels
    max_inflated: int = 8 << 20
    #: compressed packets inside compressed packets, at most this deep
    max_depth: int = 2
    #: leaf packets one top-level packet may expand to
    max_packets: int = 20_000


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Packet:
    proto: int
    op: int
    seq: int
    body: bytes


def encode(op: int, body: bytes | str | dict[str, Any] = b"", *, proto: int = Proto.RAW, seq: int = 1) -> bytes:
    """One packet. ``body`` may be bytes, text, or a dict sent as compact JSON."""
    if isinstance(body, dict):
        body = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    if isinstance(body, str):
        body = body.encode("utf-8")
    return HEADER.pack(HEADER_LEN + len(body), HEADER_LEN, proto, op, seq) + body


def _header(buf: bytes | bytearray | memoryview, pos: int, limits: Limits) -> tuple[int, int, int, int, int]:
    packet_len, header_len, proto, op, seq = HEADER.unpack_from(buf, pos)
    if header_len < HEADER_LEN or packet_len < header_len:
        raise FrameError(f"bad header: packet_len={packet_len} header_len={header_len}")
    if packet_len > limits.max_packet:
        raise FrameError(f"packet of {packet_len} bytes exceeds the {limits.max_packet}-byte limit")
    return packet_len, header_len, proto, op, seq


def split_packets(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> list[Packet]:
    """The packets of a buffer that must hold whole packets only (a websocket message, an inflated body)."""
    out: list[Packet] = []
    view = memoryview(data)
    pos, end = 0, len(view)
    while pos < end:
        if end - pos < HEADER_LEN:
            raise FrameError(f"{end - pos} trailing bytes are not a packet header")
        packet_len, header_len, proto, op, seq = _header(view, pos, limits)
        if pos + packet_len > end:
            raise FrameError(f"packet claims {packet_len} bytes but only {end - pos} are left")
        out.append(Packet(proto, op, seq, bytes(view[pos + header_len : pos + packet_len])))
        pos += packet_len
        if op == Op.HEARTBEAT_REPLY and 0 < end - pos < HEADER_LEN:
            break  # the server echoes our heartbeat body after its reply, outside packet_len
    return out


def _inflate(proto: int, body: bytes, budget: int) -> bytes:
    """Decompress at most ``budget`` bytes: a stream that wants more is a bomb, one that ends early broken."""
    if proto == Proto.ZLIB:
        d = zlib.decompressobj()
        try:
            out = d.decompress(body, budget + 1)
        except zlib.error as exc:
            raise FrameError(f"bad zlib body: {exc}") from None
        if len(out) > budget or d.unconsumed_tail:
            raise FrameError(f"zlib body inflates beyond {budget} bytes")
        if not d.eof:
            raise FrameError("truncated zlib body")
        if d.unused_data:
            raise FrameError("bytes after the end of the zlib body")
        return out
    b = brotli.Decompressor()
    try:
        out = b.process(body, output_buffer_limit=budget + 1)
    except brotli.error as exc:
        raise FrameError(f"bad brotli body: {exc}") from None
    if len(out) > budget or not b.can_accept_more_data():
        raise FrameError(f"brotli body inflates beyond {budget} bytes")
    if not b.is_finished():
        raise FrameError("truncated brotli body")
    return out


def expand(packet: Packet, limits: Limits = DEFAULT_LIMITS) -> list[Packet]:
    """The leaf packets (proto 0 or 1) of one packet, decompressing proto 2/3 bodies recursively."""
    out: list[Packet] = []
    budget = [limits.max_inflated]

    def walk(p: Packet, depth: int) -> None:
        if p.proto in (Proto.JSON, Proto.RAW):
            if len(out) >= limits.max_packets:
                raise FrameError(f"more than {limits.max_packets} packets in one frame")
            out.append(p)
            return
        if p.proto not in (Proto.ZLIB, Proto.BROTLI):
            raise FrameError(f"unknown proto {p.proto}")
        if depth >= limits.max_depth:
            raise FrameError(f"compressed packets nested deeper than {limits.max_depth}")
        inner = _inflate(p.proto, p.body, budget[0])
        budget[0] -= len(inner)
        for q in split_packets(inner, limits):
            walk(q, depth + 1)

    walk(packet, 0)
    return out


def decode(message: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> list[Packet]:
    """All leaf packets of one complete websocket message; FrameError on anything malformed."""
    out: list[Packet] = []
    for packet in split_packets(message, limits):
        out.extend(expand(packet, limits))
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRICT = json.JSONDecoder(parse_constant=_no_constants)  # one decoder: building one per call doubled the cost


def json_body(packet: Packet) -> Any:
    """The packet's body as JSON; FrameError when it is not (bad UTF-8, bad JSON, NaN, absurd nesting)."""
    try:
        # orjson first: the hot path of every danmaku (about 4x the stdlib's speed); it refuses
        # NaN/Infinity and absurd nesting as we do. What it refuses besides (lone surrogate escapes)
        # gets the stdlib's verdict, so no message is lost to the faster parser.
        return orjson.loads(packet.body)
    except orjson.JSONDecodeError:
        pass
    try:
        return _STRICT.decode(bytes(packet.body).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise FrameError(f"body is not JSON: {str(exc)[:80]}") from None


class Reassembler:
    """Turns a stream of websocket messages into whole top-level packets.

    The server normally sends whole packets per message, but a packet split across two messages,
    or several packets joined in one, must decode the same. A heartbeat reply is followed, outside
    its ``packet_len``, by the echo of our heartbeat body (as the recorded frames show): a tail
    shorter than a header after it is dropped, as other clients do. A header that cannot be right (bad
    lengths, over the size limit) means the stream is out of step: the buffered bytes are dropped
    and ``FrameError`` raised after every good packet before it was yielded; the next message
    starts afresh.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._buf = bytearray()
        self._pos = 0

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a packet."""
        return len(self._buf) - self._pos

    def reset(self) -> None:
        self._buf.clear()
        self._pos = 0

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[Packet]:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data
        while len(self._buf) - self._pos >= HEADER_LEN:
            try:
                packet_len, header_len, proto, op, seq = _header(self._buf, self._pos, self.limits)
            except FrameError:
                self.reset()
                raise
            start = self._pos
            if len(self._buf) - start < packet_len:
                return
            body = bytes(self._buf[start + header_len : start + packet_len])
            self._pos = start + packet_len  # consumed before the yield: each packet comes out exactly once
            if op == Op.HEARTBEAT_REPLY and 0 < len(self._buf) - self._pos < HEADER_LEN:
                self._pos = len(self._buf)  # the echoed heartbeat body that ends the message
            yield Packet(proto, op, seq, body)
