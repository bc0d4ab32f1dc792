"""RuleEngine: normalize -> automaton -> leftmost-longest with allow-contexts -> context checks -> hits.

Speed design (scan runs inline in the room loop):
- Fast path: one regex says whether the line needs folding (most ASR lines do not); at most one
  `str.translate`; one leftmost-longest pass of the automaton (ahocorasick-rs, in Rust). A line whose
  matches are all allow-contexts (最近, 第一次) or nothing returns [] right there.
- Slow path, only for lines with a candidate: offsets back into the original, the patterns whose trigger
  words were matched, leftmost-longest selection again with their matches, then per-hit context checks
  (Latin word edges, negation, warning words, jieba word boundaries).
The engine is immutable after load; a reload builds a new engine.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick_rs

from .model import SCOPES, Context, Hit, PackError, Rule
from .normalize import _REPEAT, Normalizer, OffsetMap, _is_cjk
from .packs import load_packs
from .phonetic import SoundCoder
from .sound_macro import expand_sound_macros
from .stream import SpeechStream
from .variants import Speller

log = logging.getLogger(__name__)

SCOPE_BITS = {name: 1 << i for i, name in enumerate(SCOPES)}
MATCH_PHRASE = "{match}"  # a pattern's phrase that means "the normalized text it matched"
_MAX_BIT = max(SCOPE_BITS.values())

_new = object.__new__
_CJK_CHAR = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

_MACRO = re.compile(r"<([^<>]+)>")
# One block of jieba's default cut (its re_han_default): ideographs, Latin letters, digits and +#&._%-.
_JIEBA_BLOCK = re.compile("[\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+")

# Negators that make a following medical / off-platform term a denial or a warning (不能治疗, 不要私下转账).
# Look-aheads keep words that only start like a negation out: 别家, 别人, 没想到. (没有任何副作用 is a
# claim, but the guarantee rules are not negatable, so it never reaches this check.)
# These are the defaults; a pack's [grammar] table replaces any of the lists (see packs.py).
DEFAULT_GRAMMAR = {
    "negators": [
        "不能", "不可以", "不可能", "不会", "不要", "不用", "不应该?", "不得", "不是", "并非", "并不", "从不",
        "从来不", "绝不", "不许", "切勿", "勿", "别(?![人的家处样])", "没有", "没(?![想准错有])", "无法",
        "禁止", "严禁", "谨防", "拒绝",
    ],
    # Negators whose scope runs past the next clause (它不是药治不了病更别提治愈): up to SPAN_WINDOW
    # characters before the term, across unpunctuated clause edges.
    "spanning_negators": [],
    "cancel": ["就", "才", "而是", "但是", "但"],
    # A negator that governs another verb (不用犹豫, 别错过, 不要担心) says nothing about the term after it.
    "governed": [
        "犹豫", "担心", "怕", "着急", "急", "考虑", "想", "等", "错过", "纠结", "客气", "怀疑", "舍不得", "心疼",
        "后悔", "迟疑", "观望", "手软", "慌",
    ],
    "fillers": [],  # words a gap-tolerant phrase may hold between its words (全网就我们家最低)
}
SPAN_WINDOW = 20
# A word of jieba's dictionary counts as ordinary (so a sound-alike inside it is no slip) from this
# frequency on: 升职 (209) and 喝醉 (236) are words, 推见 (3) and 负作用 (13) are dictionary noise that ASR
# and evaders produce for 推荐 and 副作用.
ORDINARY_WORD_FREQ = 100
MAX_ALIKE_CHECKS = 64  # sound-alike candidates checked per line (each costs a jieba cut of a window)
GAP_REACH = 14  # characters after a gap pattern's left word in which a right word must start
CONTEXT_WINDOW = 16  # characters on each side a [[context]] regex sees
_CLAUSE_END = re.compile(r"[，。！？；,.!?;\n]")


@dataclass(frozen=True)
class _Grammar:
    negation: re.Pattern[str]
    spanning: re.Pattern[str] | None
    cancel: re.Pattern[str]
    governed: re.Pattern[str]


def _alternation(words: list[str]) -> str:
    # Pack words are regex fragments (别(?![人的家处样])); longest first so 从来不 wins over 从不.
    return "|".join(sorted(words, key=len, reverse=True))


def _grammar(lists: dict[str, list[str]]) -> _Grammar:
    merged = {**DEFAULT_GRAMMAR, **lists}
    spanning = merged["spanning_negators"]
    return _Grammar(
        re.compile(_alternation(merged["negators"] + spanning)),
        re.compile(_alternation(spanning)) if spanning else None,
        re.compile(_alternation(merged["cancel"])),
        re.compile(_alternation(merged["governed"])),
    )


@dataclass(frozen=True)
class _Key:
    key: str
    allow: bool
    phrases: tuple[tuple[int, str], ...]  # (rule index, canonical phrase), later rules first
    triggers: tuple[int, ...]  # pattern indexes
    latin_edge: bool  # starts or ends with a Latin letter/digit: check it is not glued to another
    by_bit: tuple[tuple[int, str] | None, ...]  # scope bit -> (rule index, phrase) reported there


@dataclass(frozen=True)
class _CompiledPattern:
    rule: int
    regex: re.Pattern[str]
    phrase: str
    template: dict[str, object]  # Hit fields that do not depend on the match
    # A gap-tolerant phrase set: group 1 + group 2 (the words around the filler) -> canonical phrase.
    gap: dict[str, str] | None = None


@dataclass(frozen=True)
class _Exemption:
    phrases: frozenset[str] | None
    before: re.Pattern[str] | None
    after: re.Pattern[str] | None


def _is_ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


class RuleEngine:
    def __init__(
        self,
        rules: list[Rule],
        variants: dict[str, list[str]],
        errors: list[PackError] | None = None,
        *,
        lookalikes: dict[str, list[str]] | None = None,
        grammar: dict[str, list[str]] | None = None,
        contexts: list[Context] | None = None,
    ) -> None:
        self.errors: list[PackError] = list(errors or [])
        self.alikes_skipped = 0  # lines whose sound-alike checks hit MAX_ALIKE_CHECKS (hostile input)
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._norm = Normalizer()
        try:
            self._grammar = _grammar(grammar or {})
        except re.error as e:
            self.errors.append(PackError("[grammar]", None, f"bad word list regex: {e}"))
            self._grammar = _grammar({})
        fillers = (grammar or {}).get("fillers") or DEFAULT_GRAMMAR["fillers"]
        self._exempt = self._exemptions(contexts or [])
        self._speller = Speller(self._norm, variants)
        fold = self._norm.fold

        phrase_map: dict[str, list[tuple[int, str]]] = {}
        allow_keys: set[str] = set()
        trigger_map: dict[str, list[int]] = {}
        # A gap pattern's left-hand words (全网, 医生) are common: they send a line to the slow path only
        # when one of the pattern's right-hand words (最低, 推荐) follows them (checked by one regex).
        self._gap_masks: dict[str, int] = {}
        self._gap_rights: dict[str, set[str]] = {}
        patterns: list[_CompiledPattern] = []
        scope_mask: dict[str, int] = {}
        self._unless: list[re.Pattern[str] | None] = []
        self._rule_masks: list[int] = []
        self._hit_base = [
            {"rule": r.id, "category": r.category, "severity": r.severity, "basis": r.basis, "suggestion": r.suggestion}
            for r in self.rules
        ]
        self._phrase_count = 0

        for ridx, rule in enumerate(self.rules):
            mask = 0
            for s in rule.scopes:
                mask |= SCOPE_BITS[s]
            self._rule_masks.append(mask)
            words = sorted({u for u in (fold(w) for w in rule.unless) if u}, key=len, reverse=True)
            self._unless.append(re.compile("|".join(map(re.escape, words))) if words else None)
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
                    allow_keys.update(self._speller.spellings(key, pinyin=False))
            compiled: list[tuple[re.Pattern[str], list[str], str, dict[str, str] | None]] = []
            for pat in rule.patterns:
                try:
                    regex, triggers = self._compile_pattern(pat.regex)
                except (ValueError, re.error) as e:
                    self.errors.append(PackError(rule.source, rule.id, f"pattern {pat.regex!r}: {e}"))
                    continue
                compiled.append((regex, triggers, pat.phrase, None, None))
            if rule.gap and fillers:
                gapped = self._gap_pattern(rule, fillers)
                if gapped is not None:
                    compiled.append(gapped)
            for regex, triggers, phrase, gap, rights in compiled:
                pidx = len(patterns)
                template = {**self._hit_base[ridx], "phrase": phrase}
                patterns.append(_CompiledPattern(ridx, regex, phrase, template, gap))
                for t in triggers:
                    trigger_map.setdefault(t, []).append(pidx)
                    if rights is None:
                        scope_mask[t] = scope_mask.get(t, 0) | mask
                    else:
                        self._gap_masks[t] = self._gap_masks.get(t, 0) | mask
                        self._gap_rights.setdefault(t, set()).update(rights)

        self._patterns = tuple(patterns)
        # Per rule: (unless regex, negation window, jieba boundary), or None when the rule has no check.
        self._contexts = [
            (self._unless[i], r.negation, r.boundary) if (self._unless[i] or r.negation or r.boundary) else None
            for i, r in enumerate(self.rules)
        ]
        all_keys = set(phrase_map) | allow_keys | set(trigger_map)
        # Only the keys gap patterns add (全网最) inherit: the packs were written knowing which of their
        # own phrases stand over which trigger words.
        gap_only = set(self._gap_masks) - set(phrase_map) - allow_keys
        inherited, inherited_masks = self._inherited_triggers(gap_only, trigger_map, scope_mask)
        self._keys: list[_Key] = []
        self._values: list[tuple] = []
        self._by_bit_cache: dict[tuple, tuple] = {}
        for key in all_keys:
            phrases = tuple(sorted(phrase_map.get(key, ()), key=lambda p: -p[0]))
            info = _Key(
                key,
                key in allow_keys,
                phrases,
                inherited.get(key, tuple(trigger_map.get(key, ()))),
                _is_ascii_alnum(key[0]) or _is_ascii_alnum(key[-1]),
                self._by_bit(phrases),
            )
            # An allow-context never sends a line to the slow path by itself (mask 0).
            mask = 0 if info.allow and not info.triggers else scope_mask.get(key, 0) | inherited_masks.get(key, 0)
            # The value is flat so the hot loops unpack it in one step (no attribute lookups).
            self._values.append((mask, info.allow, info.latin_edge, info.triggers, info.by_bit))
            self._keys.append(info)
        # ahocorasick-rs (Rust) does leftmost-longest matching natively and ~3x faster than
        # pyahocorasick's iter_long on these keys; it reports code-point offsets.
        self._automaton = ahocorasick_rs.AhoCorasick(
            [info.key for info in self._keys] or ["\0\0"], matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
        )
        self._find = self._automaton.find_matches_as_indexes
        self._key_index = {info.key: i for i, info in enumerate(self._keys)}
        self._build_sound_automaton(lookalikes or {})
        # Doubling a character at a key's edge cannot hide the key (最最低 still contains 最低), so the fast
        # path only looks for doubled characters that occur inside some key (a small, cheap class).
        interior = sorted(set(_CJK_CHAR.findall("\n".join(info.key[1:-1] for info in self._keys))))
        self._dirty = self._norm.dirty_finder("".join(map(re.escape, interior)))
        self._fold_marked = self._norm.fold_marked
        self._has_keys = bool(self._keys)
        if any(r.boundary for r in self.rules) or self._sound_phrases:
            _jieba()  # load the dictionary now, not on the first hit in a live room
        self._freq = _jieba().dt.FREQ if self._sound_phrases else {}

    @staticmethod
    def _inherited_triggers(
        keys: set[str], trigger_map: dict[str, list[int]], scope_mask: dict[str, int]
    ) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
        """Leftmost-longest matching reports one key where several overlap: a gap pattern's left word
        (全网最) that contains another pattern's trigger word (全网) would hide the trigger. So each of
        these keys carries the triggers (and their scopes) of every trigger word inside it."""
        words = list(trigger_map)
        if not words:
            return {}, {}
        finder = ahocorasick_rs.AhoCorasick(words).find_matches_as_indexes
        triggers: dict[str, tuple[int, ...]] = {}
        masks: dict[str, int] = {}
        for key in keys:
            inside = finder(key, overlapping=True)
            if not inside:
                continue
            found: set[int] = set()
            mask = 0
            for w, _s, _e in inside:
                found.update(trigger_map[words[w]])
                mask |= scope_mask.get(words[w], 0)
            triggers[key] = tuple(sorted(found))
            masks[key] = mask
        return triggers, masks

    def _build_sound_automaton(self, lookalikes: dict[str, list[str]]) -> None:
        """The automaton the scan runs: every key in its sound form (see phonetic.py). A coded key stands
        for its exact spellings (which the exact automaton reports on the slow path) and, for phrases of
        rules with `phonetic` set and enough ideographs, for any sound-alike of them."""
        coder = self._coder = SoundCoder(lookalikes)
        fold = self._norm.fold
        # coded key -> [exact mask, exact spellings, sound-alike phrases, sound-alike mask, gap mask, gap rights]
        entries: dict[str, list] = {}

        def entry_for(coded: str) -> list:
            return entries.setdefault(coded, [0, set(), [], 0, 0, set()])

        for info, value in zip(self._keys, self._values, strict=True):
            entry = entry_for(coder.code(info.key))
            entry[0] |= value[0]
            entry[1].add(info.key)
            if info.key in self._gap_masks:
                entry[4] |= self._gap_masks[info.key]
                entry[5] |= self._gap_rights[info.key]
        self._sound_phrases = 0
        for ridx, rule in enumerate(self.rules):
            if not rule.phonetic:
                continue
            for phrase in rule.phrases:
                key = fold(phrase)
                if len(key) < rule.phonetic or not all(map(_is_cjk, key)):
                    continue
                self._sound_phrases += 1
                for coded in coder.keys(key):
                    entry = entry_for(coded)
                    entry[3] |= self._rule_masks[ridx]
                    entry[2].append((ridx, phrase))
        keys = list(entries)
        # What the fast path needs per coded key, flat: a match goes to the slow path when it is an exact
        # spelling of a key active in the scope (and, for a gap pattern's left word, a right word follows),
        # or, where a sound-matched phrase has this key, when what was said is no dictionary word.
        self._sound_fast = []
        for k in keys:
            exact_mask, exact, _alikes, alike_mask, gap_mask, rights = entries[k]
            gap_re = re.compile("|".join(map(re.escape, sorted(rights, key=len, reverse=True)))) if rights else None
            self._sound_fast.append((frozenset(exact), exact_mask, alike_mask, gap_mask, gap_re))
        self._find_sound = ahocorasick_rs.AhoCorasick(
            keys or ["\0\0"], matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
        ).find_matches_as_indexes
        # The slow path looks for sound-alikes with an automaton of the sound-matched phrases alone, so a
        # longer exact key in sound form (全网最, a pattern's trigger) cannot hide one (全网醉火).
        alike_keys = [k for k in keys if entries[k][2]]
        self._alike_info = []
        for k in alike_keys:
            exact, alikes = entries[k][1], entries[k][2]
            by_bit = self._by_bit(tuple(sorted(alikes, key=lambda p: -p[0])))
            canonical = {fold(p) for _r, p in alikes}
            self._alike_info.append((frozenset(exact), by_bit, tuple(canonical)))
        self._find_alikes = ahocorasick_rs.AhoCorasick(
            alike_keys or ["\0\0"], matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
        ).find_matches_as_indexes
        self._code = coder.code

    def _gap_pattern(self, rule: Rule, fillers: list[str]):  # type: ignore[no-untyped-def]
        """One regex for a rule's phrases with filler words between their words: (left)(fillers)(right),
        where left + right must be one of the phrases (checked after the match)."""
        jieba = _jieba()
        fold = self._norm.fold
        canonical: dict[str, str] = {}
        lefts: set[str] = set()
        rights: set[str] = set()
        for phrase in rule.phrases:
            key = fold(phrase)
            if len(key) < 3 or not all(map(_is_cjk, key)):
                continue
            # A gap may open at a word edge with two characters or more on each side (全网|最低,
            # 医生|推荐, 卫健委|认可): one-character parts would make every 一 or 最 a trigger.
            cut = 0
            for word in jieba.lcut(key, HMM=False)[:-1]:
                cut += len(word)
                if cut >= 2 and len(key) - cut >= 2:
                    canonical.setdefault(key, phrase)
                    lefts.add(key[:cut])
                    rights.add(key[cut:])
        if not canonical:
            return None
        filler = _alternation([re.escape(fold(f)) for f in fillers if fold(f)])
        left = "|".join(map(re.escape, sorted(lefts, key=len, reverse=True)))
        right = "|".join(map(re.escape, sorted(rights, key=len, reverse=True)))
        regex = re.compile(f"({left})(?:{filler}){{1,{rule.gap}}}({right})")
        return regex, sorted(lefts), "{gap}", canonical, rights

    def _exemptions(self, contexts: list[Context]) -> list[tuple[_Exemption, ...]]:
        per_rule: list[list[_Exemption]] = [[] for _ in self.rules]
        for ctx in contexts:
            ex = _Exemption(
                frozenset(ctx.phrases) if ctx.phrases else None,
                re.compile(ctx.before) if ctx.before else None,
                re.compile(ctx.after) if ctx.after else None,
            )
            matched = False
            for ridx, rule in enumerate(self.rules):
                if any(rule.id == r or (r.endswith(".") and rule.id.startswith(r)) for r in ctx.rules):
                    per_rule[ridx].append(ex)
                    matched = True
            if not matched:
                self.errors.append(PackError(ctx.source, None, f"context {ctx.name!r}: names no loaded rule"))
        return [tuple(x) for x in per_rule]

    def _by_bit(self, phrases: tuple[tuple[int, str], ...]) -> tuple[tuple | None, ...]:
        """For each scope bit, the phrase entry of the latest-loaded rule active in that scope."""
        cached = self._by_bit_cache.get(phrases)
        if cached is not None:
            return cached
        table: list[tuple | None] = [None] * (_MAX_BIT + 1)
        for bit in SCOPE_BITS.values():
            pick = next(((r, p) for r, p in phrases if self._rule_masks[r] & bit), None)
            if pick is not None:
                r, p = pick
                table[bit] = (r, p, {**self._hit_base[r], "phrase": p})
        result = self._by_bit_cache[phrases] = tuple(table)
        return result

    # ----------------------------------------------------------------------------------------- loading
    @classmethod
    def load(cls, packs: Iterable[str | Path] = ("builtin",)) -> RuleEngine:
        """Load packs ("builtin", .toml files, directories). Never raises for a bad pack: see .errors."""
        packset = load_packs(packs)
        engine = cls(
            list(packset.rules.values()),
            packset.variants,
            packset.errors,
            lookalikes=packset.lookalikes,
            grammar=packset.context,
            contexts=packset.contexts,
        )
        for err in engine.errors:
            log.warning("rule pack problem: %s", err)
        return engine

    @property
    def phrase_count(self) -> int:
        return self._phrase_count

    def spellings(self, phrase: str) -> frozenset[str]:
        """Every normalized spelling the automaton holds for a phrase (for tools and the benchmark)."""
        return self._speller.spellings(self._norm.fold(phrase))

    def _compile_pattern(self, source: str) -> tuple[re.Pattern[str], list[str]]:
        triggers: list[str] = []

        def expand(m: re.Match[str]) -> str:
            spellings: set[str] = set()
            for raw in m.group(1).split("|"):  # <牙周炎|关节炎>: any spelling of any of the words
                word = self._norm.fold(raw)
                if not word:
                    raise ValueError(f"macro word {raw!r} is empty once normalized")
                spellings |= self._speller.spellings(word)
            ordered = sorted(spellings, key=len, reverse=True)
            triggers.extend(ordered)
            return "(?:" + "|".join(map(re.escape, ordered)) + ")"

        expanded = _MACRO.sub(expand, expand_sound_macros(source))  # <~词>: homophones (sound_macro)
        if not triggers:
            raise ValueError("needs at least one <word> macro (it is what the fast pre-filter looks for)")
        return re.compile(expanded), triggers

    # ----------------------------------------------------------------------------------------- scanning
    def stream(self, scope: str = "speech") -> SpeechStream:
        """Streaming state for one room's (or one speech source's) ASR segments."""
        return SpeechStream(self, scope)

    def scan(self, text: str, scope: str = "speech") -> list[Hit]:
        bit = SCOPE_BITS.get(scope)
        if bit is None:
            raise ValueError(f"unknown scope {scope!r} (expected one of {', '.join(SCOPES)})")
        if not text or not self._has_keys:
            return []
        # Most ASR lines have nothing to translate or collapse and are matched as they are.
        if self._dirty(text) is None:
            norm, marked = text, None
        else:
            norm, marked = self._fold_marked(text)
        # One pass over the sound form finds exact spellings and sound-alikes alike.
        coded = self._code(norm)
        fast = self._sound_fast
        found = self._find_sound(coded)
        for idx, start, end in found:
            exact, exact_mask, alike_mask, gap_mask, gap_re = fast[idx]
            said = norm[start:end]
            if said in exact:
                if exact_mask & bit or (gap_mask & bit and gap_re.search(norm, end, end + GAP_REACH) is not None):
                    return self._resolve(text, norm, marked, coded, found, bit)
            elif (alike_mask & bit and said not in self._freq) or end - start > 1:
                # A sound-alike (全网醉低价), or a longer key's sound form over other words (全网醉 in the
                # form of 全网最) that may hide an exact key or a sound-alike (醉火): look closer.
                return self._resolve(text, norm, marked, coded, found, bit)
        return []  # nothing, or only allow-contexts (第一次, 最近): the common case ends here

    def _resolve(self, text: str, norm: str, marked: str | None, coded: str, sound: list, bit: int) -> list[Hit]:
        """The slow path: offsets, patterns, leftmost-longest selection, context checks, hits."""
        offs: OffsetMap | None = None  # None: identity (the line needed no folding)
        if marked is None and _REPEAT.search(text):
            # The fast path left doubles at key edges alone (最最低 still contains 最低); patterns and
            # offsets want them collapsed, so fold and match again (rare: only lines with a double).
            norm, marked = self._fold_marked(text)
            coded = self._code(norm)
            sound = self._find_sound(coded)
        # When every match of the sound pass is an exact spelling, it is what the exact automaton would
        # find (same keys, leftmost-longest) and nothing sounds like a phrase: no second or third pass.
        # A one-character match that is no exact spelling (直 in the sound form of the trigger 治) hides no
        # key: a longer key at its position would have won, and none starts inside it.
        key_index = self._key_index
        fast = self._sound_fast
        found = []
        alike = rescan = False
        for idx, start, end in sound:
            k = key_index.get(norm[start:end])
            if k is not None:
                found.append((k, start, end))
                continue
            if fast[idx][2]:
                alike = True
            if end - start > 1:
                rescan = alike = True  # it may stand over an exact key or a sound-alike
        if rescan:
            found = self._find(norm)
        if marked is not None and not (len(marked) == len(text) == len(norm)):
            # (Same length all through: only 1:1 mappings such as traditional -> simplified, so the
            # offsets are the identity.)
            offs = self._norm.offset_map(text, marked, norm)
        cands: list[tuple[int, int, tuple | None]] = []  # start, end, (rule, phrase, template) or allow
        pattern_ids: set[int] | None = None
        values = self._values
        for idx, start, end in found:
            mask, allow, latin_edge, triggers, by_bit = values[idx]
            if latin_edge and not _latin_edges_ok(norm, offs, start, end):
                continue
            if triggers:
                if pattern_ids is None:
                    pattern_ids = set()
                pattern_ids.update(triggers)
            if allow:
                cands.append((start, end, None))
            elif mask & bit:
                pick = by_bit[bit]  # None for a pure pattern trigger
                if pick is not None:
                    cands.append((start, end, pick))
        alikes = self._sound_alikes(norm, coded, bit) if alike else None
        if alikes:
            cands.extend(alikes)
        if pattern_ids:
            cands = self._add_patterns(cands, pattern_ids, norm, offs, bit)
        elif alikes:
            cands = _leftmost_longest(cands)
        contexts = self._contexts
        exempt = self._exempt
        hits: list[Hit] = []
        for start, end, pick in cands:
            if pick is None:
                continue  # an allow-context
            if exempt[pick[0]] and _exempted(norm, start, end, pick[1], exempt[pick[0]]):
                continue  # advice, a question to viewers, a word's own exemption
            context = contexts[pick[0]]
            if context is not None:
                unless, window, boundary = context
                if unless is not None and unless.search(norm):
                    continue  # a warning (有人冒充我们……千万别信), not an offer
                if window and _negated(text, norm, offs, start, window, self._grammar):
                    continue
                if boundary and not _on_word_boundaries(norm, start, end):
                    continue
            if offs is not None:
                start, end = offs.span(start, end)
            # Hit is a frozen dataclass; filling its __dict__ directly is ~4x cheaper than __init__'s
            # nine object.__setattr__ calls, and this runs once per hit inline in the room loop.
            hit = _new(Hit)
            fields = hit.__dict__
            fields.update(pick[2])
            fields["start"] = start
            fields["end"] = end
            fields["matched"] = text[start:end]
            hits.append(hit)
        return hits

    def _sound_alikes(self, norm: str, coded: str, bit: int) -> list:
        """Candidates that sound like a phrase (全网醉低价, 权威机枸, 威心) without being one of its
        spellings, where the sound-alike is sure to be meant (see _plausible_alike)."""
        out = []
        info = self._alike_info
        checks = 0
        for idx, start, end in self._find_alikes(coded):
            exact, by_bit, canonical = info[idx]
            pick = by_bit[bit]
            if pick is None:
                continue
            said = norm[start:end]
            if said in exact:
                continue  # an exact spelling: the exact pass reports it, with its own context checks
            checks += 1
            if checks > MAX_ALIKE_CHECKS:
                # Each check cuts words around the match; a line of thousands of sound-alikes is garbage
                # or an attack, and must not stall the room: the rest of it is left unchecked, counted.
                self.alikes_skipped += 1
                log.warning("sound-alike checks capped at %d in a line of %d characters", MAX_ALIKE_CHECKS, len(norm))
                break
            if _plausible_alike(norm, start, end, canonical):
                out.append((start, end, pick))
        return out

    def _add_patterns(self, cands, pattern_ids, norm, offs, bit):  # type: ignore[no-untyped-def]
        """Add matches of the triggered patterns, then select leftmost-longest again."""
        masks = self._rule_masks
        for pidx in pattern_ids:
            pat = self._patterns[pidx]
            if not masks[pat.rule] & bit:
                continue
            for m in pat.regex.finditer(norm):
                if m.end() > m.start() and _latin_edges_ok(norm, offs, m.start(), m.end()):
                    if pat.gap is not None:  # a phrase with fillers between its words
                        found = _gap_phrase(m, pat.gap)
                        if found is not None:
                            phrase, end = found
                            cands.append((m.start(), end, (pat.rule, phrase, {**pat.template, "phrase": phrase})))
                    elif pat.phrase == MATCH_PHRASE:  # report what was said, normalized (最服帖, 治牙周炎)
                        phrase = m.group(0)
                        cands.append((m.start(), m.end(), (pat.rule, phrase, {**pat.template, "phrase": phrase})))
                    else:
                        cands.append((m.start(), m.end(), (pat.rule, pat.phrase, pat.template)))
        return _leftmost_longest(cands)


def _gap_phrase(m: re.Match[str], phrases: dict[str, str]) -> tuple[str, int] | None:
    """The phrase a gap match spells, and where it ends: the regex takes the longest right-hand word
    (推荐的), the phrase may be a shorter one (医生都推荐)."""
    left, right = m.group(1), m.group(2)
    for cut in range(len(right), 0, -1):
        phrase = phrases.get(left + right[:cut])
        if phrase is not None:
            return phrase, m.start(2) + cut
    return None


def _leftmost_longest(cands: list) -> list:
    # At equal spans an allow-context (None) wins.
    cands.sort(key=lambda c: (c[0], c[0] - c[1], c[2] is not None))
    chosen = []
    pos = 0
    for c in cands:
        if c[0] >= pos:
            chosen.append(c)
            pos = c[1]
    return chosen


def _exempted(norm: str, start: int, end: int, phrase: str, exemptions: tuple[_Exemption, ...]) -> bool:
    for ex in exemptions:
        if ex.phrases is not None and phrase not in ex.phrases:
            continue
        if ex.before is not None and ex.before.search(norm, max(0, start - CONTEXT_WINDOW), start) is None:
            continue
        if ex.after is not None and ex.after.match(norm[end : end + CONTEXT_WINDOW]) is None:
            continue
        return True
    return False


def _latin_edges_ok(norm: str, offs: OffsetMap | None, start: int, end: int) -> bool:
    """A match that starts/ends with a Latin letter or digit must not be glued to another one
    (vx in xvx, top1 in top10), unless a separator stood between them in the original."""
    if start > 0 and _is_ascii_alnum(norm[start]) and _is_ascii_alnum(norm[start - 1]):
        if offs is None or offs.span(start - 1, start)[1] == offs.span(start, start + 1)[0]:
            return False
    if end < len(norm) and _is_ascii_alnum(norm[end - 1]) and _is_ascii_alnum(norm[end]):
        if offs is None or offs.span(end - 1, end)[1] == offs.span(end, end + 1)[0]:
            return False
    return True


def _negated(text: str, norm: str, offs: OffsetMap | None, start: int, window: int, grammar: _Grammar) -> bool:
    if grammar.spanning is not None:
        # 更别提 / 从来不 / 并不: the denial reaches past the clause it opens (不是药治不了病更别提治愈).
        span_lo = max(0, start - SPAN_WINDOW)
        last = None
        for m in grammar.spanning.finditer(norm, span_lo, start):
            last = m
        if last is not None and not grammar.cancel.search(norm, last.end(), start):
            return True
    starts: Sequence[int] = range(len(norm) + 1) if offs is None else offs.lists()[0]
    lo = max(0, start - window)
    if lo == start or grammar.negation.search(norm, lo, start) is None:
        return False  # the usual case: no negator right before the term
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
    for m in grammar.negation.finditer(window):
        last = m
    if last is None:
        return False
    rest = window[last.end() :]
    return not grammar.cancel.search(rest) and not grammar.governed.match(rest)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def _cut_bounds(window: str) -> frozenset[int]:
    # Not memoized: a cache keyed by the text around a hit would make repeated lines cheap, not scanning
    # (the few rules with `boundary` set pay jieba only for their own candidate hits, on a short window).
    jieba = _jieba()
    if _JIEBA_BLOCK.fullmatch(window) is None:  # several blocks (rare after folding): jieba's own walk
        bounds = {0, len(window)}
        for _word, s, e in jieba.tokenize(window):
            bounds.add(s)
            bounds.add(e)
        return frozenset(bounds)
    return frozenset(_dag_bounds(window, jieba))


def _dag_bounds(s: str, jieba) -> set[int]:  # type: ignore[no-untyped-def]
    """Word edges of jieba's default cut (HMM on) of one block: the same dictionary, arithmetic and
    tie-breaking as jieba's get_DAG/calc/__cut_DAG, in one tight loop instead of generators and max()."""
    dt = jieba.dt
    freq = dt.FREQ
    ln = math.log
    logtotal = ln(dt.total)
    n = len(s)
    route_p = [0.0] * (n + 1)
    route_x = [0] * (n + 1)
    for idx in range(n - 1, -1, -1):
        best_p = best_x = None
        i = idx
        frag = s[idx]
        while i < n and frag in freq:
            if freq[frag]:
                p = ln(freq.get(frag) or 1) - logtotal + route_p[i + 1]
                if best_p is None or p > best_p or (p == best_p and i > best_x):
                    best_p, best_x = p, i
            i += 1
            frag = s[idx : i + 1]
        if best_p is None:  # no dictionary word starts here: the character alone
            best_p, best_x = ln(freq.get(s[idx]) or 1) - logtotal + route_p[idx + 1], idx
        route_p[idx] = best_p
        route_x[idx] = best_x
    bounds = {0, n}
    x = 0
    buf_start = -1  # start of the current run of single characters
    while x <= n:
        y = route_x[x] + 1 if x < n else n
        if x < n and y - x == 1:
            if buf_start < 0:
                buf_start = x
        else:
            if buf_start >= 0:
                buf = s[buf_start:x]
                if len(buf) > 1 and not freq.get(buf):
                    pos = buf_start
                    for word in jieba.finalseg.cut(buf):
                        pos += len(word)
                        bounds.add(pos)
                else:
                    bounds.update(range(buf_start, x + 1))
                buf_start = -1
            bounds.add(x)
            bounds.add(y)
        if x == n:
            break
        x = y
    return bounds


