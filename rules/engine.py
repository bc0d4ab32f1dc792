"""RuleEngine: normalize -> automaton -> leftmost-longest with allow-contexts -> context checks -> hits.

Speed design (scan runs inline in the room loop):
- Fast path: one regex says whether the line needs folding (most ASR lines do not); at most one
  `str.translate`; one leftmost-longest pass of the automaton (ahocorasick-rs, in Rust). A line whose
  matches are all allow-contexts (最近, 第一次) or nothing returns [] right there.
- Slow path, only for lines with a candidate: offsets back into the original, the patterns whose trigger
  words were matched, leftmost-longest selection again with their matches, then per-hit context checks
  (Latin word edges, negation, warning words, jieba word boundaries).
Loading: rules/tables.py computes the tables (keys, spellings, sound keys, patterns, character tables)
as plain data, rules/cache.py keeps them on disk per set of packs, and `_assemble` builds the automata,
regexes and flat per-key tuples from them, keeping nothing else of the build.
The engine is immutable after load; a reload builds a new engine.
"""

from __future__ import annotations

import logging
import math
import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick_rs

from . import cache
from .model import SCOPES, Context, Hit, PackError, Rule
from .normalize import _REPEAT, Normalizer, OffsetMap
from .packs import load_packs
from .phonetic import SoundCoder
from .stream import SpeechStream
from .tables import (
    SCOPE_BITS,
    alternation,
    build_tables,
    cache_inputs,
    is_ascii_alnum,
    release_build_caches,
    rule_mask,
)
from .variants import Speller

log = logging.getLogger(__name__)

MATCH_PHRASE = "{match}"  # a pattern's phrase that means "the normalized text it matched"
_MAX_BIT = max(SCOPE_BITS.values())

_new = object.__new__
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
    # Denials said after the term, in the same unpunctuated stretch (消炎啊去痘啊它都做不了, 降血压什么的
    # 它肯定做不到, 全网最便宜这个我可不敢打包票): matched from the term's end up to POST_WINDOW characters on.
    "post_negators": [],
    "cancel": ["就", "才", "而是", "但是", "但"],
    # Cancel words that belong to the words a denial of saying reports (从来不说用了以后就能根治: the 就 is
    # part of what is not said), so they do not end a spanning negator that ends in 说 or 讲.
    "reported": [],
    # A negator that governs another verb (不用犹豫, 别错过, 不要担心) says nothing about the term after it.
    "governed": [
        "犹豫", "担心", "怕", "着急", "急", "考虑", "想", "等", "错过", "纠结", "客气", "怀疑", "舍不得", "心疼",
        "后悔", "迟疑", "观望", "手软", "慌",
    ],
    "fillers": [],  # words a gap-tolerant phrase may hold between its words (全网就我们家最低)
}
SPAN_WINDOW = 20
POST_WINDOW = 12
# A word of jieba's dictionary counts as ordinary (so a sound-alike inside it is no slip) from this
# frequency on: 升职 (209) and 喝醉 (236) are words, 推见 (3) and 负作用 (13) are dictionary noise that ASR
# and evaders produce for 推荐 and 副作用.
ORDINARY_WORD_FREQ = 100
# Modal particles that end a clause of unpunctuated ASR (料子哈顶吉的): the next character starts a
# word, whatever jieba's HMM glued it to (it cuts 哈顶|吉).
CLAUSE_PARTICLES = frozenset("哈啊呀吧呢嘛哦啦嗯噢哟呐")
MAX_ALIKE_CHECKS = 64  # sound-alike candidates checked per line (each costs a jieba cut of a window)
GAP_REACH = 14  # characters after a gap pattern's left word in which a right word must start
MAX_SHADOWED = 24  # characters after a trigger-only key in which a phrase starting inside it may end
CONTEXT_WINDOW = 16  # characters on each side a [[context]] regex sees
# A comma or full stop ends a clause; so does a pause (a space, as ASR and chat write it) before a new
# subject (没挂链接 你们去某宝搜: the 没 stays with 挂链接).
_CLAUSE_END = re.compile(r"[，。！？；,.!?;\n]|\s+(?=你们|大家|家人们|宝宝们|姐妹们|宝子们|咱们|你)")


