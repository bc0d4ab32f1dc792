"""Holding the load: the anchor's lane first, overload shed in the declared order and counted,
every received message audited, bounded warnings, and an audit log that survives kills and junk."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import generate_latest

from bot.audit import AuditLog
from bot.bus.memory import MemoryBus
from bot.config import RoomSettings
from bot.events import AnchorSpeech, ChatMessage, Event, User, Warning
from bot.loop_budget import FAQ_BUDGET, VIEWER_BUDGET
from bot.metrics import NodeCollector, registry_for
from bot.room import CONTEXT_CHARS, FAQ_QUEUE, MAX_WARNINGS_PER_SEGMENT, RoomPipeline
from bot.service import RoomRunner
from rules import RuleEngine
from tests.support import ROOT, free_port, make_settings, running_service

ENGINE = RuleEngine.load(("builtin",))
ANCHOR = User(id="1", name="主播", roles=("anchor",))
VIOLATION = "这款面霜是全网最低价"


class CountingResponder:
    """Stands in for the FAQ responder: counts the viewer questions it was given."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def handle(self, msg: ChatMessage) -> None:
        self.asked.append(msg.text)

    async def close(self) -> None:
        pass


def viewer(i: int) -> ChatMessage:
    return ChatMessage(room="r", platform="bilibili", user=User(id=str(1000 + i), name=f"v{i}"), text=f"问题 {i}")


def make_runner(tmp_path: Path) -> tuple[RoomRunner, MemoryBus, AuditLog, CountingResponder]:
    bus = MemoryBus(replay=5000)
    audit = AuditLog(tmp_path / "audit")
    responder = CountingResponder()
    pipeline = RoomPipeline("r", bus=bus, audit=audit, rules=lambda: ENGINE, responder=responder)
    runner = RoomRunner(RoomSettings(name="r", platform="bilibili", room_id="1"), pipeline, adapter=None)
    runner.flush_audit = audit.flush
    return runner, bus, audit, responder


def quiet_room(tmp_path: Path) -> dict[str, Any]:
    """A replay room whose recording says nothing: the service runs, the test drives it."""
    recording = tmp_path / "silence.jsonl"
    recording.write_text("", "utf-8")
    return {"name": "r", "platform": "replay", "recording": str(recording)}


def audit_lines(tmp_path: Path, room: str = "r") -> list[dict[str, Any]]:
    path = tmp_path / "audit" / room / f"{dt.date.today().isoformat()}.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


