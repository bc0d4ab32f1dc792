"""`livebot rules ...` commands: scan (JSON lines contract), check (readable report), eval (dev-set figures).

bot/cli.py calls `register(subparsers)`; `python -m rules.cli scan ...` runs the same subcommands alone.

scan contract: UTF-8 lines on stdin -> one JSON object per input line on stdout, in order:
    {"text": LINE, "hits": [{"rule", "phrase", "category", "severity", "start", "end", "matched",
                             "basis", "suggestion"}]}
start/end are code-point offsets into LINE (the line without its "\\n" or "\\r\\n").
Bytes that are not UTF-8 are replaced by U+FFFD (a warning naming the line goes to stderr) and the line is
still scanned, so the output always has exactly one object per input line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from .engine import RuleEngine
from .evaluate import evaluate, format_result
from .model import SCOPES

ALARM = ("block", "warn")
# A small labelled set shipped inside the package, so `livebot rules eval` works from a fresh clone.
SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "sample"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `rules` command (scan, check, eval) to a parent CLI's subparsers."""
    parser = subparsers.add_parser("rules", help="compliance rules: scan, check a script, evaluate")
    _add_subcommands(parser)
    parser.set_defaults(func=run)


def _add_pack_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pack",
        action="append",
        default=[],
        metavar="PATH",
        help="extra rule pack (.toml file or directory), loaded after the built-in packs; repeatable. "
        "A rule with a built-in id overrides it.",
    )
    p.add_argument("--no-builtin", action="store_true", help="use only the --pack packs")


def _add_subcommands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="rules_command", metavar="{scan,check,eval}")
    sub.required = True

    scan = sub.add_parser("scan", help="stdin lines -> one JSON object with hits per line")
    _add_pack_options(scan)
    scan.add_argument("--scope", choices=SCOPES, default="speech")
    scan.set_defaults(rules_func=_cmd_scan)

    check = sub.add_parser("check", help="check a sales script before going live (exit 1 on block/warn)")
    check.add_argument("file", type=Path)
    _add_pack_options(check)
    check.add_argument("--scope", choices=SCOPES, default="speech")
    check.set_defaults(rules_func=_cmd_check)

    ev = sub.add_parser("eval", help="recall and false alarms on a labelled directory")
    ev.add_argument(
        "--data",
        type=Path,
        default=None,
        help="directory with violating.tsv and benign.txt (default: the sample set installed with the "
        "rules package)",
    )
    _add_pack_options(ev)
    ev.set_defaults(rules_func=_cmd_eval)


def _load_engine(args: argparse.Namespace, err: TextIO) -> RuleEngine:
    packs = ([] if args.no_builtin else ["builtin"]) + list(args.pack)
    engine = RuleEngine.load(packs)
    for e in engine.errors:
        print(f"rule pack problem: {e}", file=err)
    return engine


def run(args: argparse.Namespace) -> int:
    # The contract is UTF-8 whatever the locale says.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    try:
        return args.rules_func(args)
    except BrokenPipeError:
        # The reader went away (`livebot rules eval | head`): nothing left to say, and no traceback.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


# ------------------------------------------------------------------------------------------------ scan
def _cmd_scan(args: argparse.Namespace) -> int:
    engine = _load_engine(args, sys.stderr)
    return scan_stream(engine, sys.stdin.buffer, sys.stdout, sys.stderr, args.scope)


def scan_stream(engine: RuleEngine, src: BinaryIO, out: TextIO, err: TextIO, scope: str = "speech") -> int:
    for number, raw in enumerate(src, 1):
        line = _decode_line(raw, number, err)
        try:
            hits = [h.to_dict() for h in engine.scan(line, scope)]
        except Exception as e:  # a bug must not cost the following lines their output
            print(f"line {number}: scan failed ({type(e).__name__}: {e}); reported with no hits", file=err)
            hits = []
        out.write(json.dumps({"text": line, "hits": hits}, ensure_ascii=False) + "\n")
        out.flush()
    return 0


def _decode_line(raw: bytes, number: int, err: TextIO) -> str:
    if raw.endswith(b"\n"):
        raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        print(
            f"line {number}: invalid UTF-8 ({e.reason} at byte {e.start}); bad bytes replaced by U+FFFD",
            file=err,
        )
        return raw.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------------------------- check
def _cmd_check(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as e:
        print(f"cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    engine = _load_engine(args, sys.stderr)
    lines = [_decode_line(raw, n, sys.stderr) for n, raw in enumerate(data.splitlines(keepends=True), 1)]
    alarms = 0
    notes = 0
    out = sys.stdout
    for number, line in enumerate(lines, 1):
        for hit in engine.scan(line, args.scope):
            if hit.severity in ALARM:
                alarms += 1
            else:
                notes += 1
            out.write(
                f"line {number}: {hit.severity.upper()} 「{hit.matched}」 ({hit.phrase}, {hit.category})\n"
            )
            out.write(f"    {line.strip()}\n")
            out.write(f"    why: {hit.basis}\n")
            out.write(f"    say instead: {hit.suggestion}\n")
    verdict = "needs changes before going live" if alarms else "no block/warn phrases found"
    out.write(f"{args.file}: {len(lines)} lines, {alarms} block/warn, {notes} info: {verdict}\n")
    return 1 if alarms else 0


# ------------------------------------------------------------------------------------------------ eval
def _cmd_eval(args: argparse.Namespace) -> int:
    data = args.data if args.data is not None else SAMPLE_DIR
    if not (data / "violating.tsv").is_file() or not (data / "benign.txt").is_file():
        print(f"{data}: needs violating.tsv and benign.txt (use --data DIR)", file=sys.stderr)
        return 2
    engine = _load_engine(args, sys.stderr)
    try:
        result = evaluate(engine, data)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        print(f"cannot evaluate {data}: {e}", file=sys.stderr)
        return 2
    print(f"data: {data}  ({engine.phrase_count} phrases in {len(engine.rules)} rules)")
    print(format_result(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livebot rules", description="compliance rules")
    _add_subcommands(parser)
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
