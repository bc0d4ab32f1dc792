"""Building the engine's tables from rules: the expensive, cacheable half of loading.

`build_tables` turns rules, variants, look-alikes and fillers into plain data (lists, tuples, dicts, str,
int): every key the automata hold with what a match of it means, the patterns as regex sources, the sound
keys, and the normalization and sound-code character tables. It is the only place that needs OpenCC,
pypinyin and jieba's cut at load; RuleEngine assembles automata and regexes from its result, which
rules/cache.py keeps on disk, so a process that loads the same packs again skips all of this.

Nothing here keeps per-phrase Python objects alive: the result is what the scanner needs, flat.
"""

from __future__ import annotations

import re
from array import array
from typing import Any

import ahocorasick_rs

from .model import SCOPES, Rule
from .normalize import Normalizer, _is_cjk
from .phonetic import SoundCoder
from .sound_macro import expand_sound_macros
from .variants import Speller

SCOPE_BITS = {name: 1 << i for i, name in enumerate(SCOPES)}
GAP_PHRASE = "{gap}"  # the phrase field of a gap pattern: the phrase comes from its `gap` table
_MACRO = re.compile(r"<([^<>]+)>")
_CJK_CHAR = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def rule_mask(rule: Rule) -> int:
    mask = 0
    for s in rule.scopes:
        mask |= SCOPE_BITS[s]
    return mask


def alternation(words: list[str]) -> str:
    # Pack words are regex fragments (别(?![人的家处样])); longest first so 从来不 wins over 从不.
    return "|".join(sorted(words, key=len, reverse=True))


def is_ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def cache_inputs(
    rules: tuple[Rule, ...], variants: dict[str, list[str]], lookalikes: dict[str, list[str]], fillers: list[str]
) -> list[Any]:
    """Everything build_tables reads, as JSON-able data in a fixed order (the cache key's input)."""
    return [
        [
            [r.id, r.source, sorted(r.scopes), list(r.phrases), [[p.regex, p.phrase] for p in r.patterns],
             list(r.allow), r.phonetic, r.gap]
            for r in rules
        ],
        [[w, list(s)] for w, s in variants.items()],
        [[c, list(s)] for c, s in lookalikes.items()],
        list(fillers),
    ]


