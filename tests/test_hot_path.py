"""The cheaper hot path gives the same results as the careful one: the Bilibili danmaku fast path,
raw payloads audited as the packet's own bytes, event copies, remembered viewers, the FAQ's share
of a core, the loop-lag figures and the FAQ tokenizer's shared dictionary."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.bilibili.commands import CommandParser
from bot.adapters.bilibili.frames import decode, json_body
from bot.audit import AuditLog, raw_json
from bot.events import EVENT_TYPES, ChatMessage, EncodedRaw, FaqReply, SuperChatDelete, User, Warning
from bot.loop_budget import LoopBudget, LoopLag
from tests.loopback.bilibili import brotli_frame, danmu, pack

ANCHOR = 1001


def careful(parser: CommandParser, payload: dict[str, Any]) -> list[Any]:
    """The parser's defensive path alone (the fast path switched off for this call)."""
    parser._danmu_fast = lambda p: None  # type: ignore[method-assign]
    try:
        return parser.parse(payload)
    finally:
        del parser._danmu_fast


texts = st.text(min_size=0, max_size=12)
ints = st.one_of(st.integers(min_value=-5, max_value=10**15), st.booleans(), st.none(), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(
    uid=st.one_of(st.integers(min_value=0, max_value=10**12), st.sampled_from([ANCHOR, 0])),
    name=texts,
    text=texts,
    medal=st.one_of(st.none(), st.tuples(st.integers(0, 40), texts)),
    level=st.integers(0, 60),
    guard=st.integers(-1, 4),
    admin=st.booleans(),
    emoticon=st.booleans(),
    reply=texts,
    ts_ms=st.integers(min_value=1, max_value=10**15),
    tamper=st.lists(st.tuples(st.sampled_from(["sender0", "sender2", "level", "guard", "meta4", "meta12"]), ints)),
)
def test_the_danmaku_fast_path_gives_the_careful_paths_event(
    uid: int,
    name: str,
    text: str,
    medal: tuple[int, str] | None,
    level: int,
    guard: int,
    admin: bool,
    emoticon: bool,
    reply: str,
    ts_ms: int,
    tamper: list[tuple[str, Any]],
) -> None:
    payload = danmu(uid, name, text, medal=medal, level=level, guard=guard, admin=admin, emoticon=emoticon,
                    reply_uname=reply, id_str="id1", ts_ms=ts_ms)  # fmt: skip
    info = payload["info"]
    for where, value in tamper:  # odd field types: the fast path must step aside, never differ
        if where == "sender0":
            info[2][0] = value
        elif where == "sender2":
            info[2][2] = value
        elif where == "level":
            info[4][0] = value
        elif where == "guard":
            info[7] = value
        elif where == "meta4":
            info[0][4] = value
        else:
            info[0][12] = value
    fast = CommandParser("shop", anchor_uid=str(ANCHOR))
    slow = CommandParser("shop", anchor_uid=str(ANCHOR))
    got, want = fast.parse(payload), careful(slow, payload)
    assert [e.to_dict(include_raw=True) | {"ts": 0} for e in got] == [
        e.to_dict(include_raw=True) | {"ts": 0} for e in want
    ]


def test_a_viewer_is_remembered_until_the_anchor_is_known_and_then_gets_the_role() -> None:
    parser = CommandParser("shop")
    [first] = parser.parse(danmu(ANCHOR, "主播", "大家好", id_str="a"))
    [again] = parser.parse(danmu(ANCHOR, "主播", "再说一次", id_str="b"))
    assert first.user is again.user and not first.user.is_anchor  # one User for a repeating viewer
    parser.anchor_uid = str(ANCHOR)  # the room's set-up found out who the anchor is
    [later] = parser.parse(danmu(ANCHOR, "主播", "全网最低价", id_str="c"))
    assert later.user is not None and later.user.is_anchor


def test_a_danmaku_is_audited_with_its_packets_own_bytes(tmp_path: Path) -> None:
    payload = danmu(555, "小红", "有优惠券吗", id_str="x1")
    [leaf] = decode(brotli_frame([payload]))
    parser = CommandParser("shop")
    [event] = parser.parse(json_body(leaf), raw=raw_json(leaf.body))
    assert isinstance(event.raw, EncodedRaw) and event.raw.json == leaf.body  # not re-encoded
    assert event.raw["cmd"] == payload["cmd"] and event.raw.decoded() == payload
    audit = AuditLog(tmp_path)
    audit.write(event.with_seq(1))
    audit.close()
    [line] = (tmp_path / "shop" / f"{dt.date.today().isoformat()}.jsonl").read_text("utf-8").splitlines()
    record = json.loads(line)
    assert record["raw"] == payload and record["text"] == "有优惠券吗" and record["seq"] == 1


def test_a_body_with_line_breaks_between_its_tokens_is_re_encoded_into_one_line(tmp_path: Path) -> None:
    payload = danmu(555, "小红", "换行\n也是文字", id_str="x2")
    body = json.dumps(payload, ensure_ascii=False, indent=1).encode()  # valid JSON, many lines
    assert raw_json(body) is None  # not kept as it came: it would tear the audit line
    [leaf] = decode(pack(5, body))
    parser = CommandParser("shop")
    [event] = parser.parse(json_body(leaf), raw=raw_json(leaf.body))
    audit = AuditLog(tmp_path)
    audit.write(event.with_seq(1))
    audit.close()
    lines = (tmp_path / "shop" / f"{dt.date.today().isoformat()}.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["raw"] == payload


def test_event_copies_leave_the_original_as_it_was_and_keep_every_field() -> None:
    user = User(id="7", name="v", roles=("moderator",))
    events = [
        ChatMessage(room="r", platform="bilibili", user=user, text="hi", msg_id="m", raw={"a": 1}),
        Warning(room="r", rule="absolute", phrase="最", start=1, end=2, source_seq=3),
        FaqReply(room="r", faq_id="ship", askers=(user, user), score=0.5),
        SuperChatDelete(room="r", sc_ids=("1", "2")),
    ]
    for event in events:
        before = event.to_dict(include_raw=True)
        copy = event.copied(9, None)
        assert event.to_dict(include_raw=True) == before  # the original is untouched
        assert type(copy) is type(event) and copy.seq == 9 and copy.raw is None
        assert copy.to_dict(include_raw=True) == {k: v for k, v in before.items() if k != "raw"} | {"seq": 9}
        assert event.with_seq(4).raw is event.raw and event.without_raw().raw is None
    # every event type's JSON form still names its type and turns tuples into lists
    for cls in EVENT_TYPES.values():
        d = cls(room="r").to_dict()
        assert d["type"] == cls.TYPE and not any(isinstance(v, tuple) for v in d.values())
    assert events[2].to_dict()["askers"] == [user.to_dict(), user.to_dict()]


@pytest.mark.asyncio
async def test_work_past_its_share_of_a_core_waits_for_the_next_window() -> None:
    spent = [0.0]
    budget = LoopBudget(600.0, share=0.1, window=0.2)
    budget.meter = lambda: spent[0]
    await budget.turn()  # opens a window
    spent[0] += 0.01  # within 10 % of 0.2 s
    await budget.turn()
    assert budget.share_exhausted == 0
    spent[0] += 0.05  # past it: the next turn waits for the next window
    await budget.turn()
    assert budget.share_exhausted >= 1
    exhausted = budget.share_exhausted
    await budget.turn()  # a fresh window: its share is whole again
    assert budget.share_exhausted == exhausted


@pytest.mark.asyncio
async def test_a_budget_without_a_meter_never_waits_for_a_window() -> None:
    budget = LoopBudget(600.0, share=0.0001, window=60.0)
    for _ in range(3):
        await budget.turn()
    assert budget.share_exhausted == 0


def hold_the_loop(seconds: float) -> None:
    """What a long synchronous step does to every task of the loop."""
    time.sleep(seconds)


@pytest.mark.asyncio
async def test_loop_lag_counts_a_blocked_loop() -> None:
    lag = LoopLag(every=0.01)
    lag.start()
    try:
        while lag.ticks < 2:  # noqa: ASYNC110 - waiting for the timer itself
            await asyncio.sleep(0.01)
        hold_the_loop(0.12)  # the next tick is at least 100 ms late
        ticks = lag.ticks
        while lag.ticks == ticks:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    finally:
        lag.stop()
    status = lag.status()
    assert status["over_ms"]["100"] >= 1 and status["longest_ms"] >= 100  # type: ignore[index, operator]
    lag.reset()
    assert lag.status()["ticks"] == 0


def test_the_faq_tokenizer_has_its_own_words_over_the_shared_dictionary() -> None:
    import jieba

    from bot.faq.normalize import _Jieba

    tok = _Jieba.get(["全网最低价测试词"])
    assert tok is not jieba.dt and tok.FREQ is not jieba.dt.FREQ
    assert "全网最低价测试词" in tok.FREQ and "全网最低价测试词" not in jieba.dt.FREQ  # ours only
    word = next(w for w in jieba.dt.FREQ if len(w) == 2)
    shared = next(k for k in tok.FREQ if k == word)
    assert shared is next(k for k in jieba.dt.FREQ if k == word)  # the same string object, not a copy


@pytest.mark.parametrize("body", [b'{"cmd":"X"}', b'{"cmd":"X",\r"a":1}'])
def test_raw_json_keeps_only_bodies_that_fit_one_line(body: bytes) -> None:
    kept = raw_json(body)
    assert (kept is not None) == (b"\r" not in body)


@pytest.mark.asyncio
async def test_healthz_shows_the_loop_lag_and_the_faq_figures(tmp_path: Path) -> None:
    from tests.support import make_settings, running_service

    recording = tmp_path / "silence.jsonl"
    recording.write_text("", "utf-8")
    faq = tmp_path / "faq.toml"
    faq.write_text('[[faq]]\nid = "ship"\nquestion = "多久发货"\nanswer = "48小时内发货"\n', "utf-8")
    room = {"name": "r", "platform": "replay", "recording": str(recording), "faq": str(faq)}
    async with running_service(make_settings(tmp_path, [room])) as run:
        lag = run.service.status()["loop"]
        while run.service.status()["loop"]["ticks"] < 2:  # noqa: ASYNC110 - the lag timer's own ticks
            await asyncio.sleep(0.02)
        status = run.service.status()
    assert set(lag) == {"every_ms", "ticks", "longest_ms", "over_ms"} and "250" in lag["over_ms"]
    assert status["faq"]["files"] == 1
    assert set(status["faq"]) == {"files", "encoder_loading", "semantic_skipped", "match_cpu_seconds", "share_waits"}


@pytest.mark.parametrize("wanted", ["", "asyncio", "nonsense"])
def test_the_service_runs_on_asyncios_loop_unless_uvloop_is_asked_for(
    wanted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.serving import LOOP_SWITCH, new_event_loop

    monkeypatch.setenv(LOOP_SWITCH, wanted)
    loop = new_event_loop()
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()


def test_uvloop_when_asked_for_and_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    uvloop = pytest.importorskip("uvloop")
    from bot.serving import LOOP_SWITCH, new_event_loop

    monkeypatch.setenv(LOOP_SWITCH, "uvloop")
    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