async def wait_until(condition: Any, within: float = 30.0) -> None:
    """Wait for a condition on a loaded machine (generous bound; never a speed check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


# --- the anchor's lane comes first ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_warning_is_published_before_viewer_chat_queued_ahead_of_it(tmp_path: Path) -> None:
    runner, bus, audit, _ = make_runner(tmp_path)
    sub = bus.subscribe("r", after_seq=0)
    for i in range(300):
        runner.submit(viewer(i))
    runner.submit(AnchorSpeech(room="r", platform="bilibili", text=VIOLATION, segment="s1"))
    runner.start()
    try:
        await wait_until(lambda: bus.last_seq("r") >= 302)
    finally:
        await runner.stop()
        audit.close()
    seen: list[Event] = []
    async for event in sub:
        seen.append(event)
        if len(seen) == 302:
            break
    types = [e.type for e in seen]
    # the speech and its warning go out first although 300 viewer lines were queued before them
    assert types[:2] == ["speech", "warning"], types[:5]
    assert types.count("chat") == 300
    warning = seen[1]
    assert isinstance(warning, Warning) and warning.phrase and warning.source_seq == seen[0].seq


@pytest.mark.asyncio
async def test_an_ingested_segment_that_goes_next_anyway_is_handled_in_its_own_request(tmp_path: Path) -> None:
    runner, bus, audit, _ = make_runner(tmp_path)
    sub = bus.subscribe("r", after_seq=0)
    for i in range(runner.PRIORITY_AFTER + 5):  # a backed-up viewers' lane: the anchor goes first anyway
        runner.submit(viewer(i))
    # the room's consumer is not even running: the request itself handles, audits and flushes it
    await runner.submit_and_wait(AnchorSpeech(room="r", platform="bilibili", text=VIOLATION, segment="s1"))
    assert [line["type"] for line in audit_lines(tmp_path)] == ["speech", "warning"]
    assert runner.queued == runner.PRIORITY_AFTER + 5  # the viewers' events still wait, in order
    runner.start()
    try:
        await wait_until(lambda: runner.queued == 0)
    finally:
        await runner.stop()
        audit.close()
    seen = []
    async for event in sub:
        seen.append(event.type)
        if len(seen) == runner.PRIORITY_AFTER + 7:
            break
    assert seen[:2] == ["speech", "warning"] and seen[2:] == ["chat"] * (runner.PRIORITY_AFTER + 5)


@pytest.mark.asyncio
async def test_a_segment_behind_viewer_chat_that_came_first_waits_its_turn(tmp_path: Path) -> None:
    runner, bus, audit, _ = make_runner(tmp_path)
    sub = bus.subscribe("r", after_seq=0)
    runner.submit(viewer(1))  # a short lane: arrival order holds, so the segment is queued behind it
    ingest = asyncio.create_task(
        runner.submit_and_wait(AnchorSpeech(room="r", platform="bilibili", text=VIOLATION, segment="s1"))
    )
    await asyncio.sleep(0)
    assert not ingest.done() and len(runner._anchor) == 1
    runner.start()
    try:
        await ingest
    finally:
        await runner.stop()
        audit.close()
    seen = []
    async for event in sub:
        seen.append(event.type)
        if len(seen) == 3:
            break
    assert seen == ["chat", "speech", "warning"]


@pytest.mark.asyncio
async def test_the_anchors_own_chat_line_rides_the_anchor_lane(tmp_path: Path) -> None:
    runner, bus, audit, _ = make_runner(tmp_path)
    sub = bus.subscribe("r", after_seq=0)
    for i in range(50):
        runner.submit(viewer(i))
    runner.submit(ChatMessage(room="r", platform="bilibili", user=ANCHOR, text=VIOLATION))
    runner.start()
    try:
        await wait_until(lambda: bus.last_seq("r") >= 52)
    finally:
        await runner.stop()
        audit.close()
    first = [e async for e in _take(sub, 2)]
    assert [e.type for e in first] == ["chat", "warning"]
    assert first[0].user == ANCHOR


@pytest.mark.asyncio
async def test_while_the_room_keeps_up_events_are_handled_in_arrival_order(tmp_path: Path) -> None:
    runner, bus, audit, _ = make_runner(tmp_path)
    sub = bus.subscribe("r", after_seq=0)
    runner.submit(viewer(0))
    runner.submit(ChatMessage(room="r", platform="bilibili", user=ANCHOR, text=VIOLATION))
    runner.submit(viewer(1))
    runner.start()
    try:
        await wait_until(lambda: bus.last_seq("r") >= 4)
    finally:
        await runner.stop()
        audit.close()
    seen = [e async for e in _take(sub, 4)]
    assert [(e.type, e.text if e.type == "chat" else "") for e in seen] == [
        ("chat", "问题 0"),
        ("chat", VIOLATION),
        ("warning", ""),
        ("chat", "问题 1"),
    ]


async def _take(sub: Any, n: int) -> Any:
    count = 0
    async for event in sub:
        yield event
        count += 1
        if count == n:
            return


# --- overload is shed in the declared order, counted, and still audited -----------------------------


@pytest.mark.asyncio
async def test_overload_sheds_faq_first_then_the_feed_and_audits_everything(tmp_path: Path) -> None:
    runner, bus, audit, responder = make_runner(tmp_path)
    runner.SHED_FAQ_AT = 5
    runner.VIEWER_QUEUE = 20
    for i in range(30):
        runner.submit(viewer(i))
    # the lane holds 20; the 10 beyond went straight to the audit log (shed from the feed)
    assert runner.shed["feed"] == 10
    assert runner.status()["queued_viewer"] == 20
    runner.submit(AnchorSpeech(room="r", platform="bilibili", text=VIOLATION, segment="s1"))
    runner.start()
    try:
        await wait_until(lambda: runner.queued == 0 and bus.last_seq("r") >= 22)
        await runner.pipeline.drain()
    finally:
        await runner.stop()
        audit.close()
    # the first 15 were handled with a backlog of 5 or more behind them: published, audited, no FAQ
    assert runner.shed["faq"] == 15
    assert runner.pipeline.counters["shed_faq"] == 15
    assert len(responder.asked) == 5  # once the backlog fell below the mark, matching resumed
    assert responder.asked == [f"问题 {i}" for i in range(15, 20)]
    assert runner.shed["rules"] == 0
    lines = audit_lines(tmp_path)
    chat = sorted(int(x["text"].split()[1]) for x in lines if x["type"] == "chat")
    assert chat == list(range(30)), "every received viewer message is in the audit log"
    assert sum(1 for x in lines if x["type"] == "warning") == 1
    # the shed ones are audited without a sequence id: they never reached the bus
    assert sorted(int(x["text"].split()[1]) for x in lines if x["type"] == "chat" and x["seq"] == 0) == list(
        range(20, 30)
    )


class BlockedResponder(CountingResponder):
    """A responder stuck (on the platform's send API, say) until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()

    async def handle(self, msg: ChatMessage) -> None:
        await self.go.wait()
        await super().handle(msg)


@pytest.mark.asyncio
async def test_a_full_faq_queue_sheds_matching_and_never_holds_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, _bus, audit, _ = make_runner(tmp_path)
    responder = BlockedResponder()
    runner.pipeline.responder = responder
    # one burst: the answerer takes nothing before all 50 are handled
    monkeypatch.setattr(VIEWER_BUDGET, "per_round", 600.0)
    monkeypatch.setattr(FAQ_BUDGET, "per_round", 600.0)
    for i in range(50):
        runner.submit(viewer(i))
    runner.start()
    try:
        await wait_until(lambda: runner.queued == 0)
        # the answerer is stuck and its queue is full: a warning still goes straight out
        await runner.submit_and_wait(AnchorSpeech(room="r", platform="bilibili", text=VIOLATION, segment="s"))
        assert runner.pipeline.counters["warnings"] == 1
        assert runner.shed["faq"] == 50 - FAQ_QUEUE
        responder.go.set()
        await runner.pipeline.drain()
    finally:
        await runner.stop()
        audit.close()
    assert responder.asked == [f"问题 {i}" for i in range(FAQ_QUEUE)]
    assert sum(1 for x in audit_lines(tmp_path) if x["type"] == "chat") == 50


@pytest.mark.asyncio
async def test_shed_counts_are_on_healthz_and_metrics(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, [quiet_room(tmp_path)])
    async with running_service(settings) as run:
        runner = run.service.runners["r"]
        runner.pipeline.counters["shed_faq"] += 3
        runner._shed_feed += 2
        status = run.service.status()
        assert status["rooms"]["r"]["shed"] == {"faq": 3, "rules": 0, "feed": 2}
        assert status["shed"] == {"faq": 3, "rules": 0, "feed": 2}
        assert status["joining"]["rooms"] == 1
        text = generate_latest(registry_for(NodeCollector("run", service=run.service))).decode()
    assert 'livebot_shed_total{room="r",what="faq"} 3.0' in text
    assert 'livebot_shed_total{room="r",what="feed"} 2.0' in text
    assert 'livebot_shed_total{room="r",what="rules"} 0.0' in text


# --- warnings stay bounded --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_long_segment_gives_bounded_warnings_with_merge_counts(tmp_path: Path) -> None:
    bus = MemoryBus()
    audit = AuditLog(tmp_path / "audit")
    pipeline = RoomPipeline("r", bus=bus, audit=audit, rules=lambda: ENGINE)
    said = ("今天" + VIOLATION + "，效果最好，") * 200  # ~4,000 characters, hundreds of hits
    assert len(said) > 3000
    hits = ENGINE.scan(said, "speech")
    assert len(hits) > 100
    await pipeline.handle(AnchorSpeech(room="r", platform="bilibili", text=said, segment="long"))
    audit.close()
    warnings = [x for x in audit_lines(tmp_path) if x["type"] == "warning"]
    assert 1 <= len(warnings) <= MAX_WARNINGS_PER_SEGMENT
    assert len({w["rule"] for w in warnings}) == len(warnings)  # one warning per rule
    for w in warnings:
        assert len(w["text"]) <= 2 * CONTEXT_CHARS + len(w["matched"]) + 2
        assert w["text"][w["start"] : w["end"]] == w["matched"]
        assert said[w["context_start"] + w["start"] : w["context_start"] + w["end"]] == w["matched"]
        assert w["utterance_chars"] == len(said)
    assert sum(1 + w["repeats"] for w in warnings) + warnings[-1]["more"] == len(hits)
    assert pipeline.counters["warnings_merged"] == len(hits) - len(warnings)
    size = (tmp_path / "audit" / "r" / f"{dt.date.today().isoformat()}.jsonl").stat().st_size
    assert size < 64 * 1024, f"{size} bytes of audit log for one segment"


@pytest.mark.asyncio
async def test_a_short_utterance_keeps_its_whole_text_in_the_warning(tmp_path: Path) -> None:
    bus = MemoryBus()
    pipeline = RoomPipeline("r", bus=bus, audit=None, rules=lambda: ENGINE)
    sub = bus.subscribe("r", after_seq=0)
    await pipeline.handle(AnchorSpeech(room="r", platform="bilibili", text=VIOLATION, segment="a"))
    events = [e async for e in _take(sub, 2)]
    w = events[1]
    assert isinstance(w, Warning)
    assert w.text == VIOLATION and w.context_start == 0 and w.repeats == 0 and w.more == 0


# --- the audit log at start-up ----------------------------------------------------------------------


def plant(tmp_path: Path, text: bytes, room: str = "r") -> Path:
    path = tmp_path / "audit" / room / f"{dt.date.today().isoformat()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)
    return path


def test_a_torn_last_line_is_ended_before_the_next_record(tmp_path: Path) -> None:
    path = plant(tmp_path, b'{"type": "chat", "room": "r", "seq": 1, "text": "ok"}\n{"type": "chat", "room": "r", "te')
    audit = AuditLog(tmp_path / "audit")
    audit.write(ChatMessage(room="r", platform="bilibili", seq=2, text="after the crash"))
    audit.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[1] == b'{"type": "chat", "room": "r", "te'  # the torn line is kept as it was
    assert json.loads(lines[2])["text"] == "after the crash"  # and ours did not glue onto it
    assert audit.repaired_files == 1
    # a file that ends cleanly is not touched
    audit = AuditLog(tmp_path / "audit")
    audit.write(ChatMessage(room="r", platform="bilibili", seq=3, text="third"))
    audit.close()
    assert audit.repaired_files == 0
    assert path.read_bytes().count(b"\n\n") == 0


BAD_LINES = [
    b'{"type": "chat", "room": "r", "seq": Infinity, "text": "x"}',
    b'{"type": "chat", "room": "r", "seq": NaN, "text": "x"}',
    b'{"type": ["chat"], "room": "r", "seq": 5, "text": "x"}',
    b'{"type": {"a": 1}, "room": "r", "seq": 5}',
    b'{"type": "chat", "room": "r", "seq": "7", "text": "x"}',
    b'{"type": "chat", "room": "r", "seq": true, "text": "x"}',
    b'{"type": "chat", "room": "r", "seq": 8, "user": [1, 2]}',
    b'{"type": "chat", "room": "r", "seq": 9, "user": {"id": 1, "level": "high"}}',
    b'{"type": "gift", "room": "r", "seq": 10, "count": {"n": 1}, "price": [1]}',
    b"[1, 2, 3]",
    b'"just a string"',
    b"\x00\xff\xfe binary junk \x89PNG\r\n\x1a",
    b'{"type": "chat", "room": "other-room", "seq": 11}',
    b'{"type": "chat", "room": "r", "seq": -4}',
]


def test_reading_at_start_skips_and_counts_every_kind_of_bad_line(tmp_path: Path) -> None:
    good = [json.dumps({"type": "chat", "room": "r", "seq": n, "text": f"good {n}"}).encode() for n in (1, 2, 3)]
    plant(tmp_path, b"\n".join([good[0], *BAD_LINES[:7], good[1], *BAD_LINES[7:], good[2]]) + b"\n")
    audit = AuditLog(tmp_path / "audit")
    events = audit.recent("r", 100)
    assert [e.text for e in events] == ["good 1", "good 2", "good 3"]
    assert audit.unreadable["r"] >= len(BAD_LINES) - 1  # the PNG junk may split into two pieces
    assert all(e.raw is None for e in events)


@pytest.mark.asyncio
async def test_a_start_with_planted_bad_and_torn_lines_runs_and_continues_the_sequence(tmp_path: Path) -> None:
    good = json.dumps({"type": "chat", "room": "r", "seq": 41, "text": "before"}).encode()
    plant(tmp_path, b"\n".join([good, *BAD_LINES]) + b'\n{"type": "chat", "room": "r", "se')
    settings = make_settings(tmp_path, [quiet_room(tmp_path)])
    async with running_service(settings) as run:
        assert run.service.bus.last_seq("r") == 41
        assert run.service.status()["audit"]["unreadable_at_start"] >= len(BAD_LINES)
        await run.service.ingest(AnchorSpeech(room="r", platform="replay", text="开播了", segment="x"))
    lines = (tmp_path / "audit" / "r" / f"{dt.date.today().isoformat()}.jsonl").read_bytes().split(b"\n")
    speech = [json.loads(x) for x in lines if b'"type":"speech"' in x]
    assert speech and speech[0]["seq"] == 42


def test_audit_lines_stay_strict_json_whatever_the_payload(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit")
    raws: list[Any] = [
        {"v": float("nan"), "w": float("inf")},
        {"big": 1 << 80},
        {"lone": "\ud800"},
        {1: "int key"},
        {"obj": object()},
    ]
    for i, raw in enumerate(raws):
        audit.write(ChatMessage(room="r", platform="bilibili", seq=i + 1, text=f"m{i}", raw=raw))
    audit.close()
    path = tmp_path / "audit" / "r" / f"{dt.date.today().isoformat()}.jsonl"
    strict = json.JSONDecoder(parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    lines = [strict.decode(x) for x in path.read_text("utf-8").splitlines()]
    assert [x["text"] for x in lines] == [f"m{i}" for i in range(len(raws))]
    assert lines[0]["raw"] == {"v": None, "w": None}
    assert lines[1]["raw"] == {"big": 1 << 80}
    assert lines[2]["raw"] == {"lone": "\ud800"}


# --- an acknowledged segment is in the audit log, whatever happens next ------------------------------


def _config(tmp_path: Path, port: int) -> Path:
    recording = tmp_path / "silence.jsonl"
    recording.write_text("", "utf-8")
    config = tmp_path / "livebot.toml"
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
state_dir = "{tmp_path / "state"}"
[audit]
dir = "{tmp_path / "audit"}"
[[rooms]]
name = "r"
platform = "replay"
recording = "{recording}"
loop = false
overlay_token = "ov"
ingest_token = "in"
""",
        "utf-8",
    )
    return config


async def _start_livebot(config: Path, port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    async with aiohttp.ClientSession() as http:
        deadline = asyncio.get_running_loop().time() + 120  # start-up loads dictionaries; the machine is shared
        while True:
            assert proc.returncode is None, "livebot exited during start-up"
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "livebot did not answer /healthz"
            await asyncio.sleep(0.2)


@pytest.mark.asyncio
async def test_acknowledged_segments_survive_kill_9(tmp_path: Path) -> None:
    port = free_port()
    config = _config(tmp_path, port)
    proc = await _start_livebot(config, port)
    acked: list[str] = []
    try:
        async with aiohttp.ClientSession() as http:

            async def post(n: int) -> None:
                segment = f"seg-{n}"
                async with http.post(
                    f"http://127.0.0.1:{port}/api/rooms/r/speech",
                    json={"text": f"第{n}段：{VIOLATION}" if n % 10 == 0 else f"第{n}段，大家好", "segment": segment},
                    headers={"Authorization": "Bearer in"},
                ) as resp:
                    if resp.status == 202:
                        acked.append(segment)

            for start in range(0, 100, 20):  # 20 in flight at a time, as a busy ASR tool would
                await asyncio.gather(*(post(n) for n in range(start, start + 20)))
    finally:
        proc.kill()  # SIGKILL the moment the last acknowledgement arrived: no shutdown, no flush
        await proc.wait()
    assert len(acked) == 100
    speech = {x["segment"] for x in audit_lines(tmp_path) if x["type"] == "speech"}
    assert set(acked) <= speech, f"acknowledged but not in the audit log: {sorted(set(acked) - speech)[:5]}"
    warned = {x["segment"] for x in audit_lines(tmp_path) if x["type"] == "warning"}
    assert warned == {f"seg-{n}" for n in range(0, 100, 10)}
    # a start after the kill reads that log (a torn line there would be skipped) and continues
    proc = await _start_livebot(config, port)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                status = await resp.json()
        assert status["ok"] is True
    finally:
        proc.send_signal(signal.SIGINT)
        await proc.wait()
    assert proc.returncode == 0


def test_a_pre_encoded_raw_payload_is_written_as_it_was(tmp_path: Path) -> None:
    from bot.audit import encode_raw

    raw = {"cmd": "DANMU_MSG", "info": [[0, 1, {"extra": "{\"a\":1}"}], "你好", [7, "观众"]]}
    audit = AuditLog(tmp_path / "audit")
    audit.write(ChatMessage(room="r", platform="bilibili", seq=1, text="你好", raw=encode_raw(raw)))
    audit.write(ChatMessage(room="r", platform="bilibili", seq=2, text="x", raw=encode_raw({"lone": "\ud800"})))
    audit.close()
    lines = audit_lines(tmp_path)
    assert lines[0]["raw"] == raw
    assert lines[1]["raw"] == {"lone": "\ud800"}


# --- FAQ matching sized to what a room's replies can use ------------------------------------------


def test_a_rooms_match_allowance_holds_a_burst_and_refills_per_send_slot() -> None:
    from bot.faq.demand import BURST, MATCHES_PER_SLOT, MIN_PER_SECOND, MatchAllowance

    now = [0.0]
    allowance = MatchAllowance.for_reply(room_rate=1, room_window=3.0, clock=lambda: now[0])
    assert allowance.per_second == pytest.approx(MATCHES_PER_SLOT / 3.0)
    assert [allowance.take() for _ in range(int(BURST) + 2)] == [True] * int(BURST) + [False, False]
    assert (allowance.taken, allowance.refused) == (BURST, 2)
    now[0] += 1.0 / allowance.per_second  # one match more per slot's share of time
    assert allowance.take() and not allowance.take()
    now[0] += 3600.0  # a quiet hour saves up no more than a burst
    assert sum(allowance.take() for _ in range(100)) == BURST
    # a room that cannot send still has a few lines matched (cards, the ops page's unanswered list)
    assert MatchAllowance.for_reply(room_rate=0, room_window=3.0).per_second == MIN_PER_SECOND


@pytest.mark.asyncio
async def test_a_flooded_room_matches_its_allowance_and_sheds_counts_and_audits_the_rest(tmp_path: Path) -> None:
    from bot.config import ReplySettings
    from bot.faq import FaqResponder, FaqStore
    from bot.faq.demand import BURST
    from bot.faq.faqfile import load_faq
    from bot.faq.store import build_matcher
    from tests.support import DEMO_FAQ

    runner, _bus, audit, _ = make_runner(tmp_path)
    faq = load_faq(DEMO_FAQ)
    store = FaqStore(DEMO_FAQ, faq, build_matcher(faq, semantic=False))
    responder = FaqResponder(
        room="r",
        platform="bilibili",
        store=store,
        reply=ReplySettings(),
        emit=runner.pipeline.emit,
        send=None,
        clock=lambda: 0.0,  # time stands still: the allowance never refills
    )
    runner.pipeline.responder = responder
    n = int(BURST) + 8
    texts = [f"第{i}个问题 怎么退货" for i in range(n)]
    runner.start()
    try:
        for i, text in enumerate(texts):
            runner.submit(ChatMessage(room="r", platform="bilibili", user=User(id=str(i), name=f"v{i}"), text=text))
            await wait_until(lambda: runner.queued == 0)
            await runner.pipeline.drain()
        assert runner.shed["faq"] == n - BURST  # counted as shed FAQ work, the first step of the order
        assert responder.allowance.taken == BURST
        # a line whose verdict is memoized costs nothing: matched however flooded the room is
        runner.submit(ChatMessage(room="r", platform="bilibili", user=User(id="99", name="v99"), text=texts[0]))
        await wait_until(lambda: runner.queued == 0)
        await runner.pipeline.drain()
        assert runner.shed["faq"] == n - BURST
    finally:
        await runner.stop()
        audit.close()
    lines = audit_lines(tmp_path)
    assert sorted(x["text"] for x in lines if x["type"] == "chat") == sorted([*texts, texts[0]])
    asked = [x["text"] for x in lines if x["type"] == "faq_reply"]
    assert set(asked) <= set(texts[: int(BURST)]), "only the allowance's lines were matched"
    assert asked.count(texts[0]) == 2, "the memoized repeat was answered too"


@pytest.mark.asyncio
async def test_viewer_questions_ask_the_encoder_only_within_its_share(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.faq import store as store_module

    calls: list[bool] = []

    class Spent:
        def available(self) -> bool:
            calls.append(True)
            return False

    faq = store_module.load_faq(ROOT / "bot" / "demo" / "faq.toml")
    faq_store = store_module.FaqStore("faq.toml", faq, store_module.build_matcher(faq, semantic=False))
    faq_store.matcher.semantic = object()  # type: ignore[assignment]  # as if the encoder were attached
    monkeypatch.setattr(store_module, "ENCODER_BUDGET", Spent())
    m = await faq_store.match_async("这个能放多久啊", rationed=True)
    assert calls and faq_store.semantic_skipped == 1 and m.semantic == ""
