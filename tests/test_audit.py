"""The audit log: append-only JSONL per room per day, flushed line by line, readable after a crash."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from bot.audit import AuditLog
from bot.events import AnchorSpeech, ChatMessage, Enter, FaqReply, User, Warning


def lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in path.read_text("utf-8").splitlines()]


def test_one_file_per_room_per_day_one_line_per_event(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    asker = User(id="9", name="<b>小鹿</b>")
    log.write(ChatMessage(room="a", user=asker, text="怎么退货\n第二行", raw={"cmd": "DANMU_MSG"}).with_seq(1))
    log.write(Warning(room="a", rule="absolute.best", phrase="最好", text="我们家最好", start=3, end=5).with_seq(2))
    log.write(FaqReply(room="a", faq_id="return_policy", user=asker, text="怎么退货").with_seq(3))
    log.write(ChatMessage(room="b", text="x").with_seq(1))
    # written and flushed without close(): what a crash would leave behind
    today = dt.date.today().isoformat()
    a = lines(tmp_path / "a" / f"{today}.jsonl")
    assert [x["type"] for x in a] == ["chat", "warning", "faq_reply"]
    assert a[0]["text"] == "怎么退货\n第二行"
    assert a[0]["raw"] == {"cmd": "DANMU_MSG"}
    assert a[1]["rule"] == "absolute.best" and a[1]["phrase"] == "最好" and a[1]["text"] == "我们家最好"
    assert a[2]["faq_id"] == "return_policy" and a[2]["user"]["name"] == "<b>小鹿</b>"
    assert all("logged_at" in x for x in a)
    assert len(lines(tmp_path / "b" / f"{today}.jsonl")) == 1


def test_partials_and_enters_are_not_logged(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.write(AnchorSpeech(room="a", text="全网", segment="1", final=False))
    log.write(AnchorSpeech(room="a", text="全网最低", segment="1", final=True))
    log.write(Enter(room="a", user=User(id="1", name="x")))
    got = lines(tmp_path / "a" / f"{dt.date.today().isoformat()}.jsonl")
    assert [(x["type"], x["final"]) for x in got] == [("speech", True)]


def test_lone_surrogates_are_kept_escaped(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.write(ChatMessage(room="a", text="bad \ud800 text"))
    raw = (tmp_path / "a" / f"{dt.date.today().isoformat()}.jsonl").read_bytes()
    raw.decode("utf-8")  # valid UTF-8 on disk
    assert json.loads(raw)["text"] == "bad \ud800 text"


def test_recent_reads_the_tail_and_skips_a_torn_line(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    for i in range(1, 301):
        log.write(ChatMessage(room="a", text=f"m{i}" * 50).with_seq(i))
    log.close()
    path = tmp_path / "a" / f"{dt.date.today().isoformat()}.jsonl"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"type": "chat", "room": "a", "te')  # the line a crash interrupted
    recent = AuditLog(tmp_path).recent("a", 100)
    assert [e.seq for e in recent] == list(range(201, 301))