@dataclass(frozen=True)
class _Grammar:
    negation: re.Pattern[str]
    spanning: re.Pattern[str] | None
    post: re.Pattern[str] | None
    cancel: re.Pattern[str]
    governed: re.Pattern[str]
    reported_cancel: re.Pattern[str]  # cancel words without the `reported` ones


def _grammar(lists: dict[str, list[str]]) -> _Grammar:
    merged = {**DEFAULT_GRAMMAR, **lists}
    spanning = merged["spanning_negators"]
    post = merged["post_negators"]
    reported = set(merged["reported"])
    return _Grammar(
        re.compile(alternation(merged["negators"] + spanning)),
        re.compile(alternation(spanning)) if spanning else None,
        re.compile(alternation(post)) if post else None,
        re.compile(alternation(merged["cancel"])),
        re.compile(alternation(merged["governed"])),
        re.compile(alternation([w for w in merged["cancel"] if w not in reported] or ["(?!)"])),
    )


@dataclass(frozen=True)
class _CompiledPattern:
    rule: int
    regex: re.Pattern[str]
    phrase: str
    # A gap-tolerant phrase set: group 1 + group 2 (the words around the filler) -> canonical phrase.
    gap: dict[str, str] | None = None


@dataclass(frozen=True)
class _Exemption:
    phrases: frozenset[str] | None
    before: re.Pattern[str] | None
    after: re.Pattern[str] | None


_is_ascii_alnum = is_ascii_alnum


def _automaton(keys: list[str]):  # type: ignore[no-untyped-def]
    # A contiguous NFA: as fast on these keys as the default choice and a third of its memory.
    return ahocorasick_rs.AhoCorasick(
        keys or ["\0\0"],
        matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
        implementation=ahocorasick_rs.Implementation.ContiguousNFA,
    ).find_matches_as_indexes


def _release_freed_memory() -> None:
    """Loading frees tens of megabytes of temporaries (the tables, the automata's build state); glibc
    keeps freed heap pages in the process unless asked to hand them back. Elsewhere: nothing to do."""
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _ids(blob: bytes) -> array[int]:
    ids = array("I")
    ids.frombytes(blob)
    return ids


