"""Douyin push frames: ``PushFrame`` -> gzip payload -> ``Response`` -> ``Message``s. Pure bytes in, objects out.

Every size is checked before work is done on it: a frame longer than ``Limits.max_frame`` is refused
unread, a gzip payload is inflated only up to ``Limits.max_inflated`` (a gzip bomb stops there), and
a response with more than ``Limits.max_messages`` messages is refused. Anything that is not what it
claims to be raises ``FrameError``; the adapter drops that frame and goes on with the next.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from bot.adapters.douyin import douyin_pb2 as pb

#: the payloadType of the page's heartbeats and of its acks
HEARTBEAT = "hb"
ACK = "ack"


class FrameError(ValueError):
    """A frame that is not a well-formed Douyin push frame (or is too big to be one)."""


@dataclass(frozen=True)
class Limits:
    max_frame: int = 4 << 20  # bytes of one websocket frame
    max_inflated: int = 16 << 20  # bytes one gzip payload may inflate to
    max_messages: int = 5000  # messages in one response


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Decoded:
    """One frame from the server: its header and, for a message frame, the response it carried."""

    frame: pb.PushFrame
    response: pb.Response | None


def push_frame(data: bytes, limits: Limits = DEFAULT_LIMITS) -> pb.PushFrame:
    """The ``PushFrame`` in one binary websocket frame."""
    if len(data) > limits.max_frame:
        raise FrameError(f"frame over the size limit: {len(data)} > {limits.max_frame} bytes")
    frame = pb.PushFrame()
    try:
        frame.ParseFromString(data)
    except (DecodeError, RuntimeWarning) as exc:
        raise FrameError(f"not a PushFrame: {exc}") from None
    return frame


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate a gzip member, refusing to produce more than ``limit`` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise FrameError(f"bad gzip payload: {exc}") from None
    if len(out) > limit:
        raise FrameError(f"gzip bomb: the payload inflates past {limit} bytes")
    if not inflater.eof:
        raise FrameError("bad gzip payload: truncated")
    return out


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Decoded:
    """A server frame: the ``PushFrame``, and its ``Response`` when it carries messages (payloadType ``msg``)."""
    frame = push_frame(data, limits)
    if frame.payloadType != "msg":
        return Decoded(frame, None)  # hb, close and friends carry no messages
    body = frame.payload
    encoding = frame.payloadEncoding.lower()
    if encoding == "gzip":
        body = gunzip(body, limits.max_inflated)
    elif encoding not in ("", "none", "pb"):
        raise FrameError(f"unknown payloadEncoding: {frame.payloadEncoding[:32]!r}")
    response = pb.Response()
    try:
        response.ParseFromString(body)
    except (DecodeError, RuntimeWarning) as exc:
        raise FrameError(f"payload is not a Response: {exc}") from None
    if len(response.messages) > limits.max_messages:
        raise FrameError(f"too many messages: {len(response.messages)} > {limits.max_messages}")
    return Decoded(frame, response)


def encode_frame(
    payload_type: str, payload: bytes = b"", *, log_id: int = 0, seq_id: int = 0, encoding: str = "pb"
) -> bytes:
    """A ``PushFrame`` on the wire (the stand-in server and tests build frames with it)."""
    return pb.PushFrame(
        seqId=seq_id, logId=log_id, payloadType=payload_type, payloadEncoding=encoding, payload=payload
    ).SerializeToString()


def ack_for(frame: pb.PushFrame, response: pb.Response) -> bytes:
    """The ack the page owes a ``needAck`` response: payloadType ``ack``, payload = ``internalExt``, the frame's logId.

    The page builds and sends it; livebot only compares what the page sent against this.
    """
    return encode_frame(ACK, response.internalExt.encode("utf-8"), log_id=frame.logId)
