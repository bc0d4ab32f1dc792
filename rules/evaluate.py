"""Evaluation over a labelled directory (violating.tsv + benign.txt, see shared/data/README.md).

- recall: a violating sentence counts when a block/warn hit names the expected claim: its phrase or the
  text it matched is a substring or superstring of the expected phrase (第一 for 全网销量第一, matched
  百分之百安全 for 百分之百), or holds the expected phrase with a few filler characters between its parts
  (matched 专家都推荐 for 专家推荐), or holds one of the expected phrase's known spellings (加我扣扣 for
  qq); its category is scored separately.
- false alarms: benign sentences with any block/warn hit (info hits are advice, not alarms).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .engine import RuleEngine
from .model import Hit

ALARM = ("block", "warn")


@dataclass
class CategoryScore:
    total: int = 0
    caught: int = 0  # accepted phrase
    flagged: int = 0  # any alarm at all
    category_ok: int = 0


@dataclass
class EvalResult:
    violating: int = 0
    caught: int = 0
    flagged: int = 0
    category_ok: int = 0
    benign: int = 0
    false_alarms: int = 0
    per_category: dict[str, CategoryScore] = field(default_factory=lambda: defaultdict(CategoryScore))
    misses: list[tuple[str, str, str, list[Hit]]] = field(default_factory=list)
    alarms: list[tuple[str, list[Hit]]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.caught / self.violating if self.violating else 0.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.benign if self.benign else 0.0


MAX_FILLER = 4  # characters a matched span may hold between the parts of the expected phrase


def phrase_accepted(reported: str, expected: str, fold) -> bool:
    r, e = fold(reported), fold(expected)
    return bool(r) and bool(e) and (r in e or e in r)


def hit_accepted(hit: Hit, expected: str, fold, spellings=None) -> bool:  # type: ignore[no-untyped-def]
    """Does this hit name the expected claim? (see the module docstring) `spellings` gives the known
    spellings of the expected phrase (the packs' variants: 扣扣 for qq), any of which may be what was said."""
    if phrase_accepted(hit.phrase, expected, fold) or phrase_accepted(hit.matched, expected, fold):
        return True
    m, e = fold(hit.matched), fold(expected)
    if e and _filler_span(e, m) <= len(e) + MAX_FILLER:
        return True
    # A Latin expected phrase (qq, vx) may be said in one folded character (扣扣 folds to 扣).
    shortest = 1 if expected.isascii() else 2
    return spellings is not None and any(s in m for s in spellings(expected) if len(s) >= shortest)


def _filler_span(needle: str, hay: str) -> int:
    """Length of the shortest stretch of `hay` holding the characters of `needle` in order (a huge
    number when there is none): 皮肤科专家都在推荐 holds 专家推荐 in 专家都在推荐, six characters."""
    best = 1 << 30
    for i, c in enumerate(hay):
        if c != needle[0]:
            continue
        j = i
        for n in needle[1:]:
            j = hay.find(n, j + 1)
            if j < 0:
                return best
        best = min(best, j - i + 1)
    return best


def read_violating(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}:{n}: expected sentence<TAB>phrase<TAB>category")
        rows.append((parts[0], parts[1], parts[2]))
    return rows


def read_benign(path: Path) -> list[str]:
    return [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def evaluate(engine: RuleEngine, data_dir: Path, scope: str = "speech") -> EvalResult:
    fold = engine._norm.fold
    result = EvalResult()
    for sentence, expected, category in read_violating(data_dir / "violating.tsv"):
        hits = [h for h in engine.scan(sentence, scope) if h.severity in ALARM]
        score = result.per_category[category]
        score.total += 1
        result.violating += 1
        if hits:
            score.flagged += 1
            result.flagged += 1
        accepted = [h for h in hits if hit_accepted(h, expected, fold, engine.spellings)]
        if accepted:
            score.caught += 1
            result.caught += 1
            if any(h.category == category for h in accepted):
                score.category_ok += 1
                result.category_ok += 1
        else:
            result.misses.append((sentence, expected, category, hits))
    for sentence in read_benign(data_dir / "benign.txt"):
        result.benign += 1
        hits = [h for h in engine.scan(sentence, scope) if h.severity in ALARM]
        if hits:
            result.false_alarms += 1
            result.alarms.append((sentence, hits))
    return result


def format_result(r: EvalResult) -> str:
    lines = [
        f"recall: {r.caught}/{r.violating} = {r.recall:.1%} violating sentences caught with the expected "
        f"phrase ({r.flagged} flagged at all; category right on {r.category_ok})",
        f"false alarms: {r.false_alarms}/{r.benign} = {r.false_alarm_rate:.1%} benign sentences flagged "
        "(warn/block)",
        "per category (caught / total, category right):",
    ]
    for cat in sorted(r.per_category):
        s = r.per_category[cat]
        rate = s.caught / s.total
        lines.append(f"  {cat:<14} {s.caught:>3}/{s.total:<3} {rate:6.1%}   category right {s.category_ok}")
    if r.misses:
        lines.append("misses:")
        for sentence, expected, category, hits in r.misses:
            found = ", ".join(f"{h.phrase}[{h.rule}]" for h in hits) or "nothing"
            lines.append(f"  {sentence}  (expected {expected} / {category}; found {found})")
    if r.alarms:
        lines.append("false alarms:")
        for sentence, hits in r.alarms:
            found = ", ".join(f"{h.phrase}={h.matched!r}[{h.rule}]" for h in hits)
            lines.append(f"  {sentence}  ({found})")
    return "\n".join(lines)