def _phrase_tuple(phrases) -> tuple[tuple[int, str], ...]:  # type: ignore[no-untyped-def]
    return tuple((r, p) for r, p in phrases)


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
        self._variants = variants
        self._speller: Speller | None = None  # made on first use of spellings(): scans never need it
        try:
            self._grammar = _grammar(grammar or {})
        except re.error as e:
            self.errors.append(PackError("[grammar]", None, f"bad word list regex: {e}"))
            self._grammar = _grammar({})
        fillers = (grammar or {}).get("fillers") or DEFAULT_GRAMMAR["fillers"]
        self._exempt = self._exemptions(contexts or [])
        self._rule_masks = [rule_mask(r) for r in self.rules]
        self._hit_base = [
            {"rule": r.id, "category": r.category, "severity": r.severity, "basis": r.basis, "suggestion": r.suggestion}
            for r in self.rules
        ]
        # The expensive half of loading (spellings, sound keys, gap patterns, character tables) comes from
        # the disk cache when these packs were loaded before with this code (see cache.py).
        inputs = cache_inputs(self.rules, variants, lookalikes or {}, fillers)
        key = cache.key_of(inputs)
        tables = cache.read(key)
        if tables is not None:
            try:
                self._assemble(tables)
            except (KeyError, IndexError, TypeError, ValueError, re.error) as e:
                log.warning("rules cache entry %s does not fit this engine (%r): rebuilding", key, e)
                tables = None
        if tables is None:
            tables = build_tables(self.rules, variants, lookalikes or {}, fillers)
            self._assemble(tables)
            cache.write(key, tables)
            release_build_caches()
        self.errors.extend(PackError(*e) for e in tables["errors"])
        fold = self._norm.fold
        unless = []
        for rule in self.rules:
            words = sorted({u for u in (fold(w) for w in rule.unless) if u}, key=len, reverse=True)
            unless.append(re.compile("|".join(map(re.escape, words))) if words else None)
        # Per rule: (unless regex, negation window, jieba boundary), or None when the rule has no check.
        self._contexts = [
            (unless[i], r.negation, r.boundary) if (unless[i] or r.negation or r.boundary) else None
            for i, r in enumerate(self.rules)
        ]
        if any(r.boundary for r in self.rules) or self._sound_phrases:
            _jieba()  # load the dictionary now, not on the first hit in a live room
        self._freq = _jieba().dt.FREQ if self._sound_phrases else {}
        del tables
        _release_freed_memory()

    def _assemble(self, t: dict) -> None:
        """Automata, regexes and the scanner's flat per-key tuples from build_tables' plain data. Equal
        tuples are shared (most keys mean the same few things), and nothing else of the build is kept."""
        self._norm = Normalizer(table=t["norm_table"])
        self._phrase_count = t["phrase_count"]
        self._sound_phrases = t["sound_phrases"]
        by_bit_cache: dict[tuple, tuple] = {}
        # Triggers split into the patterns a key points at directly and those it passes on from a trigger
        # word inside it (stored as -1 - id: their match must start at the key, see _add_patterns).
        distinct = [
            (mask, allow, latin_edge, tuple(x for x in triggers if x >= 0), tuple(-1 - x for x in triggers if x < 0),
             self._by_bit(_phrase_tuple(phrases), by_bit_cache))
            for mask, allow, latin_edge, triggers, phrases in t["values"]
        ]
        # The value is flat so the hot loops unpack it in one step (no attribute lookups).
        value_ids = _ids(t["values_ids"])
        self._values = [distinct[i] for i in value_ids]
        # Keys that are only a pattern's trigger word (no phrase in any scope, no allow-context): a phrase
        # that starts inside one must still be found (see _unshadowed).
        trigger_only = {
            i for i, (_m, allow, _l, triggers, _h, by_bit) in enumerate(distinct)
            if triggers and not allow and all(p is None for p in by_bit)
        }
        self._trigger_only = frozenset(k for k, i in enumerate(value_ids) if i in trigger_only)
        keys = t["keys"]
        # ahocorasick-rs (Rust) does leftmost-longest matching natively and ~3x faster than
        # pyahocorasick's iter_long on these keys; it reports code-point offsets.
        self._find = _automaton(keys)
        self._key_index = {k: i for i, k in enumerate(keys)}
        self._has_keys = bool(keys)
        patterns = []
        for ridx, source, phrase, gap in t["patterns"]:
            patterns.append(_CompiledPattern(ridx, re.compile(source), phrase, gap))
        self._patterns = tuple(patterns)
        # What the fast path needs per coded key, flat: a match goes to the slow path when it is an exact
        # spelling of a key active in the scope (and, for a gap pattern's left word, a right word follows),
        # or, where a sound-matched phrase has this key, when what was said is no dictionary word.
        # (An exact spelling is a key: the coded text of what was said is the coded key itself.)
        fast = []
        for exact_mask, alike_mask, gap_mask, rights in t["sound_values"]:
            gap_re = re.compile("|".join(map(re.escape, sorted(rights, key=len, reverse=True)))) if rights else None
            fast.append((exact_mask, alike_mask, gap_mask, gap_re))
        self._sound_fast = [fast[i] for i in _ids(t["sound_values_ids"])]
        self._find_sound = _automaton(t["sound_keys"])
        alike_info = []
        for phrases, canonical, trigger_words in t["alike_values"]:
            alike_info.append(
                (self._by_bit(_phrase_tuple(phrases), by_bit_cache), tuple(canonical), tuple(trigger_words))
            )
        self._alike_info = alike_info
        self._find_alikes = _automaton(t["alike_keys"])
        self._coder = SoundCoder.from_table(t["sound_table"])
        self._code = self._coder.code
        self._dirty = self._norm.dirty_finder("".join(map(re.escape, t["interior"])))
        self._fold_marked = self._norm.fold_marked

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

    def _by_bit(self, phrases: tuple[tuple[int, str], ...], cache: dict[tuple, tuple]) -> tuple[tuple | None, ...]:
        """For each scope bit, the phrase entry of the latest-loaded rule active in that scope."""
        cached = cache.get(phrases)
        if cached is not None:
            return cached
        table: list[tuple | None] = [None] * (_MAX_BIT + 1)
        for bit in SCOPE_BITS.values():
            pick = next(((r, p) for r, p in phrases if self._rule_masks[r] & bit), None)
            if pick is not None:
                r, p = pick
                table[bit] = (r, p)
        result = cache[phrases] = tuple(table)
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
        if self._speller is None:
            self._speller = Speller(self._norm, self._variants)
        return self._speller.spellings(self._norm.fold(phrase))

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
        keys = self._key_index
        found = self._find_sound(coded)
        for idx, start, end in found:
            exact_mask, alike_mask, gap_mask, gap_re = fast[idx]
            said = norm[start:end]
            if said in keys:  # an exact spelling of a key (its coded form is this sound key)
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
            if fast[idx][1]:
                alike = True
            if end - start > 1:
                rescan = alike = True  # it may stand over an exact key or a sound-alike
        if rescan:
            found = self._find(norm)
        found = self._unshadowed(norm, found)
        if marked is not None and not (len(marked) == len(text) == len(norm)):
            # (Same length all through: only 1:1 mappings such as traditional -> simplified, so the
            # offsets are the identity.)
            offs = self._norm.offset_map(text, marked, norm)
        cands: list[tuple[int, int, tuple | None]] = []  # start, end, (rule, phrase) or allow
        pattern_ids: set[int] | None = None
        covering: dict[int, list[tuple[int, int]]] = {}  # pattern -> key spans its matches must cover
        values = self._values
        for idx, start, end in found:
            mask, allow, latin_edge, triggers, hidden, by_bit = values[idx]
            if latin_edge and not _latin_edges_ok(norm, offs, start, end):
                continue
            if triggers:
                if pattern_ids is None:
                    pattern_ids = set()
                pattern_ids.update(triggers)
            if hidden:  # passed on from a trigger word inside this key: the match must start at the key
                for t in hidden:
                    covering.setdefault(t, []).append((start, end))
            if allow:
                cands.append((start, end, None))
            elif mask & bit:
                pick = by_bit[bit]  # None for a pure pattern trigger
                if pick is not None:
                    cands.append((start, end, pick))
        heard: list[tuple[int, int, str]] = []  # trigger words heard as a sound-alike (胃信 for 微信)
        alikes = self._sound_alikes(norm, coded, bit, heard) if alike else None
        if alikes:
            cands.extend(alikes)
        pattern_text = norm
        if heard:
            # The patterns read each such word as the trigger it sounds like; same length, same offsets.
            pattern_ids = set() if pattern_ids is None else pattern_ids
            for start, end, word in heard:
                pattern_ids.update(values[key_index[word]][3])
                pattern_text = pattern_text[:start] + word + pattern_text[end:]
        if pattern_ids or covering:
            cands = self._add_patterns(cands, pattern_ids or set(), pattern_text, offs, bit, covering)
        elif alikes:
            cands = _leftmost_longest(cands)
        contexts = self._contexts
        exempt = self._exempt
        hit_base = self._hit_base
        hits: list[Hit] = []
        for start, end, pick in cands:
            if pick is None:
                continue  # an allow-context
            if start >= 2 and norm[start - 1] in "不没" and norm[start - 2] == norm[start]:
                continue  # the term's own A-not-A question (开不开光, 治不治病) asks; it claims nothing
            if exempt[pick[0]] and _exempted(norm, start, end, pick[1], exempt[pick[0]]):
                continue  # advice, a question to viewers, a word's own exemption
            context = contexts[pick[0]]
            if context is not None:
                unless, window, boundary = context
                if unless is not None and unless.search(norm):
                    continue  # a warning (有人冒充我们……千万别信), not an offer
                if window and (
                    _negated(text, norm, offs, start, window, self._grammar)
                    or _denied_after(text, norm, offs, end, self._grammar)
                ):
                    continue
                if boundary and not _on_word_boundaries(norm, start, end):
                    continue
            if offs is not None:
                start, end = offs.span(start, end)
            # Hit is a frozen dataclass; filling its __dict__ directly is ~4x cheaper than __init__'s
            # nine object.__setattr__ calls, and this runs once per hit inline in the room loop.
            hit = _new(Hit)
            fields = hit.__dict__
            fields.update(hit_base[pick[0]])
            fields["phrase"] = pick[1]
            fields["start"] = start
            fields["end"] = end
            fields["matched"] = text[start:end]
            hits.append(hit)
        return hits

    def _unshadowed(self, norm: str, found: list) -> list:
        """`found` plus the keys that start inside a key that is only a pattern's trigger word. Such a
        key (都保 of 什么病都保) is taken by leftmost-longest like any other, and would hide a phrase that
        starts inside it (保证不褪色 in 洗一百次都保证不褪色) even when its pattern does not match; the
        candidates are selected leftmost-longest again after the patterns ran."""
        trigger_only = self._trigger_only
        extra = None
        for idx, start, end in found:
            if end - start < 2 or idx not in trigger_only:
                continue
            for j, s, e in self._find(norm[start + 1 : end + MAX_SHADOWED]):
                if s + 1 >= end - start:
                    break
                extra = extra or []
                extra.append((j, s + start + 1, e + start + 1))
        if extra is None:
            return found
        return sorted(set(found) | set(extra), key=lambda f: (f[1], -f[2]))

    def _sound_alikes(self, norm: str, coded: str, bit: int, heard: list) -> list:
        """Candidates that sound like a phrase (全网醉低价, 权威机枸, 威心) without being one of its
        spellings, where the sound-alike is sure to be meant (see _plausible_alike). Sound-alikes of a
        pattern's trigger words go to `heard` as (start, end, trigger word) instead."""
        out = []
        info = self._alike_info
        keys = self._key_index
        checks = 0
        for idx, start, end in self._find_alikes(coded):
            by_bit, canonical, trigger_words = info[idx]
            pick = by_bit[bit]
            if pick is None and not trigger_words:
                continue
            said = norm[start:end]
            if said in keys:
                continue  # an exact spelling: the exact pass reports it, with its own context checks
            checks += 1
            if checks > MAX_ALIKE_CHECKS:
                # Each check cuts words around the match; a line of thousands of sound-alikes is garbage
                # or an attack, and must not stall the room: the rest of it is left unchecked, counted.
                self.alikes_skipped += 1
                log.warning("sound-alike checks capped at %d in a line of %d characters", MAX_ALIKE_CHECKS, len(norm))
                break
            if pick is not None and _plausible_alike(norm, start, end, canonical):
                out.append((start, end, pick))
            elif pick is None and _plausible_alike(norm, start, end, trigger_words):
                heard.append((start, end, _closest(trigger_words, said)))
        return out

    def _add_patterns(self, cands, pattern_ids, norm, offs, bit, covering):  # type: ignore[no-untyped-def]
        """Add matches of the triggered patterns, then select leftmost-longest again. A pattern only
        `covering` names counts where its match starts with one of the key spans listed for it and reaches
        a word past it, two characters or more (a match that starts earlier would take the words before
        the key, a cancelling 还能 or 就, into the term; one stray character more, 全网最低你, says no more
        than the key and may swallow the next claim)."""
        masks = self._rule_masks
        for pidx in (pattern_ids | covering.keys()) if covering else pattern_ids:
            pat = self._patterns[pidx]
            if not masks[pat.rule] & bit:
                continue
            if pidx in pattern_ids:
                found_matches: Iterable[re.Match[str] | None] = pat.regex.finditer(norm)
            else:  # only a match anchored at a key that hides the trigger (one regex step per key)
                found_matches = (pat.regex.match(norm, s) for s, _e in covering[pidx])
                found_matches = [m for m, (_s, e) in zip(found_matches, covering[pidx], strict=True)
                                 if m is not None and e + 2 <= m.end()]
            for m in found_matches:
                if m is not None and m.end() > m.start() and _latin_edges_ok(norm, offs, m.start(), m.end()):
                    if pat.gap is not None:  # a phrase with fillers between its words
                        found = _gap_phrase(m, pat.gap)
                        if found is not None:
                            phrase, end = found
                            cands.append((m.start(), end, (pat.rule, phrase)))
                    elif pat.phrase == MATCH_PHRASE:  # report what was said, normalized (最服帖, 治牙周炎)
                        phrase = m.group(0)
                        cands.append((m.start(), m.end(), (pat.rule, phrase)))
                    else:
                        cands.append((m.start(), m.end(), (pat.rule, pat.phrase)))
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
        # The negation regex holds the spanning negators too, and reaches at least as far back: when
        # it finds nothing in the spanning window, neither check below can (the usual case).
        if grammar.negation.search(norm, max(0, start - max(SPAN_WINDOW, window)), start) is None:
            return False
        # 更别提 / 从来不 / 并不: the denial reaches past the clause it opens (不是药治不了病更别提治愈).
        span_lo = max(0, start - SPAN_WINDOW)
        last = None
        for m in grammar.spanning.finditer(norm, span_lo, start):
            last = m
        if last is not None:
            said = last.group().endswith(("说", "讲")) or norm.startswith(("说", "讲"), last.end())
            cancel = grammar.reported_cancel if said else grammar.cancel
            if not cancel.search(norm, last.end(), start):
                return True
    lo = max(0, start - window)
    if lo == start or grammar.negation.search(norm, lo, start) is None:
        return False  # the usual case: no negator right before the term (and no offset lists built)
    starts: Sequence[int] = range(len(norm) + 1) if offs is None else offs.lists()[0]
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


