"""``livebot faq match`` and ``livebot faq eval`` (a stable contract, see README "FAQ answers").

    livebot faq match --faq FILE      stdin: one viewer message per line
        stdout: one JSON object per input line, in order:
        {"text": LINE, "faq": ID_OR_NULL, "score": FLOAT, "answer": ANSWER_OR_NULL}
    livebot faq eval --faq FILE --questions TSV
        TSV lines "message<TAB>expected_id" (or NONE); prints accuracy on answerable messages, wrong
        answers on NONE messages, abstentions and a confusion list.

Exit status: 0 done, 2 the FAQ file (or the TSV) cannot be used; the error is one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

from bot.faq.faqfile import FaqFileError
from bot.faq.store import FaqStore

NONE = "NONE"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``faq`` command (match, eval) to a parent CLI's subparsers."""
    parser = subparsers.add_parser("faq", help="merchant FAQ: match viewer messages, evaluate on a labelled set")
    sub = parser.add_subparsers(dest="faq_command", metavar="{match,eval}")
    sub.required = True

    match = sub.add_parser("match", help="stdin lines -> one JSON object per line (faq id or null)")
    match.add_argument("--faq", required=True, help="the merchant FAQ file (TOML)")
    match.add_argument("--why", action="store_true", help='add the matcher\'s explanation as a "why" key')
    match.set_defaults(func=cmd_match)

    ev = sub.add_parser("eval", help="accuracy on a labelled TSV (message<TAB>id or NONE)")
    ev.add_argument("--faq", required=True, help="the merchant FAQ file (TOML)")
    ev.add_argument("--questions", required=True, help="TSV: message<TAB>expected id, or NONE")
    ev.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ev.add_argument("--why", action="store_true", help="show the matcher's explanation for every miss")
    ev.set_defaults(func=cmd_eval)


def _load(path: str) -> FaqStore | None:
    try:
        store = FaqStore.load(path)
    except FaqFileError as exc:
        print(f"livebot faq: {exc}", file=sys.stderr)
        return None
    store.wait_semantic()  # the same verdicts on every run: with the encoder when it is installed
    return store


def _lines(stream: TextIO) -> Iterator[str]:
    """stdin as text lines; bytes that are not UTF-8 become U+FFFD instead of an exception."""
    buf = getattr(stream, "buffer", None)
    if buf is not None:
        for raw in buf:
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
    else:
        for line in stream:
            yield line.rstrip("\r\n")


def cmd_match(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    store = _load(args.faq)
    if store is None:
        return 2
    out = stdout or sys.stdout
    for line in _lines(stdin or sys.stdin):
        m = store.match(line)
        obj = {
            "text": line,
            "faq": m.faq_id,
            "score": float(m.score),
            "answer": m.entry.answer if m.entry is not None else None,
        }
        if getattr(args, "why", False):
            obj["why"] = m.why
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        out.flush()  # a pipe reader sees each answer as soon as it exists
    return 0


@dataclass
class EvalResult:
    answerable: int = 0
    right: int = 0
    wrong: int = 0
    abstained: int = 0
    none_total: int = 0
    none_answered: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    confusion: list[tuple[str, str, str, str]] = field(default_factory=list)  # text, expected, got, why

    @property
    def accuracy(self) -> float:
        return self.right / self.answerable if self.answerable else 0.0

    @property
    def false_rate(self) -> float:
        return self.none_answered / self.none_total if self.none_total else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "answerable": self.answerable,
            "right": self.right,
            "accuracy": round(self.accuracy, 4),
            "wrong": self.wrong,
            "abstained": self.abstained,
            "none": self.none_total,
            "none_answered": self.none_answered,
            "none_answered_rate": round(self.false_rate, 4),
            "skipped_lines": self.skipped_lines,
            "confusion": [{"text": t, "expected": e, "got": g} for t, e, g, _ in self.confusion],
        }


def evaluate(store: FaqStore, rows: list[tuple[int, str, str]]) -> EvalResult:
    store.wait_semantic()
    res = EvalResult()
    known = {e.id for e in store.entries}
    for _lineno, text, expected in rows:
        m = store.match(text)
        got = m.faq_id or NONE
        if expected == NONE:
            res.none_total += 1
            if got != NONE:
                res.none_answered += 1
                res.confusion.append((text, expected, got, m.why))
            continue
        res.answerable += 1
        if got == expected:
            res.right += 1
        else:
            if got == NONE:
                res.abstained += 1
            else:
                res.wrong += 1
            res.confusion.append((text, expected + ("" if expected in known else " (unknown id)"), got, m.why))
    return res


def read_tsv(path: str) -> tuple[list[tuple[int, str, str]], list[int]]:
    rows: list[tuple[int, str, str]] = []
    bad: list[int] = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[1].strip():
                bad.append(lineno)
                continue
            rows.append((lineno, parts[0], parts[1].strip()))
    return rows, bad


def cmd_eval(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    store = _load(args.faq)
    if store is None:
        return 2
    try:
        rows, bad = read_tsv(args.questions)
    except OSError as exc:
        print(f"livebot faq: {args.questions}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    res = evaluate(store, rows)
    res.skipped_lines = bad
    if args.json:
        out.write(json.dumps(res.to_dict(), ensure_ascii=False) + "\n")
        return 0
    pct = lambda n, d: f"{n / d:.1%}" if d else "n/a"  # noqa: E731
    print(f"FAQ {args.faq}: {len(store.entries)} entries; {len(rows)} messages from {args.questions}", file=out)
    if bad:
        print(f"skipped {len(bad)} malformed line(s): {', '.join(map(str, bad[:20]))}", file=out)
    print(
        f"answerable: {res.right}/{res.answerable} right ({pct(res.right, res.answerable)}), "
        f"{res.wrong} wrong, {res.abstained} abstained",
        file=out,
    )
    print(
        f"NONE: {res.none_answered}/{res.none_total} answered ({pct(res.none_answered, res.none_total)})",
        file=out,
    )
    if res.confusion:
        print("confusion (expected -> got: message):", file=out)
        pairs = Counter((e, g) for _, e, g, _ in res.confusion)
        for (e, g), n in pairs.most_common():
            texts = [t for t, e2, g2, _ in res.confusion if (e2, g2) == (e, g)]
            print(f"  {e} -> {g} x{n}: {' | '.join(texts)}", file=out)
        if args.why:
            print("why:", file=out)
            for t, e, g, why in res.confusion:
                print(f"  {t!r} ({e} -> {g}): {why}", file=out)
    return 0
