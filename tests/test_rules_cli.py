"""The `livebot rules` command line: scan's JSON-lines contract, check's report, eval's figures."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rules import cli

ROOT = Path(__file__).resolve().parent.parent
KEYS = ["rule", "phrase", "category", "severity", "start", "end", "matched", "basis", "suggestion"]


def run(args: list[str], stdin: bytes = b"", timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rules.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=timeout,
    )


def objects(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode("utf-8").splitlines()]


def test_scan_contract():
    lines = ["今天全网最低价", "第一次来的宝宝点个关注", "", "加个vx私发给你"]
    proc = run(["scan"], "\n".join(lines).encode("utf-8") + b"\n")
    assert proc.returncode == 0, proc.stderr
    out = objects(proc.stdout)
    assert [o["text"] for o in out] == lines
    assert all(list(o) == ["text", "hits"] for o in out)
    first = out[0]["hits"][0]
    assert list(first) == KEYS
    assert first["phrase"] == "全网最低价" and first["severity"] == "block"
    assert first["matched"] == lines[0][first["start"] : first["end"]]
    assert out[1]["hits"] == [] and out[2]["hits"] == []
    assert [h["phrase"] for h in out[3]["hits"]] == ["加微信", "私发给你"]
    assert "全网最低价" in proc.stdout.decode("utf-8")  # not \\u-escaped


def test_scan_scope_and_packs(tmp_path):
    pack = tmp_path / "m.toml"
    pack.write_text(
        '[[rule]]\nid = "m.x"\ncategory = "absolute"\nseverity = "warn"\nbasis = "b"\nsuggestion = "s"\n'
        'phrases = ["熊猫暴击"]\nscopes = ["chat"]\n',
        encoding="utf-8",
    )
    text = "熊猫暴击全网最低价\n".encode()
    speech = objects(run(["scan", "--pack", str(pack)], text).stdout)[0]["hits"]
    chat = objects(run(["scan", "--pack", str(pack), "--scope", "chat"], text).stdout)[0]["hits"]
    only = objects(run(["scan", "--no-builtin", "--pack", str(pack), "--scope", "chat"], text).stdout)[0]["hits"]
    assert [h["phrase"] for h in speech] == ["全网最低价"]
    assert [h["phrase"] for h in chat] == ["熊猫暴击", "全网最低价"]
    assert [h["phrase"] for h in only] == ["熊猫暴击"]


def test_scan_reports_bad_pack_and_keeps_going(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]\n", encoding="utf-8")
    proc = run(["scan", "--pack", str(bad)], "全网最低价\n".encode())
    assert proc.returncode == 0
    assert str(bad) in proc.stderr.decode() and "invalid TOML" in proc.stderr.decode()
    assert objects(proc.stdout)[0]["hits"][0]["phrase"] == "全网最低价"


def test_scan_hostile_input():
    big = "全网最低价" + "啊" * 1_000_000 + "加微信"
    raw = b"".join(
        [
            b"\xff\xfe\xfa bad utf-8 \xe5\x85\xa8\xe7\xbd\x91\xe6\x9c\x80\xe4\xbd\x8e\xe4\xbb\xb7\n",
            b"\xed\xa0\x80 lone surrogate\n",  # UTF-8 encoding of U+D800, invalid in UTF-8
            "控制\x00字符\x07\x1b[31m全\x08网\x7f最低价\r\n".encode(),
            big.encode("utf-8") + b"\n",
            "没有换行的最后一行最佳".encode(),
        ]
    )
    proc = run(["scan"], raw)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    err = proc.stderr.decode()
    assert "line 1: invalid UTF-8" in err and "line 2: invalid UTF-8" in err
    out = objects(proc.stdout)
    assert len(out) == 5
    assert out[0]["text"].startswith("\ufffd") and out[0]["hits"][0]["phrase"] == "全网最低价"
    assert out[2]["text"] == "控制\x00字符\x07\x1b[31m全\x08网\x7f最低价"  # \r\n stripped
    assert out[2]["hits"][0]["matched"] == "全\x08网\x7f最低价"
    assert [h["phrase"] for h in out[3]["hits"]] == ["全网最低价", "加微信"]
    assert out[3]["hits"][1]["start"] == len(big) - 3
    assert out[4]["hits"][0]["phrase"] == "最佳"


def test_check_report_and_exit_status(tmp_path):
    script = tmp_path / "script.txt"
    script.write_text("大家好\n今天全网最低价\n这个茶能治疗失眠\n", encoding="utf-8")
    proc = run(["check", str(script)])
    assert proc.returncode == 1
    report = proc.stdout.decode()
    assert "line 2: BLOCK 「全网最低价」" in report and "line 3: BLOCK 「治疗失眠」" in report
    assert "why: 《广告法》" in report and "say instead:" in report
    clean = tmp_path / "clean.txt"
    clean.write_text("大家好\n第一次来的宝宝点个关注\n", encoding="utf-8")
    assert run(["check", str(clean)]).returncode == 0
    missing = run(["check", str(tmp_path / "nope.txt")])
    assert missing.returncode == 2 and b"cannot read" in missing.stderr and b"Traceback" not in missing.stderr


def test_eval_on_a_data_dir(tmp_path):
    (tmp_path / "violating.tsv").write_text(
        "今天全网最低价\t全网最低价\tabsolute\n这个茶喝了能治疗失眠\t治疗\tmedical\n这句没有问题\t加微信\toffsite\n",
        encoding="utf-8",
    )
    (tmp_path / "benign.txt").write_text("# comment\n第一次来的宝宝\n这款是最好的\n", encoding="utf-8")
    proc = run(["eval", "--data", str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "recall: 2/3 = 66.7%" in out
    assert "false alarms: 1/2 = 50.0%" in out
    assert "offsite" in out and "这句没有问题" in out and "这款是最好的" in out
    assert run(["eval", "--data", str(tmp_path / "none")]).returncode == 2


def test_register_adds_the_rules_command(capsys, monkeypatch):
    parser = argparse.ArgumentParser(prog="livebot")
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    args = parser.parse_args(["rules", "scan", "--scope", "title"])
    assert args.scope == "title"

    class Stdin:
        buffer = __import__("io").BytesIO("全网最低价\n".encode())

    monkeypatch.setattr(sys, "stdin", Stdin)
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["hits"][0]["phrase"] == "全网最低价"


def test_bad_arguments_exit_2():
    proc = run(["scan", "--scope", "radio"])
    assert proc.returncode == 2 and b"invalid choice" in proc.stderr


@pytest.mark.parametrize("sub", ["scan", "check", "eval"])
def test_help(sub):
    assert run([sub, "--help"]).returncode == 0


def test_scan_exits_quietly_when_the_reader_goes_away():
    # `livebot rules scan < big.txt | head -1`: the reader closes the pipe after one line.
    proc = subprocess.Popen(
        [sys.executable, "-m", "rules.cli", "scan"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    line = "今天全网最低价\n".encode()
    proc.stdin.write(line)
    proc.stdin.flush()
    assert proc.stdout.readline().startswith(b'{"text": "')
    proc.stdout.close()
    try:
        proc.stdin.write(line * 20000)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # it already left, as it should
    err = proc.stderr.read().decode("utf-8", "replace")
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