def _denied_after(text: str, norm: str, offs: OffsetMap | None, end: int, grammar: _Grammar) -> bool:
    """A denial after the term (它都做不了, 这个我可不敢打包票) within POST_WINDOW characters, in the same
    clause of the original (no comma or full stop between), with no cancelling word (但是, 而且) before it."""
    post = grammar.post
    if post is None:
        return False
    m = post.search(norm, end, end + POST_WINDOW)
    if m is None:
        return False  # the usual case
    between = norm[end : m.start()]
    if grammar.cancel.search(between) is not None:
        return False
    if offs is None:
        original = text[end : m.start()]
    else:
        starts, ends = offs.lists()
        original = text[ends[end - 1] : starts[m.start()]]  # from the term's last character on
    return _CLAUSE_END.search(original) is None


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
    get = freq.get
    for idx in range(n - 1, -1, -1):
        best_p = best_x = None
        i = idx
        f = get(s[idx])  # one lookup per prefix: None ends the walk (jieba keeps every prefix, at 0)
        while f is not None:
            if f:
                p = ln(f) - logtotal + route_p[i + 1]
                if best_p is None or p > best_p or (p == best_p and i > best_x):
                    best_p, best_x = p, i
            i += 1
            if i >= n:
                break
            f = get(s[idx : i + 1])
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
                    for size in _hmm_word_sizes(buf, jieba.finalseg):
                        pos += size
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


