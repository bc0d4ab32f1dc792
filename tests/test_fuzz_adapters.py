"""Property tests: whatever a platform sends, no exception escapes the frame boundary.

Each decoder and command parser gets realistic input with fields swapped for values of the wrong
kind ("--1", "²", nested lists, huge numbers, control characters), and plain garbage. The parsers
themselves may only raise their own error type (which the adapter drops and counts); the adapter's
per-frame / per-line entry point must raise nothing at all. Example counts stay modest for CI.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import brotli
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.bilibili import BilibiliAdapter
from bot.adapters.bilibili.commands import CommandError, CommandParser
from bot.adapters.bilibili.frames import Op, Proto, encode
from bot.adapters.irc import IrcParseError, parse_line
from bot.adapters.replay import ReplayAdapter, load_recording
from bot.adapters.twitch import LoginFailed, ReconnectRequested, TwitchAdapter
from bot.config import BilibiliSettings, RoomSettings, TwitchSettings
from bot.events import Event
from tests.loopback.bilibili import danmu, send_gift

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# the values a lying server puts where a number, a name or a list belongs
LIES = st.one_of(
    st.sampled_from(["--1", "²", "١٢٣", "-", "", " 7 ", "1e5", "0x10", "9" * 40, "\x00", "<b>x</b>", "NaN"]),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


@st.composite
def lying(draw: st.DrawFn, seeds: list[Any]) -> Any:
    """A real payload with a few of its fields (anywhere, at any depth) replaced by lies."""
    value = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 5))):
        path = draw(st.sampled_from(_paths(value)))
        value = _replace(value, path, draw(LIES))
    return value


def _commands() -> list[dict[str, Any]]:
    medal = {"medal_name": "青禾", "medal_level": 5}
    return [
        danmu(501, "观众", "有优惠吗", medal=(3, "青禾"), reply_uname="小明"),
        send_gift(502, "观众", "小花花", 3),
        {"cmd": "SUPER_CHAT_MESSAGE", "data": {"message": "好", "price": 30, "uid": 3, "time": 60, "id": 9,
                                               "user_info": {"uname": "u", "user_level": 3, "guard_level": 0},
                                               "medal_info": medal, "start_time": 1_700_000_000}},
        {"cmd": "SUPER_CHAT_MESSAGE_DELETE", "data": {"ids": [1, 2]}},
        {"cmd": "GUARD_BUY", "data": {"guard_level": 3, "num": 1, "uid": 4, "username": "u", "price": 198000,
                                      "gift_name": "舰长", "start_time": 1_700_000_000}},
        {"cmd": "INTERACT_WORD", "data": {"uid": 5, "uname": "u", "msg_type": 1, "timestamp": 1_700_000_000,
                                          "fans_medal": medal}},
        {"cmd": "INTERACT_WORD_V2", "data": {"pb": "CAUSAnUxKAE="}},
        {"cmd": "LIVE"},
        {"cmd": "PREPARING"},
        {"cmd": "WARNING", "msg": "违规"},
        {"cmd": "CUT_OFF", "msg": "切断"},
        {"cmd": "LOG_IN_NOTICE", "data": {"notice_msg": "登录"}},
        {"cmd": "SOMETHING_NEW", "data": {}},
    ]  # fmt: skip


COMMANDS = _commands()


@FUZZ
@given(st.one_of(lying(COMMANDS), LIES))
def test_command_parser_raises_only_command_error(payload: Any) -> None:
    parser = CommandParser("shop", anchor_uid="1001", bot_uid="4242")
    try:
        events = parser.parse(payload)
    except CommandError:
        return
    for ev in events:
        json.dumps(ev.to_dict(include_raw=True), ensure_ascii=False)  # and what it made can be audited


def _bilibili() -> BilibiliAdapter:
    # never dials: only its per-message decoder is used (an unused session needs no loop)
    return BilibiliAdapter(
        RoomSettings(name="shop", platform="bilibili", room_id="77"),
        BilibiliSettings(),
        aiohttp.ClientSession.__new__(aiohttp.ClientSession),
    )


@st.composite
def bilibili_messages(draw: st.DrawFn) -> bytes:
    """Websocket messages: lying commands in real frame shapes, with bytes cut, flipped or added."""
    payloads = draw(st.lists(lying(COMMANDS), min_size=1, max_size=4))
    body = [json.dumps(p, ensure_ascii=False, default=str) for p in payloads]
    shape = draw(st.sampled_from(["plain", "brotli", "zlib", "auth"]))
    inner = b"".join(encode(Op.MESSAGE, b, proto=Proto.JSON) for b in body)
    if shape == "plain":
        data = inner
    elif shape == "auth":
        data = encode(Op.AUTH_REPLY, draw(st.sampled_from(['{"code":0}', '{"code":"0"}', "[]", "{"])))
    elif shape == "brotli":
        data = encode(Op.MESSAGE, brotli.compress(inner), proto=Proto.BROTLI)
    else:
        data = encode(Op.MESSAGE, zlib.compress(inner), proto=Proto.ZLIB)
    raw = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        if not raw:
            break
        i = draw(st.integers(0, len(raw) - 1))
        raw[i : i + draw(st.integers(0, 4))] = draw(st.binary(max_size=4))
    return bytes(raw)


@FUZZ
@given(bilibili_messages(), st.booleans())
def test_bilibili_frame_boundary_lets_nothing_escape(message: bytes, authed: bool) -> None:
    adapter = _bilibili()
    events, _auth = adapter._decode(message, authed)
    assert all(isinstance(e, Event) for e in events)
    assert adapter.dropped >= 0


# --- Twitch IRC --------------------------------------------------------------------------------

TAGS = ["tmi-sent-ts", "bits", "user-id", "login", "display-name", "badges", "msg-id", "id", "mod",
        "msg-param-sub-plan", "msg-param-multimonth-duration", "msg-param-mass-gift-count",
        "msg-param-community-gift-id", "system-msg", "reply-parent-display-name", "ban-duration"]  # fmt: skip
TAG_VALUES = st.one_of(
    st.sampled_from(["--1", "²", "١٢", "-5", "0", "100", "9" * 30, "broadcaster/1,moderator/1", "sub", "resub",
                     "subgift", "submysterygift", "announcement", "1000", "Prime", "\\s\\:\\\\", ""]),
    st.text(alphabet=st.characters(blacklist_characters="\r\n\0 ;"), max_size=12),
)  # fmt: skip
COMMAND_NAMES = ["PRIVMSG", "USERNOTICE", "NOTICE", "CLEARCHAT", "CLEARMSG", "USERSTATE", "GLOBALUSERSTATE",
                 "ROOMSTATE", "JOIN", "PING", "PART", "001", "WHATEVER"]  # fmt: skip


@st.composite
def irc_lines(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(max_size=80))
    tags = draw(st.dictionaries(st.sampled_from(TAGS), TAG_VALUES, max_size=6))
    tag_text = ";".join(f"{k}={v}" for k, v in tags.items())
    nick = draw(st.sampled_from(["viewer", "qinghe", "", "a!b@c"]))
    command = draw(st.sampled_from(COMMAND_NAMES))
    channel = draw(st.sampled_from(["#qinghe", "#other", "", "qinghe"]))
    trailing = draw(st.text(alphabet=st.characters(blacklist_characters="\r\n\0"), max_size=20))
    prefix = f":{nick}!{nick}@{nick}.tmi.twitch.tv " if nick else ""
    line = f"{prefix}{command} {channel} :{trailing}"
    return f"@{tag_text} {line}" if tags else line


@FUZZ
@given(irc_lines())
def test_irc_parser_raises_only_irc_parse_error(line: str) -> None:
    try:
        parse_line(line)
    except IrcParseError:
        pass


class _Wire:
    """Stands in for the websocket: PONGs go nowhere."""

    closed = False

    async def send_str(self, data: str) -> None:
        pass


@FUZZ
@given(st.lists(irc_lines(), min_size=1, max_size=5))
def test_twitch_line_boundary_lets_nothing_escape(lines: list[str]) -> None:
    adapter = TwitchAdapter(
        RoomSettings(name="tw", platform="twitch", room_id="qinghe"),
        TwitchSettings(),
        aiohttp.ClientSession.__new__(aiohttp.ClientSession),
    )

    async def feed() -> list[Event]:
        out: list[Event] = []
        for line in lines:
            try:
                out += await adapter._line(_Wire(), line)  # type: ignore[arg-type]
            except (LoginFailed, ReconnectRequested):
                pass  # how a connection ends on purpose, not an escape
        return out

    events = asyncio.run(feed())
    for ev in events:
        json.dumps(ev.to_dict(include_raw=True), ensure_ascii=False)


# --- replay recordings ------------------------------------------------------------------------

RECORDING_SEEDS = [
    {"t": 1.5, "type": "chat", "user": {"id": "1", "name": "a", "roles": ["anchor"]}, "text": "hi"},
    {"t": 2, "type": "speech", "text": "全网最低价", "segment": "s1", "final": True},
    {"t": 3, "type": "gift", "user": {"id": "2", "name": "b", "medal": {"name": "m", "level": 2}},
     "gift_name": "花", "count": 2, "price": 1.0},
]  # fmt: skip


@st.composite
def recording_lines(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=40))
    if choice == 1:
        return "[" * draw(st.integers(1, 50_000))  # nesting deep enough to make json recurse
    if choice == 2:
        return json.dumps({"t": draw(st.sampled_from([1e309, -1, "1", None, True])), "type": "chat"})
    return json.dumps(draw(lying(RECORDING_SEEDS)), ensure_ascii=False, default=str)


@FUZZ
@given(st.lists(recording_lines(), min_size=1, max_size=6))
def test_replay_lines_cost_only_themselves(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    path: Path = tmp_path_factory.mktemp("rec") / "show.jsonl"
    good = json.dumps({"t": 0.0, "type": "chat", "user": {"id": "9", "name": "z"}, "text": "always"})
    # a lone surrogate goes to disk as the invalid bytes a broken file would hold
    path.write_bytes(("\n".join([*lines, good]) + "\n").encode("utf-8", "surrogatepass"))
    recording = load_recording(path)
    assert recording[-1][1]["text"] == "always"
    assert all(0 <= t < float("inf") for t, _ in recording)
    adapter = ReplayAdapter("shop", path)
    for lineno, (_t, obj) in enumerate(recording, 1):
        adapter._event(obj, lineno)  # an event, or None and a log line: never an exception


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=80)))
def test_protobuf_reader_raises_only_pb_error(data: bytes | str) -> None:
    from bot.adapters.bilibili import pb

    try:
        fields = pb.from_base64(data) if isinstance(data, str) else pb.parse(data)
        for number in list(fields)[:5]:
            pb.first_int(fields, number)
            pb.first_str(fields, number)
            pb.first_msg(fields, number)
    except pb.PbError:
        pass