def build_tables(
    rules: tuple[Rule, ...], variants: dict[str, list[str]], lookalikes: dict[str, list[str]], fillers: list[str]
) -> dict[str, Any]:
    norm = Normalizer()
    fold = norm.fold
    speller = Speller(norm, variants)
    masks = [rule_mask(r) for r in rules]
    errors: list[tuple[str, str | None, str]] = []

    phrase_map: dict[str, list[tuple[int, str]]] = {}
    allow_keys: set[str] = set()
    trigger_map: dict[str, list[int]] = {}
    # A gap pattern's left-hand words (全网, 医生) are common: they send a line to the slow path only
    # when one of the pattern's right-hand words (最低, 推荐) follows them (checked by one regex).
    gap_masks: dict[str, int] = {}
    gap_rights: dict[str, set[str]] = {}
    patterns: list[tuple[int, str, str, dict[str, str] | None]] = []  # rule, regex source, phrase, gap table
    scope_mask: dict[str, int] = {}
    phrase_count = 0

    for ridx, rule in enumerate(rules):
        mask = masks[ridx]
        for phrase in rule.phrases:
            key = fold(phrase)
            if not key:
                errors.append((rule.source, rule.id, f"phrase {phrase!r} is empty once normalized"))
                continue
            phrase_count += 1
            for spelling in speller.spellings(key):
                phrase_map.setdefault(spelling, []).append((ridx, phrase))
                scope_mask[spelling] = scope_mask.get(spelling, 0) | mask
        for context in rule.allow:
            key = fold(context)
            if key:
                allow_keys.update(speller.spellings(key, pinyin=False))
        compiled: list[tuple[str, list[str], str, dict[str, str] | None, set[str] | None]] = []
        for pat in rule.patterns:
            try:
                source, triggers = _expand_pattern(pat.regex, fold, speller)
            except (ValueError, re.error) as e:
                errors.append((rule.source, rule.id, f"pattern {pat.regex!r}: {e}"))
                continue
            compiled.append((source, triggers, pat.phrase, None, None))
        if rule.gap and fillers:
            gapped = _gap_pattern(rule, fillers, fold)
            if gapped is not None:
                compiled.append(gapped)
        for source, triggers, phrase, gap, rights in compiled:
            pidx = len(patterns)
            patterns.append((ridx, source, phrase, gap))
            for t in triggers:
                trigger_map.setdefault(t, []).append(pidx)
                if rights is None:
                    scope_mask[t] = scope_mask.get(t, 0) | mask
                else:
                    gap_masks[t] = gap_masks.get(t, 0) | mask
                    gap_rights.setdefault(t, set()).update(rights)

    all_keys = sorted(set(phrase_map) | allow_keys | set(trigger_map))
    # Every key that stands over a trigger word inherits its triggers: leftmost-longest reports the
    # longer key, and a phrase (100%能) or a gap pattern's left word (全网最) would otherwise hide the
    # trigger (100%) and its patterns (百分之百能解决). Allow-contexts are left out: they are there to
    # make the words they hold innocent.
    # A gap pattern's left word passes the triggers on as they are. Any other key passes on
    # those of the trigger words of two characters or more inside it, marked (-1 - id):
    # those patterns only count where their match starts with the key and reaches two
    # characters past it (100%能 inside 百分之百能解决; 效果百分之百 does not take
    # 百分之百有效, which stays the phrase it was). A one-character trigger (最, 治) stands
    # inside hundreds of phrases the packs list as their own, more precise reading
    # (最香, 治胃病), and is not passed on.
    gap_only = set(gap_masks) - set(phrase_map) - allow_keys
    words = {t: p for t, p in trigger_map.items() if len(t) >= 2}
    inherited, inherited_masks = _inherited_triggers(gap_only, trigger_map, scope_mask)
    hidden, hidden_masks = _inherited_triggers(set(all_keys) - allow_keys - gap_only, words, scope_mask)
    for key, found in hidden.items():
        own = set(trigger_map.get(key, ()))
        # Not a gap pattern (its left word is no claim of its own), nor a pattern of a rule the key is
        # already a phrase of (that would only reword the same hit, at the cost of a regex per hit).
        rules_of_key = {r for r, _p in phrase_map.get(key, ())}
        marked = tuple(
            -1 - t for t in found
            if t not in own and patterns[t][3] is None and patterns[t][0] not in rules_of_key
        )
        if marked:
            inherited[key] = tuple(sorted(own)) + marked
            inherited_masks[key] = hidden_masks[key]
    values = []
    for key in all_keys:
        phrases = tuple(sorted(phrase_map.get(key, ()), key=lambda p: -p[0]))
        allow = key in allow_keys
        triggers = inherited.get(key, tuple(trigger_map.get(key, ())))
        # An allow-context never sends a line to the slow path by itself (mask 0).
        mask = 0 if allow and not triggers else scope_mask.get(key, 0) | inherited_masks.get(key, 0)
        latin_edge = is_ascii_alnum(key[0]) or is_ascii_alnum(key[-1])
        values.append((mask, allow, latin_edge, triggers, phrases))

    coder = SoundCoder(lookalikes)
    # Trigger words heard as a sound-alike (胃信 for 微信) may point at their patterns too, for rules
    # whose `phonetic` length the word reaches (see _sound_tables).
    sound_triggers: dict[str, int] = {}
    for t, pidxs in trigger_map.items():
        for pidx in pidxs:
            rule = rules[patterns[pidx][0]]
            if patterns[pidx][3] is None and rule.phonetic and len(t) >= max(2, rule.phonetic) and all(map(_is_cjk, t)):
                sound_triggers[t] = sound_triggers.get(t, 0) | masks[patterns[pidx][0]]
    sound = _sound_tables(rules, masks, all_keys, values, gap_masks, gap_rights, coder, fold, sound_triggers)
    # Doubling a character at a key's edge cannot hide the key (最最低 still contains 最低), so the fast
    # path only looks for doubled characters that occur inside some key (a small, cheap class).
    interior = "".join(sorted(set(_CJK_CHAR.findall("\n".join(k[1:-1] for k in all_keys)))))
    return {
        "norm_table": dict(norm.table),
        "sound_table": coder.table(),
        "keys": all_keys,
        **_indexed("values", values),
        "patterns": patterns,
        "interior": interior,
        "errors": errors,
        "phrase_count": phrase_count,
        **sound,
    }


def release_build_caches() -> None:
    """Drop what only building needs from the process-wide caches (OpenCC's and Unicode's tabulation,
    pypinyin's readings, spellings): an engine keeps its own copies of what it scans with."""
    from . import normalize, phonetic, variants

    for cached in (normalize.base_table, normalize._default_table, normalize._default_bmp_tables,
                   phonetic._readings, variants._pinyin, variants._common):
        cached.cache_clear()


