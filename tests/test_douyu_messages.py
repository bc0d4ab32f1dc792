"""Douyu message fields -> Events: roles, badges, gift values, live status, and untrusted fields."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.douyu import stt
from bot.adapters.douyu.messages import GiftInfo, MessageError, MessageParser
from bot.adapters.douyu.packets import SERVER, Packet, Splitter, encode
from bot.adapters.douyu.room_api import RoomApiError, parse_room
from bot.events import ChatMessage, Gift, LiveStatus


def chat(**fields: str) -> dict[str, str]:
    return {"type": "chatmsg", "uid": "42", "nn": "鱼友", "txt": "多少钱", **fields}


def test_chat_fields() -> None:
    (ev,) = MessageParser("r").parse(chat(level="38", bnn="拒绝R", bl="21", cid="00bd35", cst="1609614129227"))
    assert isinstance(ev, ChatMessage)
    assert (ev.text, ev.user.id, ev.user.name, ev.user.level, ev.msg_id) == ("多少钱", "42", "鱼友", 38, "00bd35")
    assert ev.user.medal is not None and (ev.user.medal.name, ev.user.medal.level) == ("拒绝R", 21)
    assert ev.platform_ts == pytest.approx(1609614129.227)


@pytest.mark.parametrize(
    ("fields", "roles"),
    [({"rg": "5"}, ("anchor",)), ({"rg": "4"}, ("moderator",)), ({"rg": "1"}, ()), ({"uid": "7"}, ("anchor",))],
)
def test_roles(fields: dict[str, str], roles: tuple[str, ...]) -> None:
    (ev,) = MessageParser("r", anchor_uid="7").parse(chat(**fields))
    assert ev.user.roles == roles


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "chatmsg", "nn": "x", "txt": "no uid"},
        {"type": "chatmsg", "uid": "abc", "txt": "x"},
        {"type": "chatmsg", "uid": "9" * 30, "txt": "x"},
        {"type": "chatmsg", "uid": "1"},
        {"type": "dgb", "uid": "1"},
        {"type": "rss", "ss": "maybe"},
        {"uid": "1", "txt": "no type"},
    ],
)
def test_what_a_message_must_have(fields: dict[str, str]) -> None:
    with pytest.raises(MessageError):
        MessageParser("r").parse(fields)


def test_junk_numbers_fall_back() -> None:
    (ev,) = MessageParser("r").parse(chat(level="lots", cst="-5", bl="x", bnn="b"))
    assert ev.user.level is None and ev.platform_ts is None and ev.user.medal.level == 0  # type: ignore[union-attr]
    (gift,) = MessageParser("r").parse({"type": "dgb", "uid": "1", "gfid": "824", "gfcnt": "-3"})
    assert isinstance(gift, Gift) and gift.count == 1


def test_gift_values_from_the_table() -> None:
    p = MessageParser("r")
    p.gifts = {"20000": GiftInfo("飞机", 100.0, True), "824": GiftInfo("荧光棒", 0.0, False)}
    plane, stick = p.parse({"type": "dgb", "uid": "1", "gfid": "20000", "gfcnt": "3"}) + p.parse(
        {"type": "dgb", "uid": "1", "gfid": "824", "gfcnt": "99"}
    )
    assert (plane.gift_name, plane.price, plane.paid, plane.currency) == ("飞机", 300.0, True, "CNY")
    assert (stick.gift_name, stick.price, stick.paid) == ("荧光棒", 0.0, False)


def test_live_status() -> None:
    p = MessageParser("r")
    assert [e.status for e in p.parse({"type": "rss", "ss": "1"}) if isinstance(e, LiveStatus)] == ["live"]
    assert [e.status for e in p.parse({"type": "rss", "ss": "0"}) if isinstance(e, LiveStatus)] == ["offline"]


def test_other_types_are_counted_with_a_bounded_set_of_names() -> None:
    p = MessageParser("r")
    for i in range(3000):
        assert p.parse({"type": f"t{i}"}) == []
    assert len(p.other_types) == 1000 and p.other_types["t0"] == 1


def test_room_api_parsing() -> None:
    info = parse_room(
        {
            "error": 0,
            "data": {
                "room_status": "2",
                "owner_name": "主播",
                "gift": [
                    {"id": "1", "name": "鱼丸", "type": "1", "pc": "100"},
                    {"id": "2", "name": "火箭", "type": "2", "pc": "500"},
                    {"id": "3", "name": "x", "type": "2", "pc": "NaN-ish"},
                    "junk",
                ],
            },
        }
    )
    assert info.live is False and info.owner_name == "主播"
    assert info.gifts == {"1": GiftInfo("鱼丸", 0.0, False), "2": GiftInfo("火箭", 500.0, True)}
    for bad in ({"error": 101, "data": "房间未找到"}, [], {"error": 0, "data": []}, None):
        with pytest.raises(RoomApiError):
            parse_room(bad)


VALUES = st.one_of(st.text(max_size=20), st.sampled_from(["", "0", "1", "5", "-1", "9" * 25, "1e9", "１２"]))


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["chatmsg", "dgb", "uenter", "rss", "loginres", "mrkl", "other"]),
    st.dictionaries(
        st.sampled_from(["uid", "nn", "txt", "level", "gfid", "gfcnt", "rg", "ss", "cst", "bnn", "bl"]), VALUES
    ),
)
def test_any_fields_give_events_or_a_message_error(kind: str, fields: dict[str, str]) -> None:
    try:
        events = MessageParser("r", anchor_uid="5").parse({"type": kind, **fields})
    except MessageError:
        return
    for ev in events:
        assert ev.room == "r" and ev.platform == "douyu"


STT_ISH = st.text(alphabet=st.sampled_from("@/=ASaxtype chatmsgdgbuid1中\x00"), max_size=80)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        STT_ISH.map(lambda t: encode(t, SERVER)),
        STT_ISH.map(lambda t: encode("type@=chatmsg/" + t, SERVER)),
    )
)
def test_random_bytes_through_the_whole_decoder(data: bytes) -> None:
    parser = MessageParser("r")
    for item in Splitter().feed(data):
        if isinstance(item, Packet):
            try:
                parser.parse(stt.loads(item.body))
            except (stt.SttError, MessageError):
                pass
