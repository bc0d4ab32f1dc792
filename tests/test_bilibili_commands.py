"""Bilibili command JSON -> Events: every mapped command, roles, masking, hostile payloads."""

from __future__ import annotations

import base64
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.bilibili import pb
from bot.adapters.bilibili.commands import CommandError, CommandParser
from bot.events import (
    ChatMessage,
    Enter,
    Gift,
    GuardBuy,
    LiveStatus,
    Medal,
    PlatformNotice,
    SuperChat,
    SuperChatDelete,
)
from tests.loopback.bilibili import danmu, send_gift

ANCHOR, BOT = 1001, 4242


@pytest.fixture
def parser() -> CommandParser:
    return CommandParser("shop", anchor_uid=str(ANCHOR), bot_uid=str(BOT))


def test_danmu_msg_fields(parser: CommandParser) -> None:
    payload = danmu(
        555,
        "小红",
        "有优惠券吗",
        medal=(21, "青禾"),
        level=17,
        guard=3,
        admin=True,
        reply_uname="小明",
        id_str="abc123",
        ts_ms=1_700_000_000_123,
    )
    [ev] = parser.parse(payload)
    assert isinstance(ev, ChatMessage)
    assert (ev.room, ev.platform, ev.text, ev.msg_id, ev.reply_to) == (
        "shop",
        "bilibili",
        "有优惠券吗",
        "abc123",
        "小明",
    )
    assert ev.platform_ts == pytest.approx(1_700_000_000.123)
    assert ev.user is not None
    assert (ev.user.id, ev.user.name, ev.user.level, ev.user.guard) == ("555", "小红", 17, 3)
    assert ev.user.medal == Medal(name="青禾", level=21)
    assert ev.user.roles == ("moderator",)
    assert not ev.emoticon and ev.raw is payload


def test_danmu_roles_anchor_bot_and_masked(parser: CommandParser) -> None:
    [anchor] = parser.parse(danmu(ANCHOR, "主播", "全网最低价"))
    [bot] = parser.parse(danmu(BOT, "机器人", "七天无理由"))
    [masked] = parser.parse(danmu(0, "提***", "hi"))
    assert anchor.user.roles == ("anchor",) and anchor.user.is_anchor  # type: ignore[union-attr]
    assert bot.user.roles == ("bot",)  # type: ignore[union-attr]
    assert masked.user.roles == () and masked.user.id == "0"  # type: ignore[union-attr]
    # with no anchor uid known, uid 0 must never become the anchor
    assert CommandParser("r").parse(danmu(0, "x", "y"))[0].user.roles == ()  # type: ignore[union-attr]


def test_danmu_emoticon_and_no_medal(parser: CommandParser) -> None:
    [ev] = parser.parse(danmu(7, "a", "[哈哈]", emoticon=True))
    assert isinstance(ev, ChatMessage) and ev.emoticon and ev.user.medal is None  # type: ignore[union-attr]


def test_gifts_guard_super_chat(parser: CommandParser) -> None:
    [gift] = parser.parse(send_gift(9, "观众", "小花花", num=10, price=100))
    assert isinstance(gift, Gift)
    assert (gift.gift_name, gift.count, gift.price, gift.paid) == ("小花花", 10, pytest.approx(1.0), True)
    [free] = parser.parse(send_gift(9, "观众", "辣条", num=3, price=100, coin_type="silver"))
    assert free.price == 0.0 and not free.paid  # type: ignore[attr-defined]
    guard = {
        "cmd": "GUARD_BUY",
        "data": {
            "uid": 9,
            "username": "观众",
            "guard_level": 3,
            "num": 2,
            "price": 198000,
            "gift_name": "舰长",
            "start_time": 1700000000,
        },
    }
    [g] = parser.parse(guard)
    assert isinstance(g, GuardBuy) and (g.level, g.months, g.price, g.text) == (3, 2, 396.0, "舰长")
    sc = {
        "cmd": "SUPER_CHAT_MESSAGE",
        "data": {
            "id": 8123,
            "uid": 9,
            "message": "主播能便宜点吗",
            "price": 30,
            "time": 60,
            "start_time": 1700000000,
            "user_info": {"uname": "观众", "guard_level": 0, "user_level": 5},
            "medal_info": {"medal_name": "青禾", "medal_level": 3},
        },
    }
    [s] = parser.parse(sc)
    assert isinstance(s, SuperChat) and (s.sc_id, s.price, s.duration, s.text) == ("8123", 30.0, 60, "主播能便宜点吗")
    [d] = parser.parse({"cmd": "SUPER_CHAT_MESSAGE_DELETE", "data": {"ids": [8123, "8124"]}})
    assert isinstance(d, SuperChatDelete) and d.sc_ids == ("8123", "8124")


