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


# --- the fast __init__ (bot.events.install_fast_init) ---------------------------------------------


def _plain_twin(cls: type) -> type:
    """The same dataclass as ``cls`` with dataclasses' own generated ``__init__``."""
    import dataclasses

    params = cls.__dataclass_params__
    fields = [(f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory,
                                                 kw_only=f.kw_only, compare=f.compare, repr=f.repr))
              for f in dataclasses.fields(cls)]  # fmt: skip
    return dataclasses.make_dataclass(f"Plain{cls.__name__}", fields, frozen=params.frozen, slots=True)


@pytest.mark.parametrize("cls", [Medal, User, *EVENT_TYPES.values()], ids=lambda c: c.__name__)
def test_the_fast_init_takes_what_the_dataclass_init_takes(cls):
    import dataclasses
    import inspect

    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    assert any(n.startswith("_set_") for n in cls.__init__.__code__.co_names)  # installed: slot setters
    twin = _plain_twin(cls)
    mine, theirs = inspect.signature(cls).parameters, inspect.signature(twin).parameters
    assert list(mine) == list(theirs)
    for name, p in mine.items():
        assert p.kind == theirs[name].kind, name
        has_factory = next(f for f in dataclasses.fields(cls) if f.name == name).default_factory
        if has_factory is dataclasses.MISSING:
            assert p.default == theirs[name].default, name
    required = {n: "x" for n, p in mine.items() if p.default is inspect.Parameter.empty}
    made, plain = cls(**required), twin(**required)
    for f in dataclasses.fields(cls):
        if f.default_factory is dataclasses.MISSING:
            assert getattr(made, f.name) == getattr(plain, f.name), f.name
        else:
            assert type(getattr(made, f.name)) is type(getattr(plain, f.name)), f.name  # made by the factory


def test_the_fast_init_keeps_frozen_and_rejects_what_the_dataclass_rejects():
    import dataclasses

    event = ChatMessage(room="r1", text="hi", user=HOSTILE)
    assert event == ChatMessage(room="r1", text="hi", user=HOSTILE, ts=event.ts)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.text = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ChatMessage()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ChatMessage("r1")  # type: ignore[misc]
    with pytest.raises(TypeError):
        ChatMessage(room="r1", colour="red")  # type: ignore[call-arg]
    assert User("1", "a") == User(id="1", name="a")
    assert ChatMessage(room="r1").ts != 0  # the factory ran


def test_a_dataclass_with_post_init_keeps_its_own_init():
    import dataclasses

    from bot.events import install_fast_init

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    before = Checked.__init__
    install_fast_init(Checked)
    assert Checked.__init__ is before
    with pytest.raises(ValueError):
        Checked(-1)
