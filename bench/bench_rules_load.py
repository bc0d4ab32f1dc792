"""Build time and memory of the compliance engine: `RuleEngine.load()` of the built-in packs, each
measurement in a fresh process.

    python bench/bench_rules_load.py [--runs 3] [--root DIR]

(DIR: another checkout whose `rules` package to measure, e.g. an older version for a before/after in
one run; default: this one.)

Three cases:
- cold: the table cache is off (`LIVEBOT_RULES_CACHE=off`), every table is computed;
- first: an empty cache directory, so the tables are computed and written;
- warm: the same cache directory again, so the tables are read (every `livebot run` after the first).

Per case: wall and CPU seconds of load(), RSS after importing and initializing what the engine's
neighbours in a `livebot run` process load anyway (jieba's dictionary, pypinyin, OpenCC), RSS after
load(), the difference (what the engine adds); then the same load in a process that imports nothing
before it (what `livebot rules scan` pays, jieba's dictionary included): its wall and CPU seconds, RSS,
and whether it imported pypinyin / OpenCC.
The median of --runs is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import gc, json, logging, os, sys, time
sys.path.insert(0, sys.argv[1])
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
deps = sys.argv[2] == "deps"
if deps:
    import jieba, opencc, pypinyin
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    pypinyin.lazy_pinyin("中国")
before = rss()
from rules import RuleEngine
t0, c0 = time.perf_counter(), time.process_time()
engine = RuleEngine.load()
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
gc.collect()
assert engine.errors == [], engine.errors
print(json.dumps({"wall": wall, "cpu": cpu, "before": before, "after": rss(),
                  "pypinyin": "pypinyin" in sys.modules, "opencc": "opencc" in sys.modules}))
"""


def measure(root: Path, env: dict[str, str], deps: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), "deps" if deps else "alone"],
        env=env, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = ap.parse_args()
    print(f"rules package from {args.root}; median of {args.runs} fresh processes per figure")
    print(f"{'case':6s} {'load wall':>9s} {'load CPU':>9s} {'RSS deps':>9s} {'+engine':>8s} "
          f"{'alone: wall':>11s} {'CPU':>6s} {'RSS':>6s}  imports when alone")
    with tempfile.TemporaryDirectory() as tmp:
        for case in ("cold", "first", "warm"):
            rows, alone = [], []
            for run in range(args.runs):
                env = dict(os.environ)
                env["XDG_CACHE_HOME"] = str(Path(tmp) / ("first" if case != "first" else f"first-{run}"))
                if case == "cold":
                    env["LIVEBOT_RULES_CACHE"] = "off"
                else:
                    env.pop("LIVEBOT_RULES_CACHE", None)
                if case == "first":
                    rows.append(measure(args.root, env, deps=True))
                    env["XDG_CACHE_HOME"] = str(Path(tmp) / f"first-alone-{run}")
                    alone.append(measure(args.root, env, deps=False))
                else:
                    if case == "warm" and run == 0:
                        measure(args.root, env, deps=False)  # fill the cache
                    rows.append(measure(args.root, env, deps=True))
                    alone.append(measure(args.root, env, deps=False))
            med = {k: statistics.median(r[k] for r in rows) for k in ("wall", "cpu", "before", "after")}
            rss_alone = statistics.median(r["after"] for r in alone)
            wall_alone = statistics.median(r["wall"] for r in alone)
            cpu_alone = statistics.median(r["cpu"] for r in alone)
            imports = ", ".join(f"{m} {'yes' if alone[-1][m] else 'no'}" for m in ("pypinyin", "opencc"))
            print(f"{case:6s} {med['wall']:8.2f}s {med['cpu']:8.2f}s {med['before']:7.0f}MB "
                  f"{med['after'] - med['before']:+6.0f}MB {wall_alone:10.2f}s {cpu_alone:5.2f}s "
                  f"{rss_alone:4.0f}MB  {imports}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