def test_interact_word_and_v2_deduplicated(parser: CommandParser) -> None:
    v1 = {
        "cmd": "INTERACT_WORD",
        "data": {
            "uid": 295083322,
            "uname": "楠木Hotaru",
            "msg_type": 1,
            "timestamp": 1786116094,
            "fans_medal": {"medal_name": "泛团", "medal_level": 22},
        },
    }
    [ev] = parser.parse(v1)
    assert isinstance(ev, Enter) and ev.kind == "enter" and ev.user.medal == Medal("泛团", 22)  # type: ignore[union-attr]
    # A recorded INTERACT_WORD_V2 (bilibili-api documentation); it is the same enter as v1 above.
    v2 = {"cmd": "INTERACT_WORD_V2", "data": {"dmscore": 10, "pb": RECORDED_INTERACT_V2}}
    assert parser.parse(v2) == []
    fresh = CommandParser("r")
    [ev2] = fresh.parse(v2)
    assert isinstance(ev2, Enter)
    assert (ev2.user.id, ev2.user.name, ev2.kind) == ("295083322", "楠木Hotaru", "enter")  # type: ignore[union-attr]
    assert ev2.user.medal == Medal("泛团", 22) and ev2.platform_ts == 1786116094  # type: ignore[union-attr]
    follow = {"cmd": "INTERACT_WORD", "data": {"uid": 5, "uname": "b", "msg_type": 2, "timestamp": 1}}
    assert parser.parse(follow)[0].kind == "follow"  # type: ignore[attr-defined]


RECORDED_INTERACT_V2 = (
    "CLq62owBEgzmpaDmnKhIb3RhcnUiAgMBKAEwxYkCOP7v19MGQJTT9+z9M0ooCP/tAxAWGgbms5vlm6Igy6hpKMuoaTCSu8oCOMuoaUABYMWJAmj3"
    "GmIAeMSQ9uX64+PkGJoBALIBygEIurrajAESWgoM5qWg5pyoSG90YXJ1EkpodHRwczovL2kxLmhkc2xiLmNvbS9iZnMvZmFjZS9lYjliZDBjYjVj"
    "MzVmOWM0YzNhYzkyMzNkNTljODMxZTBjMzAxYzc1LmpwZxpgCgbms5vlm6IQFhjLqGkgkrvKAijLqGkwy6hpOLIRSAFQ/+0DYPcaegkjM0ZCNEY2"
    "OTmCAQkjM0ZCNEY2OTmKAQkjM0ZCNEY2OTmSAQcjRkZGRkZGmgEJIzNGQjRGNkU2IgIIBTIAugEAwgEA"
)


def test_live_status_and_platform_notices(parser: CommandParser, caplog: pytest.LogCaptureFixture) -> None:
    [live] = parser.parse({"cmd": "LIVE", "roomid": 1})
    assert isinstance(live, LiveStatus) and live.status == "live" and live.room == "shop"
    assert parser.parse({"cmd": "PREPARING", "roomid": "1"})[0].status == "preparing"  # type: ignore[attr-defined]
    [w] = parser.parse({"cmd": "WARNING", "msg": "直播间违规，请立即调整", "roomid": 1})
    assert isinstance(w, PlatformNotice) and (w.kind, w.text) == ("warning", "直播间违规，请立即调整")
    [c] = parser.parse({"cmd": "CUT_OFF", "msg": "违反直播规范", "roomid": 1})
    assert isinstance(c, PlatformNotice) and c.kind == "cut_off"
    notice = {"cmd": "LOG_IN_NOTICE", "data": {"notice_msg": "为保护用户隐私，未登录无法查看他人昵称"}}
    with caplog.at_level(logging.WARNING):
        [n] = parser.parse(notice)
        assert parser.parse(notice) == []  # once
    assert isinstance(n, PlatformNotice) and n.kind == "login_notice"
    masked_warnings = [r for r in caplog.records if "masks viewer names" in r.getMessage()]
    assert len(masked_warnings) == 1 and "SESSDATA" in masked_warnings[0].getMessage()


