"""A minimal protobuf wire-format reader for the few ``*_V2`` commands whose fields are documented.

Bilibili puts base64 protobuf in ``data.pb`` of some commands. We have no .proto to compile and
need three or four scalar fields, so this reads the wire format (varints and length-delimited
fields; fixed32/64 are skipped over) into ``{field_number: [values]}``. Anything malformed raises
``PbError``; lengths are checked against the bytes present, so hostile input cannot over-read.
"""

from __future__ import annotations

import base64
import binascii


class PbError(ValueError):
    """Bytes that are not a valid protobuf message."""


MAX_PB_BYTES = 64 * 1024

Fields = dict[int, list[int | bytes]]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise PbError("truncated varint")
        if shift > 63:
            raise PbError("varint longer than 10 bytes")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value & 0xFFFF_FFFF_FFFF_FFFF, pos
        shift += 7


def parse(data: bytes) -> Fields:
    """One message level: varint fields as int, length-delimited fields as bytes."""
    if len(data) > MAX_PB_BYTES:
        raise PbError(f"message of {len(data)} bytes exceeds {MAX_PB_BYTES}")
    fields: Fields = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise PbError("field number 0")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if length > len(data) - pos:
                raise PbError("length-delimited field runs past the end")
            value = data[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if size > len(data) - pos:
                raise PbError("fixed-width field runs past the end")
            value = int.from_bytes(data[pos : pos + size], "little")
            pos += size
        else:
            raise PbError(f"unsupported wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def from_base64(text: object) -> Fields:
    if not isinstance(text, str) or len(text) > MAX_PB_BYTES * 4 // 3 + 4:
        raise PbError("pb is not a base64 string of sane size")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PbError(f"bad base64: {exc}") from None
    return parse(raw)


def first_int(fields: Fields, number: int, default: int = 0) -> int:
    for v in fields.get(number, ()):
        if isinstance(v, int):
            return v
    return default


def first_str(fields: Fields, number: int, default: str = "") -> str:
    for v in fields.get(number, ()):
        if isinstance(v, bytes):
            return v.decode("utf-8", errors="replace")
    return default


def first_msg(fields: Fields, number: int) -> Fields:
    for v in fields.get(number, ()):
        if isinstance(v, bytes):
            return parse(v)
    return {}