def _sound_tables(rules, masks, keys, values, gap_masks, gap_rights, coder, fold, triggers) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Every key in its sound form (see phonetic.py). A coded key stands for its exact spellings (which
    the exact automaton reports on the slow path) and, for phrases of rules with `phonetic` set and
    enough ideographs, for any sound-alike of them."""
    # coded key -> [exact mask, sound-alike phrases, sound-alike mask, gap mask, gap rights, trigger words]
    entries: dict[str, list] = {}

    def entry_for(coded: str) -> list:
        return entries.setdefault(coded, [0, [], 0, 0, set(), set()])

    for key, value in zip(keys, values, strict=True):
        entry = entry_for(coder.code(key))
        entry[0] |= value[0]
        if key in gap_masks:
            entry[3] |= gap_masks[key]
            entry[4] |= gap_rights[key]
    sound_phrases = 0
    for ridx, rule in enumerate(rules):
        if not rule.phonetic:
            continue
        for phrase in rule.phrases:
            key = fold(phrase)
            if len(key) < rule.phonetic or not all(map(_is_cjk, key)):
                continue
            sound_phrases += 1
            for coded in sorted(coder.keys(key)):
                entry = entry_for(coded)
                entry[2] |= masks[ridx]
                entry[1].append((ridx, phrase))
    for word, mask in triggers.items():
        for coded in sorted(coder.keys(word)):
            entry = entry_for(coded)
            entry[2] |= mask
            entry[5].add(word)
    sound_keys = list(entries)
    sound_values = [(e[0], e[2], e[3], tuple(sorted(e[4]))) for e in entries.values()]
    # The slow path looks for sound-alikes with an automaton of the sound-matched phrases alone, so a
    # longer exact key in sound form (全网最, a pattern's trigger) cannot hide one (全网醉火).
    alike_keys = [k for k in sound_keys if entries[k][1] or entries[k][5]]
    alike_values = []
    for k in alike_keys:
        alikes = entries[k][1]
        canonical = tuple(dict.fromkeys(fold(p) for _r, p in alikes))
        # The third field: the trigger words this sound key stands for (their sound-alikes are read as
        # the word when the engine looks for patterns).
        alike_values.append((tuple(sorted(alikes, key=lambda p: -p[0])), canonical, tuple(sorted(entries[k][5]))))
    return {
        "sound_keys": sound_keys,
        **_indexed("sound_values", sound_values),
        "alike_keys": alike_keys,
        "alike_values": alike_values,
        "sound_phrases": sound_phrases,
    }


def _indexed(name: str, values: list[tuple]) -> dict[str, Any]:
    """A long list of few distinct values as the distinct values plus one index array (bytes): the
    tables load as a few thousand objects instead of one tuple tree per key."""
    distinct: dict[tuple, int] = {}
    ids = array("I", (distinct.setdefault(v, len(distinct)) for v in values))
    return {name: list(distinct), f"{name}_ids": ids.tobytes()}


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


def _expand_pattern(source: str, fold, speller: Speller) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """A pack regex with its <word> macros replaced by every spelling of the words, and those spellings
    (the trigger words the pre-filter looks for). Compiled here too, so a bad regex is reported."""
    triggers: list[str] = []

    def expand(m: re.Match[str]) -> str:
        spellings: set[str] = set()
        for raw in m.group(1).split("|"):  # <牙周炎|关节炎>: any spelling of any of the words
            word = fold(raw)
            if not word:
                raise ValueError(f"macro word {raw!r} is empty once normalized")
            spellings |= speller.spellings(word)
        ordered = sorted(spellings, key=lambda s: (-len(s), s))
        triggers.extend(ordered)
        return "(?:" + "|".join(map(re.escape, ordered)) + ")"

    expanded = _MACRO.sub(expand, expand_sound_macros(source))  # <~词>: homophones (sound_macro)
    if not triggers:
        raise ValueError("needs at least one <word> macro (it is what the fast pre-filter looks for)")
    re.compile(expanded)
    return expanded, triggers


def _gap_pattern(rule: Rule, fillers: list[str], fold):  # type: ignore[no-untyped-def]
    """One regex for a rule's phrases with filler words between their words: (left)(fillers)(right),
    where left + right must be one of the phrases (checked after the match)."""
    from .engine import _jieba

    jieba = _jieba()
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
    filler = alternation([re.escape(fold(f)) for f in fillers if fold(f)])
    left = "|".join(map(re.escape, sorted(lefts, key=lambda s: (-len(s), s))))
    right = "|".join(map(re.escape, sorted(rights, key=lambda s: (-len(s), s))))
    source = f"({left})(?:{filler}){{1,{rule.gap}}}({right})"
    return source, sorted(lefts), GAP_PHRASE, canonical, rights