def test_unknown_commands_logged_once(parser: CommandParser, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert parser.parse({"cmd": "SOMETHING_NEW:1", "data": {}}) == []
            assert parser.parse({"cmd": "WATCHED_CHANGE", "data": {"num": 1}}) == []
            assert parser.parse({"cmd": "SEND_GIFT_V2", "data": {"pb": "CAE="}}) == []
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("SOMETHING_NEW" in m for m in msgs) == 1
    assert sum("SEND_GIFT_V2" in m for m in msgs) == 1
    assert not any("WATCHED_CHANGE" in m for m in msgs)


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "DANMU_MSG",
        {"cmd": 5},
        {"cmd": "DANMU_MSG"},
        {"cmd": "DANMU_MSG", "info": [[], None, []]},
        {"cmd": "DANMU_MSG", "info": "x"},
        {"cmd": "SEND_GIFT", "data": []},
        {"cmd": "SUPER_CHAT_MESSAGE", "data": {"message": 5}},
        {"cmd": "SUPER_CHAT_MESSAGE_DELETE", "data": {"ids": "1"}},
        {"cmd": "GUARD_BUY", "data": {"guard_level": 9}},
        {"cmd": "INTERACT_WORD", "data": None},
        {"cmd": "INTERACT_WORD_V2", "data": {"pb": "!!!not base64"}},
        {"cmd": "INTERACT_WORD_V2", "data": {"pb": base64.b64encode(b"\x08\xff").decode()}},
    ],
)
def test_malformed_known_commands_raise_command_error(parser: CommandParser, payload: object) -> None:
    with pytest.raises(CommandError):
        parser.parse(payload)


def test_odd_field_types_do_not_crash(parser: CommandParser) -> None:
    p = danmu(1, "a", "b")
    p["info"][2][0] = "not a number"
    p["info"][3] = "medal?"
    p["info"][4] = None
    p["info"][0][4] = 1e400  # inf after JSON parsing
    p["info"][0][15] = {"extra": "{broken json"}
    [ev] = parser.parse(p)
    assert ev.user.id == "0" and ev.platform_ts is None and ev.msg_id is None  # type: ignore[union-attr, attr-defined]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=6), children, max_size=6),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(
        [
            "DANMU_MSG",
            "SEND_GIFT",
            "SUPER_CHAT_MESSAGE",
            "SUPER_CHAT_MESSAGE_DELETE",
            "GUARD_BUY",
            "INTERACT_WORD",
            "INTERACT_WORD_V2",
            "WARNING",
            "CUT_OFF",
            "LOG_IN_NOTICE",
            "LIVE",
            "X",
        ]
    ),
    json_values,
    json_values,
)
def test_fuzz_commands_only_raise_command_error(cmd: str, data: object, info: object) -> None:
    parser = CommandParser("r", anchor_uid="1")
    try:
        for ev in parser.parse({"cmd": cmd, "data": data, "info": info, "msg": info}):
            ev.to_dict()  # every event it makes has a JSON form
    except CommandError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_protobuf_reader_only_raises_pb_error(data: bytes) -> None:
    try:
        fields = pb.parse(data)
        for values in fields.values():
            for v in values:
                if isinstance(v, bytes):
                    try:
                        pb.parse(v)
                    except pb.PbError:
                        pass
    except pb.PbError:
        pass


# --- the typed fast path of the usual danmaku gives the general path's events ---------------------

_JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
    max_leaves=8,
)


def _general(body: bytes, raw: object) -> list[dict[str, object]] | str:
    from bot.adapters.bilibili.frames import FrameError, Packet, json_body

    try:
        events = CommandParser("r", anchor_uid="7", bot_uid="8").parse(json_body(Packet(0, 5, 1, body)), raw=raw)
    except (FrameError, CommandError) as exc:
        return type(exc).__name__
    return [{k: v for k, v in e.to_dict().items() if k != "ts"} for e in events]


def _typed(body: bytes, raw: object) -> list[dict[str, object]] | None:
    events = CommandParser("r", anchor_uid="7", bot_uid="8").danmu_bytes(body, raw)
    return None if events is None else [{k: v for k, v in e.to_dict().items() if k != "ts"} for e in events]


