"""Every merchant FAQ set in one run, one line each and a total: the figure to compare two versions
of the matcher with (run it before and after a change; nothing may get worse without a reason).

    python bench/score_faq_sets.py                       # the shipped sets (tests/data)
    python bench/score_faq_sets.py --also DIR ...        # plus sets kept outside (faq.toml + questions.tsv)
    LIVEBOT_FAQ_SEMANTIC=off python bench/score_faq_sets.py   # the words alone

Each line: set, right/answerable, wrong, abstained, chatter answered/chatter. ``--json`` prints the
misses too, for a diff of two runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.faq.cli import evaluate, read_tsv  # noqa: E402
from bot.faq.store import FaqStore  # noqa: E402


def sets(also: list[str]) -> list[tuple[str, Path, Path]]:
    out = []
    for faq in sorted((ROOT / "tests" / "data").glob("faq_*.toml")):
        name = faq.stem.removeprefix("faq_")
        questions = faq.with_name(f"questions_{name}.tsv")
        if questions.exists():
            out.append((name, faq, questions))
    for d in also:
        p = Path(d)
        out.append((p.name, p / "faq.toml", p / "questions.tsv"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--also", nargs="*", default=[], help="directories with faq.toml and questions.tsv")
    ap.add_argument("--json", action="store_true", help="one JSON object per set, misses included")
    args = ap.parse_args()
    total = [0, 0, 0, 0]
    for name, faq, questions in sets(args.also):
        store = FaqStore.load(faq)
        rows, bad = read_tsv(str(questions))
        if bad:
            # a line that is not message<TAB>id is left out of the figures: say so, with where
            shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
            print(f"{questions}: {len(bad)} malformed line(s) skipped (lines {shown})", file=sys.stderr)
        res = evaluate(store, rows)
        total[0] += res.right
        total[1] += res.answerable
        total[2] += res.none_answered
        total[3] += res.none_total
        if args.json:
            print(json.dumps({"set": name, **res.to_dict()}, ensure_ascii=False))
        else:
            print(
                f"{name:12} {res.right:3}/{res.answerable:<3} {res.accuracy:6.1%}  wrong {res.wrong:2}  "
                f"abstained {res.abstained:2}  chatter {res.none_answered}/{res.none_total}"
            )
    if not args.json:
        right, answerable, chatter, none = total
        print(f"{'TOTAL':12} {right}/{answerable} {right / max(answerable, 1):.1%}  chatter {chatter}/{none}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