_HAN_RUN = re.compile("[\u4E00-\u9FD5]+")  # jieba.finalseg's re_han, one block


def _hmm_word_sizes(buf: str, finalseg) -> list[int]:  # type: ignore[no-untyped-def]
    """The lengths of the words jieba.finalseg.cut(buf) yields, in order. Each run of ideographs goes
    through the same Viterbi as jieba's, with the same float arithmetic and tie-breaking (max over
    (probability, state) tuples), unrolled over the four states with back-pointers instead of copied
    path lists; the rest is split as jieba splits it."""
    if finalseg.Force_Split_Words:
        return [len(w) for w in finalseg.cut(buf)]  # rare: words jieba was told to split; its own walk
    if _HAN_RUN.fullmatch(buf) is not None:
        return _viterbi_sizes(buf, finalseg)
    # jieba's cut() of a mixed run (ideographs with digits or letters): its blocks, each as it does.
    sizes: list[int] = []
    for block in finalseg.re_han.split(buf):
        if finalseg.re_han.match(block):
            sizes += _viterbi_sizes(block, finalseg)
        else:
            sizes += [len(x) for x in finalseg.re_skip.split(block) if x]
    return sizes


def _viterbi_sizes(buf: str, finalseg) -> list[int]:  # type: ignore[no-untyped-def]
    low = finalseg.MIN_FLOAT
    start_p, trans, emit = finalseg.start_P, finalseg.trans_P, finalseg.emit_P
    e_b, e_m, e_e, e_s = emit["B"].get, emit["M"].get, emit["E"].get, emit["S"].get
    t_b, t_m, t_e, t_s = trans["B"].get, trans["M"].get, trans["E"].get, trans["S"].get
    # trans_p[y0].get(y, MIN_FLOAT) for the PrevStatus pairs (B <- E,S; M <- M,B; S <- S,E; E <- B,M).
    eb, sb = t_e("B", low), t_s("B", low)
    mm, bm = t_m("M", low), t_b("M", low)
    ss, es = t_s("S", low), t_e("S", low)
    be, me = t_b("E", low), t_m("E", low)
    c = buf[0]
    vb = start_p["B"] + e_b(c, low)
    vm = start_p["M"] + e_m(c, low)
    ve = start_p["E"] + e_e(c, low)
    vs = start_p["S"] + e_s(c, low)
    back: list[tuple[str, str, str, str]] = []  # per step: the previous state chosen for B, M, E, S
    for c in buf[1:]:
        em = e_b(c, low)
        p1, p2 = ve + eb + em, vs + sb + em  # (prob, "E") vs (prob, "S"): a tie goes to "S"
        nb, fb = (p1, "E") if p1 > p2 else (p2, "S")
        em = e_m(c, low)
        p1, p2 = vm + mm + em, vb + bm + em  # "M" vs "B": a tie goes to "M"
        nm, fm = (p2, "B") if p2 > p1 else (p1, "M")
        em = e_s(c, low)
        p1, p2 = vs + ss + em, ve + es + em  # "S" vs "E": a tie goes to "S"
        ns, fs = (p2, "E") if p2 > p1 else (p1, "S")
        em = e_e(c, low)
        p1, p2 = vb + be + em, vm + me + em  # "B" vs "M": a tie goes to "M"
        ne, fe = (p1, "B") if p1 > p2 else (p2, "M")
        back.append((fb, fm, fe, fs))
        vb, vm, ve, vs = nb, nm, ne, ns
    state = "E" if ve > vs else "S"  # max over (V, y) for y in "ES": a tie goes to "S"
    states = [state]
    for fb, fm, fe, fs in reversed(back):
        state = {"B": fb, "M": fm, "E": fe, "S": fs}[state]
        states.append(state)
    states.reverse()
    # jieba's __cut over the states, then its Force_Split_Words, counting characters instead of slicing.
    sizes: list[int] = []
    begin = nexti = 0
    for i, pos in enumerate(states):
        if pos == "B":
            begin = i
        elif pos == "E":
            sizes.append(i + 1 - begin)
            nexti = i + 1
        elif pos == "S":
            sizes.append(1)
            nexti = i + 1
    if nexti < len(buf):
        sizes.append(len(buf) - nexti)
    return sizes


