"""Douyu packet framing: ``<len:u32le><len:u32le><type:u16le><encrypt:u8=0><reserved:u8=0>`` + body + ``\\0``.

``len`` counts from the second length field: 8 + body + the terminating NUL, so a packet is
``4 + len`` bytes. The client sends type 689, the server 690. One websocket message may carry
several packets; a packet may also be cut across two messages.

``Splitter.feed`` walks a message with work bounded by its size and never raises: a packet whose
header lies (lengths that disagree, a length too small or too large, a wrong type, non-zero
flag bytes) or whose body breaks the rules (no final NUL, a NUL inside, not UTF-8) is reported as
a ``Junk`` item and the walk goes on at the next place a sound header starts. Since a body holds
no NUL and every header does, no true header starts inside a true packet: a length that runs
past the next sound header is a lie, and a random prefix never hides the packet after it. A tail
too short to be whole is kept for the next message, unless that message itself starts with a
sound header: then the tail was a lie (its length promised bytes that never came) and is junk.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

CLIENT = 689
SERVER = 690
TYPES = (CLIENT, SERVER)
HEADER = struct.Struct("<IIHBB")
HEADER_SIZE = HEADER.size  # 12
#: smallest ``len``: the 8 bytes after the first length field and the NUL of an empty body
MIN_LENGTH = 8 + 1
#: largest packet accepted; Douyu's biggest broadcasts are a few KiB
MAX_PACKET = 256 * 1024
#: where the next header may start: its type field and the two zero bytes after it
_SYNC = re.compile(rb"[\xb1\xb2]\x02\x00\x00")


class PacketError(ValueError):
    """A packet that breaks the framing rules."""


@dataclass(frozen=True, slots=True)
class Packet:
    type: int
    body: str  # the STT text, without the final NUL


@dataclass(frozen=True, slots=True)
class Junk:
    """Bytes that were not a packet, and why."""

    reason: str
    size: int


def encode(body: str, type_: int = CLIENT) -> bytes:
    """One packet carrying ``body`` (STT text)."""
    if type_ not in TYPES:
        raise ValueError(f"packet type must be {CLIENT} or {SERVER}, not {type_}")
    raw = body.encode("utf-8") + b"\0"
    length = 8 + len(raw)
    return HEADER.pack(length, length, type_, 0, 0) + raw


def check_header(data: bytes | memoryview, at: int, max_packet: int = MAX_PACKET) -> int:
    """The packet length (``4 + len``) of the sound header at ``at``; ``PacketError`` otherwise."""
    first, second, type_, encrypt, reserved = HEADER.unpack_from(data, at)
    if first != second:
        raise PacketError(f"length fields disagree ({first} != {second})")
    if type_ not in TYPES:
        raise PacketError(f"packet type {type_} (want {CLIENT} or {SERVER})")
    if encrypt or reserved:
        raise PacketError(f"encrypt/reserved bytes {encrypt}/{reserved} (want 0/0)")
    if first < MIN_LENGTH:
        raise PacketError(f"length {first} is shorter than a header and a NUL")
    if 4 + first > max_packet:
        raise PacketError(f"length {first} is over the {max_packet}-byte limit")
    return 4 + first


def decode_body(raw: bytes | memoryview) -> str:
    """The STT text of a packet body (the bytes after the header, NUL included)."""
    raw = bytes(raw)
    if not raw.endswith(b"\0"):
        raise PacketError("body does not end with NUL")
    text = raw[:-1]
    if b"\0" in text:
        raise PacketError("NUL inside the body")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PacketError(f"body is not UTF-8 (byte {exc.start})") from None


class Splitter:
    """Turns one connection's websocket messages into packets and junk, in order."""

    def __init__(self, max_packet: int = MAX_PACKET) -> None:
        self.max_packet = max_packet
        self._tail = b""

    def _sound_header_at(self, data: bytes, at: int) -> bool:
        if len(data) - at < HEADER_SIZE:
            return False
        try:
            check_header(data, at, self.max_packet)
        except PacketError:
            return False
        return True

    def feed(self, message: bytes) -> list[Packet | Junk]:
        return list(self.walk(message))

    def walk(self, message: bytes) -> Iterator[Packet | Junk]:
        """``feed`` item by item, so a caller can pause between packets of a big message (the
        walk must be run to its end before the next message)."""
        if self._tail:
            tail, self._tail = self._tail, b""
            if self._sound_header_at(message, 0):
                yield Junk(f"a packet cut short ({len(tail)} bytes, the next message starts afresh)", len(tail))
                data = message
            else:
                data = tail + message
        else:
            data = message
        at, end = 0, len(data)
        while at < end:
            if end - at < HEADER_SIZE:
                junk = self._keep_or_junk(data, at, "a fragment shorter than a header")
                if junk is not None:
                    yield junk
                break
            try:
                size = check_header(data, at, self.max_packet)
            except PacketError as exc:
                nxt = self._resync(data, at + 1)
                yield Junk(str(exc), nxt - at)
                at = nxt
                continue
            if at + size > end:
                nxt = self._resync(data, at + 1)
                if nxt < end:
                    # a body holds no NUL, so no header can start inside a true one: this length lied
                    yield Junk(f"length {size - 4} runs into the next packet", nxt - at)
                    at = nxt
                    continue
                self._tail = data[at:]
                break
            try:
                body = decode_body(data[at + HEADER_SIZE : at + size])
            except PacketError as exc:
                # the header may have lied about where the body ends: look for the next one inside it
                nxt = self._resync(data, at + 1)
                yield Junk(str(exc), nxt - at)
                at = nxt
                continue
            yield Packet(HEADER.unpack_from(data, at)[2], body)
            at += size

    def _keep_or_junk(self, data: bytes, at: int, reason: str) -> Junk | None:
        # a header cut across two messages: keep it, unless it cannot start one
        piece = data[at:]
        if len(piece) >= 8 and piece[:4] != piece[4:8]:
            return Junk(reason, len(piece))
        self._tail = piece
        return None

    def _resync(self, data: bytes, start: int) -> int:
        """The next offset >= ``start`` where a sound header starts (the end if none does)."""
        pos = start + 8  # the type field sits 8 bytes into a header
        while True:
            m = _SYNC.search(data, pos)
            if m is None:
                return len(data)
            candidate = m.start() - 8
            if self._sound_header_at(data, candidate):
                return candidate
            pos = m.start() + 1
