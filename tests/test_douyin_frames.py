"""Douyin frames and messages without a browser: the decoder against frames the stand-in builds by
hand (its own protobuf writer), the bounds against hostile frames, and the message -> event mapping."""

from __future__ import annotations

import gzip
import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.douyin import douyin_pb2 as pb
from bot.adapters.douyin.frames import ACK, FrameError, Limits, ack_for, decode, gunzip, push_frame
from bot.adapters.douyin.messages import MessageError, MessageMapper
from bot.events import ChatMessage, Enter, Gift, Like, LiveStatus, ViewerCount
from tests.loopback import douyin as standin

BIG = 2**64 - 2  # a uint64 id that a float or a JS number would round


def test_a_hand_built_frame_decodes_with_64_bit_ids_exact() -> None:
    frame = standin.msg_frame(
        [standin.chat(2**63 - 5, BIG, "观众甲", "怎么退货"), standin.member(8, 9, "乙")],
        need_ack=True,
        internal_ext="internal_src:dim|wss_push_room_id:7300000000000000001",
        log_id=2**63 + 11,
        seq_id=42,
    )
    decoded = decode(frame)
    assert decoded.frame.logId == 2**63 + 11 and decoded.frame.seqId == 42
    assert decoded.frame.payloadType == "msg" and decoded.frame.payloadEncoding == "gzip"
    response = decoded.response
    assert response is not None and response.needAck
    assert response.internalExt == "internal_src:dim|wss_push_room_id:7300000000000000001"
    assert [m.method for m in response.messages] == ["WebcastChatMessage", "WebcastMemberMessage"]
    assert response.messages[0].msgId == 2**63 - 5

    events = MessageMapper("r").map(response.messages[0])
    (chat,) = events
    assert isinstance(chat, ChatMessage)
    assert chat.user is not None and chat.user.id == str(BIG) and chat.user.name == "观众甲"
    assert chat.text == "怎么退货" and chat.msg_id == str(2**63 - 5) and chat.platform == "douyin"
    json.dumps(chat.to_dict(include_raw=True))  # the audit line is plain JSON
    assert chat.raw["payload"]["user"]["id"] == str(BIG)  # 64-bit ints travel as strings in raw


def test_the_ack_is_payload_internal_ext_and_the_frames_log_id() -> None:
    decoded = decode(standin.msg_frame([], need_ack=True, internal_ext="ext-1", log_id=2**64 - 1))
    assert decoded.response is not None
    ack = standin.read_fields(ack_for(decoded.frame, decoded.response))
    assert ack[7] == [ACK.encode()] and ack[8] == [b"ext-1"] and ack[2] == [2**64 - 1]


def test_a_heartbeat_frame_carries_no_response() -> None:
    decoded = decode(standin.push_frame("hb"))
    assert decoded.frame.payloadType == "hb" and decoded.response is None


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (standin.not_protobuf_frame(), "not a PushFrame"),
        (standin.corrupt_gzip_frame(), "bad gzip payload"),
        (standin.push_frame("msg", gzip.compress(b"x" * 100, mtime=0)[:-9], encoding="gzip"), "bad gzip payload"),
        (standin.push_frame("msg", b"\x0a\x05abc", encoding="pb"), "not a Response"),
        (standin.push_frame("msg", b"", encoding="br"), "unknown payloadEncoding"),
    ],
    # named ids: a frame's bytes as an id would differ between pytest-xdist workers (gzip stamps the time)
    ids=["not-protobuf", "corrupt-gzip", "truncated-gzip", "not-a-response", "unknown-encoding"],
)
def test_hostile_frames_raise_frame_error(frame: bytes, error: str) -> None:
    with pytest.raises(FrameError, match=error):
        decode(frame)


def test_a_gzip_bomb_stops_at_the_budget() -> None:
    bomb = standin.gzip_bomb_frame(8 << 20)
    assert len(bomb) < 64 << 10
    with pytest.raises(FrameError, match="gzip bomb"):
        decode(bomb, Limits(max_inflated=1 << 20))
    assert gunzip(gzip.compress(b"a" * 1000), 1000) == b"a" * 1000
    with pytest.raises(FrameError, match="gzip bomb"):
        gunzip(gzip.compress(b"a" * 1001), 1000)


