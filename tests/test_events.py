"""Events: a stable JSON form that survives a round trip, viewer text kept verbatim."""

from __future__ import annotations

import json

import pytest

from bot.events import (
    EVENT_TYPES,
    AnchorSpeech,
    ChatMessage,
    EventFormatError,
    FaqReply,
    Gift,
    Medal,
    User,
    Warning,
    event_from_dict,
)

HOSTILE = User(
    id="42", name='<img src=x onerror=alert(1)>\u202e"', roles=("vip",), level=21, medal=Medal("粉丝团", 12), guard=3
)


@pytest.mark.parametrize(
    "event",
    [
        ChatMessage(
            room="r", platform="bilibili", user=HOSTILE, text="<script>alert(1)</script>\x00怎么退货", msg_id="m1"
        ),
        AnchorSpeech(room="r", text="全网最低价", segment="s1", final=False, source="ingest"),
        Gift(room="r", user=HOSTILE, gift_name="小心心", count=3, price=0.3),
        Warning(room="r", rule="absolute.lowest_price", phrase="全网最低价", start=0, end=5, severity="block"),
        FaqReply(
            room="r", faq_id="return", askers=(HOSTILE, User(id="7", name="b")), action="held", reason="faq_cooldown"
        ),
    ],
)
def test_json_round_trip(event) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(event.to_dict(), ensure_ascii=False))
    assert data["type"] == event.type
    assert {"type", "room", "platform", "seq", "ts", "user", "text"} <= data.keys()
    back = event_from_dict(data)
    assert back == event
    assert type(back) is type(event)


def test_viewer_text_is_verbatim() -> None:
    msg = ChatMessage(room="r", user=HOSTILE, text="<b>x</b>&amp;")
    data = msg.to_dict()
    assert data["text"] == "<b>x</b>&amp;"
    assert data["user"]["name"] == HOSTILE.name


def test_raw_payload_only_on_request() -> None:
    msg = ChatMessage(room="r", text="x", raw={"cmd": "DANMU_MSG"})
    assert "raw" not in msg.to_dict()
    assert msg.to_dict(include_raw=True)["raw"] == {"cmd": "DANMU_MSG"}


def test_with_seq_keeps_everything_else() -> None:
    msg = ChatMessage(room="r", text="x")
    assert msg.with_seq(9).seq == 9
    assert msg.with_seq(9).text == "x"
    assert msg.seq == 0


def test_every_contract_type_is_registered() -> None:
    for name in ("chat", "speech", "gift", "super_chat", "enter", "live_status", "warning", "faq_reply"):
        assert name in EVENT_TYPES


@pytest.mark.parametrize(
    "bad",
    [[], {"type": "nope", "room": "r"}, {"type": "chat"}, {"type": "chat", "room": "r", "user": "x"}],
)
def test_bad_json_raises_format_error(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EventFormatError):
        event_from_dict(bad)
