"""``livebot report`` on a real show's audit log: every count of ``--json`` equals what the log holds,
also when the log is split over two overlapping directories; hostile lines are skipped and counted;
viewer markup is escaped; the index and the argument errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.report import build_report, render_html
from bot.report.reader import Window
from tests.report_support import HOSTILE_NAME, ROOM, count_log, log_files, produce_show


@pytest.fixture(scope="module")
def show(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The audit files of one real replayed show (through the service, rules and FAQ answerer)."""
    settings = asyncio.run(produce_show(tmp_path_factory.mktemp("show")))
    files = log_files(settings)
    assert files and sum(len(p.read_text("utf-8").splitlines()) for p in files) > 300
    return files


def report_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["report", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def day_of(path: Path) -> str:
    return path.stem


def assert_counts_match(summary: dict[str, Any], held: dict[str, Any]) -> None:
    assert summary["counts"] == dict(held["counts"])
    assert summary["warnings"]["by_severity"] == dict(held["severity"])
    assert summary["warnings"]["by_category"] == dict(held["category"])
    assert summary["warnings"]["by_rule"] == dict(held["rule"])
    assert summary["warnings"]["total"] == held["counts"]["warning"]
    by_action = summary["faq"]["by_action"]
    assert set(by_action) >= {"sent", "held", "failed", "abstained"}
    assert {k: v for k, v in by_action.items() if v} == dict(held["action"])


def test_json_counts_equal_what_the_log_holds(show: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    held = count_log(show)
    # a real show: warnings, FAQ decisions of more than one kind, chat, speech, gifts
    assert held["counts"]["warning"] > 10 and len(held["action"]) >= 2 and held["counts"]["gift"] > 0
    audit = str(show[0].parent.parent)
    summary = report_json(capsys, "--audit", audit, "--room", ROOM, "--date", day_of(show[0]))
    assert_counts_match(summary, held)
    assert summary["room"] == ROOM and summary["from"] and summary["until"] and summary["from"] <= summary["until"]
    assert summary["read"]["skipped"] == {} and summary["read"]["duplicates"] == 0
    assert summary["read"]["events"] == sum(held["counts"].values())


def test_two_overlapping_directories_count_each_event_once(
    show: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = show[0].read_text("utf-8").splitlines(keepends=True)
    n = len(lines)
    first, second = tmp_path / "worker-a", tmp_path / "worker-b"
    for base, part in ((first, lines[: 2 * n // 3]), (second, lines[n // 3 :])):
        (base / ROOM).mkdir(parents=True)
        (base / ROOM / show[0].name).write_text("".join(part), "utf-8")
    summary = report_json(
        capsys, "--audit", str(first), "--audit", str(second), "--room", ROOM, "--date", day_of(show[0])
    )
    assert_counts_match(summary, count_log([show[0]]))
    assert summary["read"]["duplicates"] == 2 * n // 3 - n // 3


def test_time_window_counts_only_events_inside(show: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    events = [json.loads(line) for line in show[0].read_text("utf-8").splitlines()]
    ts = sorted(e["ts"] for e in events)
    # halfway between two events: an ISO time (microseconds) never lands on an event's own ts
    i, j = len(ts) // 4, 3 * len(ts) // 4
    while ts[i - 1] == ts[i]:
        i += 1
    while ts[j - 1] == ts[j]:
        j += 1
    since, until = (ts[i - 1] + ts[i]) / 2, (ts[j - 1] + ts[j]) / 2
    inside = [e for e in events if since <= e["ts"] < until]
    iso = lambda t: dt.datetime.fromtimestamp(t).astimezone().isoformat()  # noqa: E731
    summary = report_json(
        capsys, "--audit", str(show[0].parent.parent), "--room", ROOM, "--since", iso(since), "--until", iso(until)
    )
    expected: dict[str, int] = {}
    for e in inside:
        expected[e["type"]] = expected.get(e["type"], 0) + 1
    assert summary["counts"] == expected


def test_same_seq_of_a_restarted_bus_and_seqless_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A memory bus that restarted without history reuses seqs: those are other events and count.
    An event without a seq in two directories (logged_at differs) counts once."""
    day = "2026-05-01"

    def line(seq: int, ts: float, logged: str, text: str = "hi") -> str:
        record = {"type": "chat", "room": ROOM, "seq": seq, "ts": ts, "text": text, "logged_at": logged}
        return json.dumps(record) + "\n"

    a, b = tmp_path / "a" / ROOM, tmp_path / "b" / ROOM
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    (a / f"{day}.jsonl").write_text(line(1, 100.0, "x") + line(1, 500.0, "y") + line(0, 7.0, "p", "no seq"))
    (b / f"{day}.jsonl").write_text(line(1, 100.0, "z") + line(0, 7.0, "q", "no seq") + line(0, 8.0, "q"))
    summary = report_json(capsys, "--audit", str(a.parent), "--audit", str(b.parent), "--room", ROOM, "--date", day)
    assert summary["counts"] == {"chat": 4}
    assert summary["read"]["duplicates"] == 2


def test_bad_lines_are_skipped_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    day = "2026-05-02"
    good = [
        {"type": "warning", "room": ROOM, "seq": 1, "ts": 1.0, "severity": "block", "category": "absolute",
         "rule": "r1", "text": "最好的", "start": 0, "end": 2},
        # right type, wrong field types: counted, grouped as unknown, shown as empty
        {"type": "warning", "room": ROOM, "seq": 2, "ts": 2.0, "severity": 5, "category": ["x"], "rule": None,
         "start": "a", "end": 2**62, "text": {"no": 1}},
        {"type": "faq_reply", "room": ROOM, "seq": 3, "ts": 3.0, "action": "abstained", "text": "x" * 100_000},
        {"type": "gift", "room": ROOM, "seq": 4, "ts": 4.0, "count": "many", "price": "1e400", "gift_name": 3},
        {"type": "room_status", "room": ROOM, "seq": 5, "ts": 5.0, "state": "reconnecting"},
        {"type": "room_status", "room": ROOM, "seq": 6, "ts": 9.5, "state": "connected"},
        {"type": "mystery_future_type", "room": ROOM, "seq": 7, "ts": 10.0},
    ]
    bad = {
        "unparsable": [
            b"junk that is not json",
            b'{"type": "chat", "room": "show", "seq": 8, "ts": Infinity}',
            b'{"type": "chat", "room": "show", "seq": 9, "ts": NaN}',
            b'{"type": "chat", "room": "show", "text": "\xff\xfe"}',
            b"[" * 100_000,
            b'{"type": "chat", "room": "show", "seq": 11, "ts": 1e999999}',  # beyond a double
        ],
        "not_an_object": [b"[1, 2]", b'"a string"', b"42"],
        "bad_type": [b'{"type": 3, "room": "show", "ts": 1}', b'{"room": "show", "ts": 1}'],
        "other_room": [b'{"type": "chat", "room": "elsewhere", "seq": 1, "ts": 1}'],
        "bad_ts": [b'{"type": "chat", "room": "show", "seq": 10, "ts": "12"}',
                   b'{"type": "chat", "room": "show", "seq": 12, "ts": true}',
                   b'{"type": "chat", "room": "show", "seq": 15, "ts": 1e15}',  # no date can show it
                   b'{"type": "chat", "room": "show", "seq": 16, "ts": -5}'],
        "bad_seq": [b'{"type": "chat", "room": "show", "seq": "x", "ts": 1}',
                    b'{"type": "chat", "room": "show", "seq": -1, "ts": 1}',
                    b'{"type": "chat", "room": "show", "seq": true, "ts": 1}'],
        "too_long": [b'{"type": "chat", "room": "show", "seq": 13, "ts": 1, "text": "' + b"y" * (2 << 20) + b'"}'],
        "blank": [b"", b"   "],
    }
    body = b"".join(json.dumps(g, ensure_ascii=False).encode() + b"\n" for g in good)
    for lines in bad.values():
        body += b"".join(line + b"\n" for line in lines)
    body += b'{"type": "chat", "room": "show", "seq": 14, "ts": 1'  # the torn last line of a crash
    (tmp_path / ROOM).mkdir()
    (tmp_path / ROOM / f"{day}.jsonl").write_bytes(body)

    summary = report_json(capsys, "--audit", str(tmp_path), "--room", ROOM, "--date", day)
    expected_skipped = {reason: len(lines) for reason, lines in bad.items()}
    expected_skipped["unparsable"] += 1  # the torn line
    assert summary["read"]["skipped"] == expected_skipped
    assert summary["counts"] == {"warning": 2, "faq_reply": 1, "gift": 1, "room_status": 2, "mystery_future_type": 1}
    assert summary["warnings"]["by_severity"] == {"block": 1, "unknown": 1}
    assert summary["faq"]["by_action"]["abstained"] == 1
    assert len(summary["faq"]["top_unanswered"][0]["text"]) < 400  # kept short for the page
    assert summary["connection"]["reconnects"] == 1 and summary["connection"]["outage_seconds"] == 4.5
    # and the page renders from the same hostile log
    out = tmp_path / "r.html"
    assert main(["report", "--audit", str(tmp_path), "--room", ROOM, "--date", day, "--out", str(out)]) == 0
    assert "直播合规报告" in out.read_text("utf-8")


def test_viewer_markup_is_escaped_in_the_page(show: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--audit", str(show[0].parent.parent), "--room", ROOM, "--date", day_of(show[0]),
                 "--out", str(out)]) == 0
    page = out.read_text("utf-8")
    for markup in ("<script", "onerror=", "<svg onload", "<b onmouseover"):
        assert markup not in page
    # the hostile sentence is there, as text
    assert "&lt;b onmouseover=&#34;alert(3)&#34;&gt;" in page or "&lt;b onmouseover=&quot;alert(3)&quot;&gt;" in page
    assert "<h1>问一下" not in page
    assert HOSTILE_NAME not in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch


def test_all_rooms_index(show: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit = tmp_path / "audit"
    shutil.copytree(show[0].parent, audit / ROOM)
    shutil.copytree(show[0].parent, audit / "second")
    # the copy belongs to another room now: its lines name "show", so they are counted as other_room
    index = report_json(capsys, "--all", "--audit", str(audit), "--date", day_of(show[0]))
    assert [r["room"] for r in index["rooms"]] == ["second", ROOM]
    assert index["rooms"][1]["counts"] == dict(count_log([show[0]])["counts"])
    assert index["rooms"][0]["counts"] == {} and index["rooms"][0]["read"]["skipped"]["other_room"] > 0
    out = tmp_path / "site" / "index.html"
    assert main(["report", "--all", "--audit", str(audit), "--date", day_of(show[0]), "--out", str(out)]) == 0
    page = out.read_text("utf-8")
    assert 'href="index-show.html"' in page and (out.parent / "index-show.html").is_file()


@pytest.mark.parametrize(
    "args, error",
    [
        (["--room", ROOM, "--date", "2026-13-01"], "date"),
        (["--room", "../etc", "--date", "2026-05-01"], "room"),
        (["--room", ROOM, "--since", "2026-05-01T10:00"], "--since and --until go together"),
        (["--room", ROOM, "--since", "2026-05-01T10:00", "--until", "2026-05-01T09:00"], "not after"),
        (["--room", ROOM, "--since", "yesterday", "--until", "2026-05-01T09:00"], "ISO"),
        (["--date", "2026-05-01"], "--room"),
        (["--all", "--room", ROOM], "--all"),
    ],
)
def test_argument_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    assert main(["report", "--audit", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert error in err and err.count("\n") == 1


def test_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--audit", str(tmp_path / "nope"), "--room", ROOM]) == 2
    assert "no such directory" in capsys.readouterr().err


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
event_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["chat", "speech", "warning", "faq_reply", "gift", "super_chat", "room_status",
                              "live_status", "platform_notice", "guard_buy"]),
     "room": st.just(ROOM), "ts": st.floats(0, 4e9), "seq": st.integers(0, 50)},
    optional={k: json_values for k in ("severity", "category", "rule", "text", "start", "end", "action", "askers",
                                       "user", "count", "price", "paid", "currency", "gift_name", "state", "status",
                                       "kind", "detail", "phrase", "matched", "question", "basis", "suggestion")},
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.binary(max_size=60), event_like.map(lambda e: json.dumps(e).encode())),
                      max_size=25))
def test_any_log_gives_a_report_and_a_page(tmp_path: Path, lines: list[bytes]) -> None:
    base = tmp_path / "fuzz"
    (base / ROOM).mkdir(parents=True, exist_ok=True)
    (base / ROOM / "2026-05-03.jsonl").write_bytes(b"".join(line.replace(b"\n", b" ") + b"\n" for line in lines))
    report = build_report([base], ROOM, Window.for_date(dt.date(2026, 5, 3)))
    summary = report.summary()
    json.dumps(summary)
    assert sum(summary["counts"].values()) + report.stats.duplicates + sum(report.stats.skipped.values()) == len(lines)
    assert "<html" in render_html(report)