def test_size_and_count_limits() -> None:
    with pytest.raises(FrameError, match="size limit"):
        push_frame(b"\0" * 101, Limits(max_frame=100))
    many = standin.msg_frame([standin.member(i, i, "x") for i in range(11)])
    with pytest.raises(FrameError, match="too many messages"):
        decode(many, Limits(max_messages=10))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_frame_error(data: bytes) -> None:
    try:
        decoded = decode(data)
    except FrameError:
        return
    mapper = MessageMapper("r")
    for message in decoded.response.messages if decoded.response else []:
        try:
            mapper.map(message)
        except MessageError:
            pass


def first(message_bytes: bytes) -> pb.Message:
    m = pb.Message()
    m.ParseFromString(message_bytes)
    return m


def test_gifts_count_each_gift_of_a_combo_once() -> None:
    mapper = MessageMapper("r")
    combo = [
        standin.gift(1, 5, "甲", "小心心", diamonds=1, repeat=1, group_id=900),
        standin.gift(2, 5, "甲", "小心心", diamonds=1, repeat=3, group_id=900),
        standin.gift(3, 5, "甲", "小心心", diamonds=1, repeat=3, group_id=900, end=True),  # the combo's end
        standin.gift(4, 5, "甲", "嘉年华", diamonds=30000),  # not a combo
    ]
    gifts = [e for m in combo for e in mapper.map(first(m))]
    assert all(isinstance(g, Gift) for g in gifts)
    assert [(g.gift_name, g.count, g.price) for g in gifts] == [  # type: ignore[attr-defined]
        ("小心心", 1, 0.1),
        ("小心心", 2, 0.2),
        ("嘉年华", 1, 3000.0),
    ]


def test_the_other_methods_map_to_their_events() -> None:
    mapper = MessageMapper("r", anchor_uid="77")
    (enter,) = mapper.map(first(standin.member(1, 2, "甲")))
    assert isinstance(enter, Enter) and enter.kind == "enter"
    (follow,) = mapper.map(first(standin.social(2, 3, "乙", 1)))
    (share,) = mapper.map(first(standin.social(3, 3, "乙", 3)))
    assert isinstance(follow, Enter) and follow.kind == "follow" and isinstance(share, Enter) and share.kind == "share"
    (like,) = mapper.map(first(standin.like(4, 3, "乙", 15, 2**40)))
    assert isinstance(like, Like) and like.count == 15 and like.total == 2**40
    (seen,) = mapper.map(first(standin.viewers(5, 3210, 98765)))
    assert isinstance(seen, ViewerCount) and (seen.online, seen.total) == (3210, 98765)
    assert mapper.map(first(standin.viewers(6, 3210, 98765))) == []  # the same counts again: nothing new
    (more,) = mapper.map(first(standin.viewers(7, 3211, 98766)))
    assert isinstance(more, ViewerCount) and more.online == 3211
    assert mapper.map(first(standin.control(6, 1))) == []
    (ended,) = mapper.map(first(standin.control(7, 3)))
    assert isinstance(ended, LiveStatus) and ended.status == "offline"
    (anchor_chat,) = mapper.map(first(standin.chat(8, 77, "主播", "全网最低价")))
    assert anchor_chat.user is not None and anchor_chat.user.is_anchor


def test_unknown_methods_are_logged_once_by_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.adapters.douyin")
    mapper = MessageMapper("r")
    for i in range(3):
        assert mapper.map(first(standin.message("WebcastBrandNewMessage", b"\x08\x01", i))) == []
    assert mapper.map(first(standin.message("WebcastRoomRankMessage", b"", 4))) == []  # known, ignored
    logged = [r.getMessage() for r in caplog.records if "WebcastBrandNewMessage" in r.getMessage()]
    assert len(logged) == 1
    assert not any("WebcastRoomRankMessage" in r.getMessage() for r in caplog.records)


def test_a_bad_message_payload_raises_message_error() -> None:
    with pytest.raises(MessageError, match="WebcastChatMessage"):
        MessageMapper("r").map(first(standin.message("WebcastChatMessage", b"\x12\xff\xff\xff\x7f", 1)))