def _plausible_alike(norm: str, start: int, end: int, canonical: tuple[str, ...]) -> bool:
    """Is norm[start:end], which sounds like one of the canonical phrases, meant as that phrase?
    - It is no dictionary word itself (升值 / 升职 are both words: neither is a slip for the other).
    - Each character that differs from the phrase sits in a word of jieba's cut of the text around it
      that lies inside the match and is no ordinary dictionary word (two or more characters, frequency
      at least ORDINARY_WORD_FREQ): 一定升职 cuts 升职, a word: not 一定升值; 主播威心 cuts 威心, no
      word: 主播微信; 央视推见 cuts 推见, a rare entry: 央视推荐.
    - A two-character match must also start and end on word edges (喝醉好难受 cuts 喝醉|好: not 最好;
      这个地一直 cuts 地|一直: not 第一); right after a modal particle counts as an edge (料子哈顶吉).
    A word jieba's HMM only guessed (no dictionary entry: 胶嘴 in 美甲胶嘴低价) is no evidence against a
    slip inside it reaching outside the match (a two-character match keeps its word-edge check: 学完能 cuts
    学完|能, a guess too, and is no 万能)."""
    said = norm[start:end]
    freq = _jieba().dt.FREQ
    if freq.get(said):
        return False
    lo = max(0, start - 8)
    bounds = _cut_bounds(norm[lo : min(len(norm), end + 8)])  # window offsets: start - lo, end - lo
    first, stop = start - lo, end - lo
    edges = sorted(bounds)
    if stop - first <= 2 and (
        (first not in bounds and norm[start - 1] not in CLAUSE_PARTICLES)
        or (
            stop not in bounds
            # only a slip in the last character, after one said right (顶 of 顶级 in 顶吉冰丝)
            and not (any(c[0] == said[0] for c in canonical) and _slip_opens_a_guess(norm, lo, edges, stop, freq))
        )
    ):
        return False
    if len(canonical) == 1:
        phrase = canonical[0]
    else:  # the phrase it differs least from (the first of equals, as min() picks)
        phrase = min(canonical, key=lambda c: sum(a != b for a, b in zip(c, said, strict=False)))
    for i, (want, got) in enumerate(zip(phrase, said, strict=False)):
        if want == got:
            continue
        # The word of the cut around the slip: the last edge at or before it, the first edge after it.
        k = bisect_right(edges, first + i)
        w_start, w_end = edges[k - 1], edges[k]
        word = norm[w_start + lo : w_end + lo]
        if w_start < first or w_end > stop:
            if freq.get(word):
                return False  # the slip is glued into a word that reaches outside the phrase
            # ...but a word jieba only guessed (its HMM, no dictionary entry: 胶嘴 in 美甲胶嘴低价) is
            # no evidence against the slip
            continue
        if w_end - w_start >= 2 and freq.get(word, 0) >= ORDINARY_WORD_FREQ:
            return False  # ...or is an ordinary word of its own
    return True


def _slip_opens_a_guess(norm: str, lo: int, edges: list[int], stop: int, freq) -> bool:  # type: ignore[no-untyped-def]
    """Does the match's last character (the slip) open a word of three or more characters that jieba's
    HMM only guessed (顶吉冰丝 cuts 顶|吉冰丝)? A slip is no dictionary character run, so the HMM glues it to what
    follows; that is no evidence that the match ends inside a word (a real word there, 吉祥 in 顶吉祥,
    is in the dictionary and keeps the edge check)."""
    k = bisect_right(edges, stop)
    w_start, w_end = edges[k - 1], edges[k] if k < len(edges) else stop
    return w_start == stop - 1 and w_end - w_start >= 3 and not freq.get(norm[w_start + lo : w_end + lo])


def _closest(words: tuple[str, ...], said: str) -> str:
    """The word said differs least from (the first of equals)."""
    return min(words, key=lambda w: sum(a != b for a, b in zip(w, said, strict=False)))


def _on_word_boundaries(norm: str, start: int, end: int) -> bool:
    lo = max(0, start - 8)
    hi = min(len(norm), end + 8)
    bounds = _cut_bounds(norm[lo:hi])
    return (start - lo) in bounds and (end - lo) in bounds