@settings(max_examples=300, deadline=None)
@given(
    where=st.sampled_from(
        [(1,), (2,), (2, 0), (2, 1), (2, 2), (3,), (3, 0), (3, 1), (4,), (4, 0), (7,), (0, 4), (0, 12), (0, 15),
         (0, 15, "extra"), (0,), ()]
    ),
    value=_JSON,
    reply=st.sampled_from(["", "小明", 5]),
    uid=st.sampled_from([7, 8, 100, 0]),
    emoticon=st.booleans(),
    medal=st.sampled_from([None, (3, "粉丝团")]),
)  # fmt: skip
def test_the_typed_danmaku_path_gives_the_general_paths_events(
    where: tuple[object, ...], value: object, reply: object, uid: int, emoticon: bool, medal: tuple[int, str] | None
) -> None:
    import json

    import orjson

    payload = danmu(uid, "观众", "有货吗？", reply_uname="x", emoticon=emoticon, medal=medal)
    extra = orjson.loads(payload["info"][0][15]["extra"])
    extra["reply_uname"] = reply
    payload["info"][0][15]["extra"] = orjson.dumps(extra).decode()
    if where:
        node = payload["info"]
        for key in where[:-1]:
            node = node[key]
        if isinstance(node, list) and len(node) <= where[-1]:  # type: ignore[operator]
            node.append(value)  # an empty medal list, say: the value goes where there is room
        else:
            node[where[-1]] = value
    else:
        payload["info"] = value
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()  # big integers too
    typed = _typed(body, object())
    if typed is not None:
        assert typed == _general(body, object())


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b.replace("有货吗".encode(), b"\xff\xfe"),  # not UTF-8: the general path drops it
        lambda b: b.replace("有货吗".encode(), b"\\ud800"),  # a lone surrogate escape
        lambda b: b.replace(b'"a53e47f1"', b"NaN"),
        lambda b: b.replace(b'"a53e47f1"', b"1e999"),
        lambda b: b.replace(b'"a53e47f1"', b"123456789012345678901234567890"),
        lambda b: b.replace(b'{"cmd":"DANMU_MSG:4:0:2:2:2:0",', b'{"cmd":"DANMU_MSG","cmd":"SEND_GIFT",'),
        lambda b: b.replace(b'{"cmd":"DANMU_MSG:4:0:2:2:2:0",', b'{"cmd":"SEND_GIFT","cmd":"DANMU_MSG",'),
        lambda b: b[:-1] + b',"info":[]}',
        lambda b: b + b"x",
        lambda b: b.replace(b'"a53e47f1"', b"[" * 3000 + b"]" * 3000),
        lambda b: b.replace(b'\\"id_str\\"', b'\\"id\\\\u005fstr\\"'),
        lambda b: b.replace(b'\\"reply_uname\\": \\"x\\"', b'\\"reply_uname\\": \\"\\\\ud800\\"'),
        lambda b: b.replace(b'\\"send_from_me\\"', b'\\"reply_uname\\": 12, \\"send_from_me\\"'),
        lambda b: b,
    ],
)
def test_the_typed_danmaku_path_agrees_on_odd_bytes(mangle: object) -> None:
    import json

    body = json.dumps(danmu(9, "观众", "有货吗", reply_uname="x"), ensure_ascii=False, separators=(",", ":")).encode()
    odd = mangle(body)  # type: ignore[operator]
    typed = _typed(odd, object())
    if typed is not None:
        assert typed == _general(odd, object())
    if odd == body:
        assert typed is not None and typed == _general(odd, object())


@pytest.mark.parametrize("uid", [-(1 << 63) - 1, 1 << 64, (1 << 64) + 5])
def test_an_integer_beyond_64_bits_gets_the_general_paths_verdict(uid: int) -> None:
    import json

    # orjson reads such an integer as a float (the careful path then refuses it as an id); msgspec
    # reads it exactly: the typed path must not give another user id than the general one
    body = json.dumps(danmu(uid, "观众", "有货吗？"), ensure_ascii=False, separators=(",", ":")).encode()
    typed = _typed(body, object())
    assert typed is None or typed == _general(body, object())
    general = _general(body, object())
    assert isinstance(general, list) and general[0]["user"]["id"] == "0"
