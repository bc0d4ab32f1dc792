"""RuleEngine: normalize -> automaton -> leftmost-longest with allow-contexts -> context checks -> hits.

Speed design (scan runs inline in the room loop):
- Fast path: one `str.translate` plus one leftmost-longest pass of the automaton (pyahocorasick, in C).
  A line whose longest matches are all allow-contexts (最近, 第一次) or nothing returns [] right there.
- Slow path, only for lines with a candidate: offsets back into the original, all overlapping matches,
  patterns whose trigger words occurred, leftmost-longest selection, then per-hit context checks
  (Latin word edges, negation, warning words, jieba word boundaries).
The engine is immutable after load; a reload builds a new engine.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick

from .model import SCOPES, Hit, PackError, Rule
from .normalize import Normalizer
from .packs import load_packs
from .variants import Speller

log = logging.getLogger(__name__)

SCOPE_BITS = {name: 1 << i for i, name in enumerate(SCOPES)}
_ALLOW, _PHRASE = 0, 1
_MACRO = re.compile(r"<([^<>]+)>")

# Negators that make a following medical / off-platform term a denial or a warning (不能治疗, 不要私下转账).
# Look-aheads keep words that only start like a negation out: 别家 别人, 没想到, 没有任何 (a claim).
_NEGATION = re.compile(
    "不能|不可以|不可能|不会|不要|不用|不应该?|不得|不是|并非|并不|从不|从来不|绝不|不许|切勿|勿|"
    "别(?![人的家处样])|没有(?!任何)|没(?![想准错有])|无法|禁止|严禁|谨防|拒绝"
)
_NEGATION_CANCEL = re.compile("就|才|而是|但是|但")
_NEGATION_WINDOW = 5  # normalized characters before the term
_CLAUSE_END = re.compile(r"[，。！？；,.!?;\n]")


@dataclass(frozen=True)
class _Key:
    key: str
    allow: bool
    phrases: tuple[tuple[int, str], ...]  # (rule index, canonical phrase)
    triggers: tuple[int, ...]  # pattern indexes


@dataclass(frozen=True)
class _CompiledPattern:
    rule: int
    regex: re.Pattern[str]
    phrase: str


def _is_ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


class RuleEngine:
    def __init__(
        self, rules: list[Rule], variants: dict[str, list[str]], errors: list[PackError] | None = None
    ) -> None:
        self.errors: list[PackError] = list(errors or [])
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._norm = Normalizer()
        self._speller = Speller(self._norm, variants)
        fold = self._norm.fold

        phrase_map: dict[str, list[tuple[int, str]]] = {}
        allow_keys: set[str] = set()
        trigger_map: dict[str, list[int]] = {}
        patterns: list[_CompiledPattern] = []
        scope_mask: dict[str, int] = {}
        self._unless: list[tuple[str, ...]] = []
        self._rule_masks: list[int] = []
        self._phrase_count = 0

        for ridx, rule in enumerate(self.rules):
            mask = 0
            for s in rule.scopes:
                mask |= SCOPE_BITS[s]
            self._rule_masks.append(mask)
            self._unless.append(tuple(u for u in (fold(w) for w in rule.unless) if u))
            for phrase in rule.phrases:
                key = fold(phrase)
                if not key:
                    why = f"phrase {phrase!r} is empty once normalized"
                    self.errors.append(PackError(rule.source, rule.id, why))
                    continue
                self._phrase_count += 1
                for spelling in self._speller.spellings(key):
                    phrase_map.setdefault(spelling, []).append((ridx, phrase))
                    scope_mask[spelling] = scope_mask.get(spelling, 0) | mask
            for context in rule.allow:
                key = fold(context)
                if key:
                    allow_keys.update(self._speller.spellings(key))
            for pat in rule.patterns:
                try:
                    regex, triggers = self._compile_pattern(pat.regex)
                except (ValueError, re.error) as e:
                    self.errors.append(PackError(rule.source, rule.id, f"pattern {pat.regex!r}: {e}"))
                    continue
                pidx = len(patterns)
                patterns.append(_CompiledPattern(ridx, regex, pat.phrase))
                for t in triggers:
                    trigger_map.setdefault(t, []).append(pidx)
                    scope_mask[t] = scope_mask.get(t, 0) | mask

        self._patterns = tuple(patterns)
        self._keys: list[_Key] = []
        automaton = ahocorasick.Automaton()
        for key in set(phrase_map) | allow_keys | set(trigger_map):
            info = _Key(
                key,
                key in allow_keys,
                tuple(phrase_map.get(key, ())),
                tuple(trigger_map.get(key, ())),
            )
            # An allow-context never sends a line to the slow path by itself (mask 0).
            mask = 0 if info.allow and not info.triggers else scope_mask.get(key, 0)
            automaton.add_word(key, (mask, len(self._keys)))
            self._keys.append(info)
        if self._keys:
            automaton.make_automaton()
        self._automaton = automaton
        self._has_keys = bool(self._keys)
        if any(r.boundary for r in self.rules):
            _jieba()  # load the dictionary now, not on the first hit in a live room

    # ----------------------------------------------------------------------------------------- loading
    @classmethod
    def load(cls, packs: Iterable[str | Path] = ("builtin",)) -> RuleEngine:
        """Load packs ("builtin", .toml files, directories). Never raises for a bad pack: see .errors."""
        packset = load_packs(packs)
        engine = cls(list(packset.rules.values()), packset.variants, packset.errors)
        for err in engine.errors:
            log.warning("rule pack problem: %s", err)
        return engine

    @property
    def phrase_count(self) -> int:
        return self._phrase_count

    def spellings(self, phrase: str) -> set[str]:
        """Every normalized spelling the automaton holds for a phrase (for tools and the benchmark)."""
        return self._speller.spellings(self._norm.fold(phrase))

    def _compile_pattern(self, source: str) -> tuple[re.Pattern[str], list[str]]:
        triggers: list[str] = []

        def expand(m: re.Match[str]) -> str:
            word = self._norm.fold(m.group(1))
            if not word:
                raise ValueError(f"macro <{m.group(1)}> is empty once normalized")
            spellings = sorted(self._speller.spellings(word), key=len, reverse=True)
            triggers.extend(spellings)
            return "(?:" + "|".join(map(re.escape, spellings)) + ")"

        expanded = _MACRO.sub(expand, source)
        if not triggers:
            raise ValueError("needs at least one <word> macro (it is what the fast pre-filter looks for)")
        return re.compile(expanded), triggers

    # ----------------------------------------------------------------------------------------- scanning
    def stream(self, scope: str = "speech"):  # -> SpeechStream (import cycle avoided)
        from .stream import SpeechStream

        return SpeechStream(self, scope)

    def scan(self, text: str, scope: str = "speech") -> list[Hit]:
        bit = SCOPE_BITS.get(scope)
        if bit is None:
            raise ValueError(f"unknown scope {scope!r} (expected one of {', '.join(SCOPES)})")
        if not self._has_keys or not text:
            return []
        norm = self._norm.fold(text)
        for _end, (mask, _idx) in self._automaton.iter_long(norm):
            if mask & bit:
                return self._scan_slow(text, bit)
        return []

    def _scan_slow(self, text: str, bit: int) -> list[Hit]:
        norm, starts, ends = self._norm.fold_with_map(text)
        rules = self.rules
        masks = self._rule_masks
        keys = self._keys
        cands: list[tuple[int, int, int, int, str]] = []  # start, end, kind, rule index, phrase
        pattern_ids: set[int] = set()
        for last, (_mask, idx) in self._automaton.iter(norm):
            info = keys[idx]
            end = last + 1
            start = end - len(info.key)
            if not self._latin_edges_ok(norm, starts, ends, start, end):
                continue
            if info.allow:
                cands.append((start, end, _ALLOW, -1, ""))
            for ridx, phrase in info.phrases:
                if masks[ridx] & bit:
                    cands.append((start, end, _PHRASE, ridx, phrase))
            pattern_ids.update(info.triggers)
        for pidx in pattern_ids:
            pat = self._patterns[pidx]
            if not masks[pat.rule] & bit:
                continue
            for m in pat.regex.finditer(norm):
                if m.end() > m.start() and self._latin_edges_ok(norm, starts, ends, m.start(), m.end()):
                    cands.append((m.start(), m.end(), _PHRASE, pat.rule, pat.phrase))
        if not cands:
            return []
        # Leftmost-longest; at equal spans an allow-context wins, then the later-loaded rule (overrides).
        cands.sort(key=lambda c: (c[0], c[0] - c[1], c[2], -c[3]))
        hits: list[Hit] = []
        pos = 0
        for start, end, kind, ridx, phrase in cands:
            if start < pos:
                continue
            pos = end
            if kind == _ALLOW:
                continue
            rule = rules[ridx]
            if not self._context_ok(rule, ridx, text, norm, starts, start, end):
                continue
            o_start, o_end = starts[start], ends[end - 1]
            hits.append(
                Hit(
                    rule=rule.id,
                    phrase=phrase,
                    category=rule.category,
                    severity=rule.severity,
                    start=o_start,
                    end=o_end,
                    matched=text[o_start:o_end],
                    basis=rule.basis,
                    suggestion=rule.suggestion,
                )
            )
        return hits

    @staticmethod
    def _latin_edges_ok(norm: str, starts: list[int], ends: list[int], start: int, end: int) -> bool:
        """A match that starts/ends with a Latin letter or digit must not be glued to another one
        (vx in xvx, top1 in top10), unless a separator stood between them in the original."""
        if start > 0 and _is_ascii_alnum(norm[start]) and _is_ascii_alnum(norm[start - 1]):
            if ends[start - 1] == starts[start]:
                return False
        if end < len(norm) and _is_ascii_alnum(norm[end - 1]) and _is_ascii_alnum(norm[end]):
            if ends[end - 1] == starts[end]:
                return False
        return True

    def _context_ok(
        self, rule: Rule, ridx: int, text: str, norm: str, starts: list[int], start: int, end: int
    ) -> bool:
        unless = self._unless[ridx]
        if unless and any(u in norm for u in unless):
            return False
        if rule.negation and _negated(text, norm, starts, start):
            return False
        if rule.boundary and not _on_word_boundaries(norm, start, end):
            return False
        return True


def _negated(text: str, norm: str, starts: list[int], start: int) -> bool:
    lo = max(0, start - _NEGATION_WINDOW)
    if lo == start:
        return False
    # Stay inside the clause: a comma or full stop in the original between negator and term ends it.
    original = text[starts[lo] : starts[start]]
    cut = None
    for m in _CLAUSE_END.finditer(original):
        cut = m.end()
    window = norm[lo:start]
    if cut is not None:
        # Count the normalized chars that come from after the clause end.
        boundary = starts[lo] + cut
        k = start
        while k > lo and starts[k - 1] >= boundary:
            k -= 1
        window = norm[k:start]
    last = None
    for m in _NEGATION.finditer(window):
        last = m
    if last is None:
        return False
    return not _NEGATION_CANCEL.search(window[last.end() :])


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@lru_cache(maxsize=4096)
def _cut_bounds(window: str) -> frozenset[int]:
    bounds = {0, len(window)}
    for _word, s, e in _jieba().tokenize(window):
        bounds.add(s)
        bounds.add(e)
    return frozenset(bounds)


def _on_word_boundaries(norm: str, start: int, end: int) -> bool:
    lo = max(0, start - 8)
    hi = min(len(norm), end + 8)
    bounds = _cut_bounds(norm[lo:hi])
    return (start - lo) in bounds and (end - lo) in bounds