def _plausible_alike(norm: str, start: int, end: int, canonical: tuple[str, ...]) -> bool:
    """Is norm[start:end], which sounds like one of the canonical phrases, meant as that phrase?
    - It is no dictionary word itself (升值 / 升职 are both words: neither is a slip for the other).
    - Each character that differs from the phrase sits in a word of jieba's cut of the text around it
      that lies inside the match and is no ordinary dictionary word (two or more characters, frequency
      at least ORDINARY_WORD_FREQ): 一定升职 cuts 升职, a word: not 一定升值; 主播威心 cuts 威心, no
      word: 主播微信; 央视推见 cuts 推见, a rare entry: 央视推荐.
    - A two-character match must also start and end on word edges (喝醉好难受 cuts 喝醉|好: not 最好;
      这个地一直 cuts 地|一直: not 第一)."""
    said = norm[start:end]
    freq = _jieba().dt.FREQ
    if freq.get(said):
        return False
    lo = max(0, start - 8)
    bounds = sorted(_cut_bounds(norm[lo : min(len(norm), end + 8)]))
    edges = [b + lo for b in bounds]
    if end - start <= 2 and (start not in edges or end not in edges):
        return False
    phrase = min(canonical, key=lambda c: sum(a != b for a, b in zip(c, said, strict=False)))
    for i, (want, got) in enumerate(zip(phrase, said, strict=False)):
        if want == got:
            continue
        pos = start + i
        w_start = max(e for e in edges if e <= pos)
        w_end = min(e for e in edges if e > pos)
        if w_start < start or w_end > end:
            return False  # the slip is glued into a word that reaches outside the phrase
        if w_end - w_start >= 2 and freq.get(norm[w_start:w_end], 0) >= ORDINARY_WORD_FREQ:
            return False  # ...or is an ordinary word of its own
    return True


def _on_word_boundaries(norm: str, start: int, end: int) -> bool:
    lo = max(0, start - 8)
    hi = min(len(norm), end + 8)
    bounds = _cut_bounds(norm[lo:hi])
    return (start - lo) in bounds and (end - lo) in bounds
