"""Bilibili danmaku packets: encode, decode, decompress. Pure bytes in, bytes out.

A packet is a 16-byte big-endian header ``packet_len u32, header_len u16, proto u16, op u32,
seq u32`` and a body. One websocket message may carry several packets back to back, and a packet
of proto 2 (zlib) or 3 (brotli) carries more packets inside its compressed body.

Everything here treats its input as hostile: each websocket message is decoded on its own from
offset 0, every length is checked against the bytes actually present and against ``Limits``,
decompression runs in chunks charged to a per-message budget (packets, empty packets, bytes) as
it goes, so a bomb stops at its first excess; nesting is bounded, and anything malformed raises
``FrameError`` - never another exception type.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

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
    #: total bytes one websocket message may inflate to, across all nesting levels
    max_inflated: int = 8 << 20
    #: compressed packets inside compressed packets, at most this deep
    max_depth: int = 2
    #: leaf packets one websocket message may expand to (real frames carry tens to hundreds)
    max_packets: int = 2_000
    #: empty leaf packets (no body: nothing to read) skipped per message before it counts as a bomb
    max_empty: int = 64


DEFAULT_LIMITS = Limits()
#: decompress this much at a time, so the packet budget can stop a bomb after its first chunk
INFLATE_CHUNK = 64 * 1024


class Packet(NamedTuple):
    # a tuple, not a dataclass: a frame may hold thousands, and this is the cheapest to build
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


class _Budget:
    """What one websocket message may still cost: leaf packets, empty ones, inflated bytes.
    Charged while walking, before anything is allocated, so a bomb stops at its first excess."""

    __slots__ = ("empty", "inflated", "packets")

    def __init__(self, limits: Limits) -> None:
        self.packets = limits.max_packets
        self.empty = limits.max_empty
        self.inflated = limits.max_inflated

    def leaf(self, body_len: int) -> bool:
        """Count one leaf packet; False for an empty one (skipped: it carries nothing)."""
        self.packets -= 1
        if self.packets < 0:
            raise FrameError("more than the packet limit in one frame")
        if body_len:
            return True
        self.empty -= 1
        if self.empty < 0:
            raise FrameError("too many empty packets in one frame (a bomb?)")
        return False

    def inflate(self, produced: int, limit: int) -> None:
        self.inflated -= produced
        if self.inflated < 0:
            raise FrameError(f"compressed packets inflate beyond {limit} bytes")


def _inflated(proto: int, body: bytes, budget: _Budget, limit: int) -> Iterator[bytes]:
    """The decompressed body in chunks of at most ``INFLATE_CHUNK`` bytes, each charged to the
    budget as it comes: a bomb costs one chunk past the budget, not its whole expansion."""
    if proto == Proto.ZLIB:
        d = zlib.decompressobj()
        data = body
        while True:
            try:
                chunk = d.decompress(data, INFLATE_CHUNK)
            except zlib.error as exc:
                raise FrameError(f"bad zlib body: {exc}") from None
            data = d.unconsumed_tail
            if chunk:
                budget.inflate(len(chunk), limit)
                yield chunk
            if d.eof:
                if d.unused_data:
                    raise FrameError("bytes after the end of the zlib body")
                return
            if not chunk and not data:
                raise FrameError("truncated zlib body")
    b = brotli.Decompressor()
    data = body
    while True:
        try:
            chunk = b.process(data, output_buffer_limit=INFLATE_CHUNK)
        except brotli.error as exc:
            raise FrameError(f"bad brotli body: {exc}") from None
        data = b""
        if chunk:
            budget.inflate(len(chunk), limit)
            yield chunk
        if b.is_finished():
            return
        if b.can_accept_more_data():
            raise FrameError("truncated brotli body")  # it wants input and there is none left
        if not chunk:
            raise FrameError("brotli body makes no progress")


def _walk(chunks: Iterator[bytes | memoryview], depth: int, budget: _Budget, limits: Limits, out: list[Packet]) -> None:
    """Append the leaf packets found in a buffer that holds whole packets only, arriving in chunks."""
    buf = bytearray()
    pos = 0
    unpack = HEADER.unpack_from
    for chunk in chunks:
        if pos:
            del buf[:pos]
            pos = 0
        buf += chunk
        view = memoryview(buf)
        try:
            end = len(buf)
            while end - pos >= HEADER_LEN:
                packet_len, header_len, proto, op, seq = unpack(view, pos)
                if header_len < HEADER_LEN or packet_len < header_len or packet_len > limits.max_packet:
                    _header(view, pos, limits)  # raises the FrameError that says which
                if end - pos < packet_len:
                    break  # the rest of it is in the next chunk
                start = pos
                pos += packet_len
                if proto <= Proto.RAW:
                    if budget.leaf(packet_len - header_len):
                        out.append(Packet(proto, op, seq, bytes(view[start + header_len : pos])))
                elif proto <= Proto.BROTLI:
                    if depth >= limits.max_depth:
                        raise FrameError(f"compressed packets nested deeper than {limits.max_depth}")
                    body = bytes(view[start + header_len : pos])
                    _walk(_inflated(proto, body, budget, limits.max_inflated), depth + 1, budget, limits, out)
                else:
                    raise FrameError(f"unknown proto {proto}")
                if op == Op.HEARTBEAT_REPLY and 0 < end - pos < HEADER_LEN and depth == 0:
                    pos = end  # the server echoes our heartbeat body after its reply, outside packet_len
        finally:
            view.release()  # the buffer is resized on the next chunk
    left = len(buf) - pos
    if left:
        if left < HEADER_LEN:
            raise FrameError(f"{left} trailing bytes are not a packet header")
        packet_len = HEADER.unpack_from(buf, pos)[0]
        raise FrameError(f"packet claims {packet_len} bytes but only {left} are left")


def decode(message: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> list[Packet]:
    """All leaf packets of one websocket message, parsed from offset 0; FrameError on anything malformed.

    Bilibili sends whole packets per websocket message, so nothing is carried over to the next
    message: a lying length costs only the message it came in. Packet count, empty packets and
    inflated bytes are charged while walking (see ``Limits``), so the work per message is bounded
    before anything is allocated.
    """
    out: list[Packet] = []
    _walk(iter((memoryview(message),)), 0, _Budget(limits), limits, out)
    return out


def expand(packet: Packet, limits: Limits = DEFAULT_LIMITS) -> list[Packet]:
    """The leaf packets (proto 0 or 1) of one packet, decompressing proto 2/3 bodies recursively."""
    if packet.proto in (Proto.JSON, Proto.RAW):
        return [packet]
    return decode(encode(packet.op, packet.body, proto=packet.proto, seq=packet.seq), limits)


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
