"""Scan throughput of the compliance engine vs raw pyahocorasick exact matching, same lines, one run.

    python bench/bench_rules.py [--data ../shared/data/rules] [--lines 50000] [--rounds 5] [--file LINES.txt]

Raw exact matching is the floor any keyword filter pays: one automaton of the same canonical phrases
(no variants, no normalization, no contexts), `iter` over each line, matches collected as
(start, end, phrase). The engine does normalization, variant spellings, allow-contexts, patterns and
context checks. The figure that matters is the ratio (target: engine >= 1/3 of raw).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import ahocorasick

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rules import RuleEngine
from rules.evaluate import read_benign, read_violating


def raw_automaton(engine: RuleEngine) -> ahocorasick.Automaton:
    auto = ahocorasick.Automaton()
    for rule in engine.rules:
        for phrase in rule.phrases:
            auto.add_word(phrase, phrase)
    auto.make_automaton()
    return auto


def run_raw(auto: ahocorasick.Automaton, lines: list[str]) -> int:
    found = 0
    for line in lines:
        hits = [(end - len(p) + 1, end + 1, p) for end, p in auto.iter(line)]
        found += len(hits)
    return found


def run_engine(engine: RuleEngine, lines: list[str]) -> int:
    found = 0
    scan = engine.scan
    for line in lines:
        found += len(scan(line))
    return found


def timed(fn, *args) -> tuple[float, int]:
    """CPU seconds of this process (the machine is shared: wall time would also count other jobs)."""
    gc.collect()
    t0 = time.process_time()
    result = fn(*args)
    return time.process_time() - t0, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path.cwd().parent / "shared" / "data" / "rules")
    ap.add_argument("--file", type=Path, help="use these lines instead of the dev sets")
    ap.add_argument("--lines", type=int, default=20_000, help="lines per round (dev lines repeated)")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()

    if args.file:
        base = [ln for ln in args.file.read_text(encoding="utf-8").splitlines() if ln.strip()]
        source = str(args.file)
    else:
        base = [s for s, _p, _c in read_violating(args.data / "violating.tsv")]
        base += read_benign(args.data / "benign.txt")
        source = f"{args.data} (violating + benign, {len(base)} distinct)"
    lines = (base * (args.lines // len(base) + 1))[: args.lines]

    t0 = time.perf_counter()
    engine = RuleEngine.load()
    load_s = time.perf_counter() - t0
    auto = raw_automaton(engine)
    phrases = sum(len(r.phrases) for r in engine.rules)

    # Interleave the two so machine noise hits both alike. Each round times both on the same lines;
    # the figure is the median of the per-round ratios (robust on a shared machine), next to each
    # one's best round.
    raw_s = eng_s = float("inf")
    raw_found = eng_found = 0
    ratios = []
    for _ in range(args.rounds):
        t_raw, raw_found = timed(run_raw, auto, lines)
        t_eng, eng_found = timed(run_engine, engine, lines)
        raw_s, eng_s = min(raw_s, t_raw), min(eng_s, t_eng)
        ratios.append(t_raw / t_eng)
    ratios.sort()
    median = ratios[len(ratios) // 2]
    raw_lps = len(lines) / raw_s
    eng_lps = len(lines) / eng_s
    print(f"lines: {len(lines)} from {source}; best of {args.rounds} interleaved rounds, CPU time")
    print(f"engine load: {load_s:.2f} s, {phrases} phrases in {len(engine.rules)} rules")
    print(f"raw pyahocorasick exact ({phrases} phrases): {raw_lps:12,.0f} lines/s  ({raw_found} matches)")
    print(f"RuleEngine.scan:                   {eng_lps:12,.0f} lines/s  ({eng_found} hits)")
    print(f"ratio engine/raw: {median:.2f} median of {len(ratios)} paired rounds "
          f"(best rounds: {eng_lps / raw_lps:.2f}; target >= 0.33)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
