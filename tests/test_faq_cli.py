"""The `livebot faq` command line (a stable contract): real subprocesses, real stdin/stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
FAQ = DATA / "faq_clothing.toml"
ROOT = Path(__file__).resolve().parents[1]


def livebot(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, cwd=ROOT, timeout=120, check=False
    )


def test_match_contract_one_json_per_line_in_order() -> None:
    lines = ["包油吗", "主播好美", "", "  ", "能发sf吗", "\x00\x1b[31m", '{"json": true}', "a\tb", "x" * 3000]
    data = "\n".join(lines).encode() + b"\n\xff\xfe\xfd\r\n"  # not UTF-8, and a CRLF line end
    proc = livebot("faq", "match", "--faq", str(FAQ), stdin=data)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("utf-8").splitlines()
    assert len(out) == len(lines) + 1
    objs = [json.loads(x) for x in out]
    for obj in objs:
        assert set(obj) == {"text", "faq", "score", "answer"}
        assert isinstance(obj["score"], float)
        assert (obj["faq"] is None) == (obj["answer"] is None)
    assert [o["text"] for o in objs[: len(lines)]] == lines
    assert objs[0]["faq"] == "shipping_fee" and objs[0]["answer"].startswith("全场包邮")
    assert objs[1]["faq"] is None and objs[2]["faq"] is None
    assert objs[4]["faq"] == "logistics"
    assert objs[-1]["text"] == "\ufffd\ufffd\ufffd"


def test_match_bad_faq_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[faq]]\nid = "a"\nquestion = "q"\n', "utf-8")
    proc = livebot("faq", "match", "--faq", str(bad), stdin=b"x\n")
    assert proc.returncode == 2 and proc.stdout == b""
    err = proc.stderr.decode().strip()
    assert "\n" not in err and "bad.toml: entry 1 (a): answer: missing value" in err


def test_eval_reports_figures_and_confusion(tmp_path: Path) -> None:
    tsv = tmp_path / "q.tsv"
    tsv.write_text("包邮吗\tshipping_fee\n包邮吗\tlogistics\n主播好美\tNONE\n能发sf吗\tNONE\nno tab here\n", "utf-8")
    proc = livebot("faq", "eval", "--faq", str(FAQ), "--questions", str(tsv))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "answerable: 1/2 right (50.0%), 1 wrong, 0 abstained" in out
    assert "NONE: 1/2 answered (50.0%)" in out
    assert "skipped 1 malformed line(s): 5" in out
    assert "logistics -> shipping_fee x1: 包邮吗" in out and "NONE -> logistics x1: 能发sf吗" in out
    proc = livebot("faq", "eval", "--faq", str(FAQ), "--questions", str(tsv), "--json")
    figures = json.loads(proc.stdout)
    assert figures["accuracy"] == 0.5 and figures["none_answered"] == 1 and figures["abstained"] == 0
