"""Golden hits of the compliance engine: proof that a change for speed, memory or build time changed no
decision (same rule, phrase and offsets on every line, in every scope).

    python tests/rules_golden.py write [--out FILE]    # record what the engine says now
    python tests/rules_golden.py check [--golden FILE] # compare; exit 1 and show the first differences
    python tests/rules_golden.py cli OUT_DIR           # `python -m rules.cli scan` output per scope, for diff
                                                       # (reuses OUT_DIR/corpus.txt when it is there, so a
                                                       # before/after pair scans the same lines)

The corpus is built from the sentences in the repository (the shipped sample set, the blind batches, every
string with an ideograph in tests/test_rules*.py, and the dev set in /work/shared/data/rules when it is
there) and, from them, seeded mutations that exercise each path of the engine: spaced-out, punctuated,
traditional, full-width and doubled characters, homophones and look-alikes of any character, pinyin,
circled numerals (some expand: ⑩ -> 10), fillers, negators, live-room talk around a sentence, long
run-together lines, and hostile lines (thousands of sound-alikes, astral and invisible characters).
The file stores the corpus itself next to the hits, so a check does not depend on regenerating it.

The committed golden file is scanned with a frozen copy of the packs (tests/data/rules_golden/packs), so
changes to the built-in packs do not touch it; a change to the engine's decisions does, on purpose.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules import RuleEngine  # noqa: E402
from rules.model import SCOPES  # noqa: E402

GOLDEN_DIR = ROOT / "tests" / "data" / "rules_golden"
GOLDEN_FILE = GOLDEN_DIR / "hits.jsonl.gz"
PACKS = GOLDEN_DIR / "packs"
SHARED_DEV = Path("/work/shared/data/rules")

FILLERS = ["都", "也", "过", "就", "我们", "的", "就是", "我们家", "那个", "然后", "对吧", "呢"]
NEGATORS = ["不能", "不是", "没有", "从来不", "并不", "更别提", "绝不", "别", "不用", "它不是药治不了病更别提"]
NOISE = [" ", "，", "。", "！", "?", "~", "*", "、", "😀", "🔥", "\u200b", "\u200d", "\ufe0f", "·", "|", "\t"]
CIRCLED = {"1": ["①", "❶", "➀", "⓵"], "2": ["②", "❷"], "3": ["③", "➂"], "10": ["⑩", "❿"]}


def base_sentences() -> list[str]:
    """Every sentence the repository (and, when present, the shared dev set) holds for the rules."""
    found: list[str] = []
    dirs = [ROOT / "rules" / "data" / "sample", *sorted((ROOT / "tests" / "data" / "rules_blind").iterdir())]
    if SHARED_DEV.is_dir():
        dirs.append(SHARED_DEV)
    for d in dirs:
        for name in ("violating.tsv", "benign.txt"):
            path = d / name
            if path.is_file():
                for line in path.read_text(encoding="utf-8").splitlines():
                    text = line.split("\t")[0].strip()
                    if text and not text.startswith("#"):
                        found.append(text)
    for path in sorted((ROOT / "tests").glob("test_rules*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if any("\u4e00" <= c <= "\u9fff" for c in node.value) and len(node.value) < 400:
                    found.append(node.value)
    return list(dict.fromkeys(found))


def _homophones() -> dict[str, list[str]]:
    from pypinyin.pinyin_dict import pinyin_dict

    by_sound: dict[str, list[str]] = {}
    for cp in sorted(pinyin_dict):
        if 0x4E00 <= cp < 0xA000:
            first = pinyin_dict[cp].split(",")[0]
            by_sound.setdefault(first, []).append(chr(cp))
    out: dict[str, list[str]] = {}
    for chars in by_sound.values():
        for c in chars:
            out[c] = chars
    return out


def mutations(base: list[str], seed: int) -> list[str]:
    import opencc
    from pypinyin import Style, lazy_pinyin

    rng = random.Random(seed)
    t2 = opencc.OpenCC("s2t")
    homo = _homophones()
    alike = {"治": "冶", "第": "笫", "低": "氐", "药": "葯", "最": "冣", "已": "己", "未": "末"}
    phrases = sorted({p for r in RuleEngine.load([PACKS]).rules for p in r.phrases})

    def cjk_positions(s: str) -> list[int]:
        return [i for i, c in enumerate(s) if "\u4e00" <= c <= "\u9fff"]

    def swap(s: str, pick) -> str:  # type: ignore[no-untyped-def]
        pos = cjk_positions(s)
        if not pos:
            return s
        chars = list(s)
        for i in rng.sample(pos, min(len(pos), rng.randint(1, 2))):
            chars[i] = pick(chars[i])
        return "".join(chars)

    def sprinkle(s: str, items: list[str], rate: float) -> str:
        return "".join(c + (rng.choice(items) if rng.random() < rate else "") for c in s)

    def circled(s: str) -> str:
        for digit, styles in CIRCLED.items():
            s = s.replace(digit, rng.choice(styles))
        return s.replace("一", rng.choice(["1", "①", "壹", "一"]))

    transforms = [
        lambda s: " ".join(s),
        lambda s: sprinkle(s, NOISE, 0.3),
        lambda s: t2.convert(s),
        lambda s: s.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}).upper(),
        lambda s: "".join(c * rng.choice([1, 1, 2, 3]) for c in s),
        lambda s: swap(s, lambda c: rng.choice(homo.get(c, [c]))),
        lambda s: swap(s, lambda c: alike.get(c, rng.choice(homo.get(c, [c])))),
        lambda s: swap(s, lambda c: (lazy_pinyin(c, style=Style.NORMAL) or [c])[0]),
        circled,
        lambda s: sprinkle(s, FILLERS, 0.15),
        lambda s: rng.choice(NEGATORS) + rng.choice(["", "", "，", "那个"]) + s,
        lambda s: s + rng.choice(["", "，"]) + rng.choice(phrases),
        lambda s: rng.choice(phrases) + rng.choice(FILLERS) + s,
    ]
    out = []
    for s in base:
        if not s.isascii() and not _encodable(s):
            continue  # a lone surrogate (kept in the corpus as it is): pypinyin cannot take it
        for t in transforms:
            out.append(t(s))
        # Two or three transforms on top of each other.
        s2 = s
        for t in rng.sample(transforms, rng.randint(2, 3)):
            s2 = t(s2)
        out.append(s2)
    # Phrases alone, mutated, and glued to fillers and negators: the edges of every key.
    for p in phrases:
        out.append(rng.choice(FILLERS) + p + rng.choice(FILLERS))
        out.append(swap(p, lambda c: rng.choice(homo.get(c, [c]))))
        out.append(rng.choice(NEGATORS) + rng.choice(FILLERS) + p)
    # Long run-together ASR lines, with and without separators.
    for _ in range(300):
        parts = rng.sample(base, rng.randint(5, 30))
        out.append(rng.choice(["", "", "，", " "]).join(parts))
    # Hostile input.
    out += [
        "醉低价" * 2000,
        "全网醉低价" * 300 + "全网最低价",
        " ".join("全网最低价第一名国家级") * 200,
        "最" * 5000 + "低价",
        "𝐯𝐱" * 100 + "加我𝐯𝐱" + "\U0001f600" * 50,
        "加\u200b我\u200d微\ufe0f信",
        "\x00\x01全网\x00最低价\x7f",
        "⑩⑩⑩第⑩名第①名第❶名top1top10xvx VX Top 1",
        "ａｂｃ全網最低價國家級",
        "\r\n".join(rng.sample(base, 10)),
        "".join(rng.choice(phrases) for _ in range(400)),
        "".join(rng.choice("最第一国家级全网低价治疗微信") for _ in range(3000)),
    ]
    return out


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def corpus(seed: int = 7) -> list[str]:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_rules import realistic_lines

    base = base_sentences()
    lines = base + mutations(base, seed) + realistic_lines(base, 4000, seed)
    return [ln for ln in dict.fromkeys(lines) if ln]


def compact(engine: RuleEngine, lines: list[str]) -> list[dict[str, list]]:
    """Per line: scope -> [[rule, phrase, start, end], ...] (matched is text[start:end])."""
    out = []
    for line in lines:
        out.append({s: [[h.rule, h.phrase, h.start, h.end] for h in engine.scan(line, s)] for s in SCOPES})
    return out


def write(path: Path, lines: list[str], results: list[dict[str, list]]) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
        for line, res in zip(lines, results, strict=True):
            f.write(json.dumps({"text": line, "hits": res}, separators=(",", ":")) + "\n")


def read(path: Path) -> tuple[list[str], list[dict[str, list]]]:
    lines, results = [], []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for row in f:
            obj = json.loads(row)
            lines.append(obj["text"])
            results.append(obj["hits"])
    return lines, results


def differences(engine: RuleEngine, path: Path = GOLDEN_FILE) -> tuple[int, list[str]]:
    """(lines checked, descriptions of the lines whose hits differ from the golden file)."""
    lines, want = read(path)
    got = compact(engine, lines)
    diffs = [f"{line[:60]!r}: want {w} got {g}" for line, w, g in zip(lines, want, got, strict=True) if w != g]
    return len(lines), diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("--out", type=Path, default=GOLDEN_FILE)
    w.add_argument("--builtin", action="store_true", help="scan with the built-in packs, not the frozen copy")
    c = sub.add_parser("check")
    c.add_argument("--golden", type=Path, default=GOLDEN_FILE)
    c.add_argument("--builtin", action="store_true")
    cl = sub.add_parser("cli")
    cl.add_argument("out_dir", type=Path)
    args = ap.parse_args()
    if args.cmd == "cli":
        args.out_dir.mkdir(parents=True, exist_ok=True)
        corpus_file = args.out_dir / "corpus.txt"
        if corpus_file.is_file():
            text = corpus_file.read_text(encoding="utf-8")
        else:
            lines = [ln for ln in corpus() if _encodable(ln)]
            text = "\n".join(ln.replace("\r", " ").replace("\n", " ") for ln in lines) + "\n"
            corpus_file.write_text(text, encoding="utf-8")
        for scope in SCOPES:
            with open(args.out_dir / f"scan-{scope}.jsonl", "wb") as out:
                subprocess.run(
                    [sys.executable, "-m", "rules.cli", "scan", "--scope", scope],
                    input=text.encode(), stdout=out, check=True, cwd=ROOT,
                )
        return 0
    engine = RuleEngine.load(["builtin"] if args.builtin else [PACKS])
    if engine.errors:
        print("pack errors:", *engine.errors, sep="\n  ")
        return 2
    if args.cmd == "write":
        lines = corpus()
        results = compact(engine, lines)
        write(args.out, lines, results)
        hits = sum(len(h) for r in results for h in r.values())
        print(f"{len(lines)} lines, {hits} hits over {len(SCOPES)} scopes -> {args.out}")
        return 0
    n, diffs = differences(engine, args.golden)
    print(f"{n} lines, {len(diffs)} differ")
    for d in diffs[:20]:
        print(" ", d)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
