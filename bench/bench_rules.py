"""Scan throughput of the compliance engine vs raw pyahocorasick exact matching, same lines, one run.

    python bench/bench_rules.py [--data DIR] [--lines 20000] [--rounds 15] [--seed 7]
    (DIR: violating.tsv + benign.txt; default: the sample set shipped in rules/data/sample)
    python bench/bench_rules.py --file LINES.txt       # your own lines, each timed as given

Every timed line is distinct. Anchor speech rarely repeats a line word for word, and the engine keeps
small caches (jieba word edges, pinyin), so a bench that repeats a few hundred sentences would time
warm caches, not scanning. The lines are the dev sentences (violating + benign, the realistic mix of
hits and near-misses) wrapped in live-room talk drawn with a seeded RNG: a greeting or lead-in before,
a price, link number, stock count or call to action after, sometimes two sentences run together as ASR
does. Duplicates are dropped until there are --lines distinct lines. Each round clears the engine's
caches first, and both contestants scan the same list.

Raw exact matching is the floor any keyword filter pays: one automaton of the engine's canonical
phrases (no variants, no normalization, no contexts), `iter` over each line, matches collected as
(start, end, phrase). The engine does normalization, variant spellings, allow-contexts, patterns and
context checks. Rounds interleave the two (CPU time of this process: the machine is shared); the
figure that matters is the median of the per-round ratios (target: engine >= 1/3 of raw).
"""

from __future__ import annotations

import argparse
import functools
import gc
import random
import sys
import time
from pathlib import Path

import ahocorasick

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rules
from rules import RuleEngine
from rules.evaluate import read_benign, read_violating

# Live-room talk around a sentence. {n} link numbers, {p} prices, {k} stock counts, {u} viewer names.
LEAD_INS = [
    "家人们", "宝宝们", "姐妹们", "兄弟们", "来来来", "好", "那个", "我跟你们说", "听我说啊", "对",
    "然后呢", "好的好的", "哎", "新进来的宝宝", "刚进来的家人们点点关注", "欢迎{u}进入直播间",
    "{u}问的这个", "回答一下{u}", "看一下{n}号链接", "咱们来看{n}号", "主播给大家讲一下", "我再说一遍",
    "这个呢", "你们看啊", "上一场没抢到的注意了", "今天第{n}轮", "{u}宝宝",
]
TAILS = [
    "对吧", "真的", "好吧", "家人们", "去拍", "{n}号链接", "{n}号链接去拍", "还有{k}单", "今天{p}块",
    "到手{p}", "拍一发二", "喜欢的点点关注", "有问题打在公屏上", "我们看下一个", "啊", "哈",
    "{u}你看看", "直播间{p}块包邮", "上{k}单", "姐妹们冲", "谢谢{u}的小心心", "点个关注不迷路",
    "{n}号链接拍{k}件以上", "主播自己也在用",
]
NAMES = ["小鱼儿", "阿杰", "木子", "甜甜", "大橙子", "晴天", "老王", "momo", "小白兔", "cc酱", "阿花"]


def realistic_lines(base: list[str], count: int, seed: int) -> list[str]:
    """`count` distinct lines composed from `base` sentences (see the module docstring)."""
    rng = random.Random(seed)

    def fill(template: str) -> str:
        return template.format(
            n=rng.randint(1, 60),
            p=f"{rng.randint(9, 399)}" + rng.choice(["", ".9", "块9", "元"]),
            k=rng.randint(20, 900),
            u=rng.choice(NAMES) + rng.choice(["", str(rng.randint(1, 999))]),
        )

    seen: set[str] = set()
    lines: list[str] = []
    while len(lines) < count:
        parts = []
        if rng.random() < 0.7:
            parts.append(fill(rng.choice(LEAD_INS)) + rng.choice(["", "", "，", " "]))
        parts.append(rng.choice(base))
        if rng.random() < 0.15:  # two sentences in one ASR segment
            parts.append(rng.choice(["", "，", " "]) + rng.choice(base))
        if rng.random() < 0.7:
            parts.append(rng.choice(["", "", "，", " "]) + fill(rng.choice(TAILS)))
        line = "".join(parts)
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


def scan_caches() -> list:
    """Every lru_cache in the rules package that scanning can touch (not the load-once singletons)."""
    found = []
    for name in dir(rules):
        module = getattr(rules, name)
        if not getattr(module, "__name__", "").startswith("rules."):
            continue
        for attr in vars(module).values():
            info = getattr(attr, "cache_info", None)
            if isinstance(attr, functools._lru_cache_wrapper) and info().maxsize != 1:
                found.append(attr)
    return found


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
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parent.parent / "rules" / "data" / "sample")
    ap.add_argument("--file", type=Path, help="time these lines as given instead of composed dev lines")
    ap.add_argument("--lines", type=int, default=20_000, help="distinct lines per round")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    if args.file:
        lines = [ln for ln in args.file.read_text(encoding="utf-8").splitlines() if ln.strip()]
        source = f"{args.file} as given"
    else:
        base = [s for s, _p, _c in read_violating(args.data / "violating.tsv")]
        base += read_benign(args.data / "benign.txt")
        lines = realistic_lines(base, args.lines, args.seed)
        source = f"{len(base)} dev sentences of {args.data} in live-room talk, seed {args.seed}"
    distinct = len(set(lines))
    chars = sum(map(len, lines)) / max(1, len(lines))

    t0 = time.perf_counter()
    engine = RuleEngine.load()
    load_s = time.perf_counter() - t0
    auto = raw_automaton(engine)
    phrases = sum(len(r.phrases) for r in engine.rules)
    caches = scan_caches()

    # Interleave the two so machine noise hits both alike. Each round times both on the same lines;
    # the figure is the median of the per-round ratios (robust on a shared machine), next to each
    # one's best round.
    raw_s = eng_s = float("inf")
    raw_found = eng_found = 0
    ratios = []
    for _ in range(args.rounds):
        for cache in caches:
            cache.cache_clear()
        t_raw, raw_found = timed(run_raw, auto, lines)
        t_eng, eng_found = timed(run_engine, engine, lines)
        raw_s, eng_s = min(raw_s, t_raw), min(eng_s, t_eng)
        ratios.append(t_raw / t_eng)
    ratios.sort()
    median = ratios[len(ratios) // 2]
    raw_lps = len(lines) / raw_s
    eng_lps = len(lines) / eng_s
    cleared = ", ".join(f"{c.__module__}.{c.__name__}" for c in caches) or "none"
    print(f"lines: {len(lines)} ({distinct} distinct, {chars:.1f} chars on average) from {source}")
    print(f"caches cleared before each round: {cleared}")
    print(f"engine load: {load_s:.2f} s, {phrases} phrases in {len(engine.rules)} rules")
    print(f"CPU time, best of {args.rounds} interleaved rounds:")
    print(f"  raw pyahocorasick exact ({phrases} phrases): {raw_lps:10,.0f} lines/s  ({raw_found} matches)")
    print(f"  RuleEngine.scan:                        {eng_lps:10,.0f} lines/s  ({eng_found} hits)")
    print(f"ratio engine/raw: {median:.2f} median of {len(ratios)} paired rounds "
          f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}, best rounds {eng_lps / raw_lps:.2f}; target >= 0.33)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
