"""Evasion spellings of a phrase, generated once at load time.

The automaton holds every spelling of every phrase, so matching stays one pass in C. A spelling
substitutes at most two parts of the (normalized) phrase, each either
- a word from the packs' [variants] tables (微信 -> 威信 / vx / 绿泡泡, 第一 -> top1, 一 -> 1, 加 -> +),
- or, alone, the toneless pinyin of one character (最低价 -> zui低价, 治疗 -> zhi疗),
and a phrase of three or more ideographs may also be spelled entirely in pinyin (zuidijia).
A common single-character homophone (醉 for 最, 弟 for 第) is only used in phrases of three or more
characters: as two-character spellings they are ordinary words (喝醉好难受, 我弟一直用) far more often than
evasions. A rare one (蕞) is only ever an evasion and applies everywhere (蕞好).
"""

from __future__ import annotations

import itertools
from functools import lru_cache

from .normalize import Normalizer, _is_cjk
from .pinyin_data import pypinyin

MIN_LEN_FOR_HOMOPHONE = 3
MAX_LEN_FOR_PINYIN = 7


@lru_cache(maxsize=8192)
def _pinyin(ch: str) -> str:
    p = pypinyin()
    out = p.lazy_pinyin(ch, style=p.Style.NORMAL, errors="ignore")
    return out[0] if out and out[0].isascii() and out[0].isalpha() else ""


class Speller:
    def __init__(self, normalizer: Normalizer, variants: dict[str, list[str]]) -> None:
        self._fold = normalizer.fold
        words: dict[str, list[str]] = {}
        for word, spellings in variants.items():
            w = self._fold(word)
            if not w:
                continue
            alts = words.setdefault(w, [])
            for s in spellings:
                f = self._fold(s)
                if f and f != w and f not in alts:
                    alts.append(f)
        self._words = words
        # Per speller, freed with it: an engine keeps no speller after loading (the disk cache, not
        # this, spares a reload the work).
        self._cache: dict[tuple[str, bool], frozenset[str]] = {}

    def spellings(self, phrase: str, pinyin: bool = True) -> frozenset[str]:
        """All spellings of an already-folded phrase, folded, including the phrase itself.
        pinyin=False leaves out the pinyin spellings (used for allow-contexts: fewer keys, faster scans)."""
        cached = self._cache.get((phrase, pinyin))
        if cached is None:
            cached = self._cache[(phrase, pinyin)] = frozenset(self._spell(phrase, pinyin))
        return cached

    def _spell(self, phrase: str, pinyin: bool) -> set[str]:
        subs: list[tuple[int, int, str, bool]] = []  # start, end, replacement, is_pinyin
        for word, alts in self._words.items():
            start = phrase.find(word)
            while start != -1:
                end = start + len(word)
                for alt in alts:
                    homophone = len(word) == 1 and len(alt) == 1 and _is_cjk(alt) and _common(alt)
                    if homophone and len(phrase) < MIN_LEN_FOR_HOMOPHONE:
                        continue
                    subs.append((start, end, alt, False))
                start = phrase.find(word, start + 1)
        cjk_positions = [i for i, c in enumerate(phrase) if _is_cjk(c)]
        # Evaders spell one syllable of a short phrase in pinyin (zui低价); long phrases (mostly brace
        # expansions) are left alone, which keeps the automaton small.
        pinyin = pinyin and len(cjk_positions) <= MAX_LEN_FOR_PINYIN
        for i in cjk_positions if pinyin else ():
            py = _pinyin(phrase[i])
            if py:
                subs.append((i, i + 1, py, True))

        out = {phrase}
        for sub in subs:
            out.add(_apply(phrase, (sub,)))
        for a, b in itertools.combinations(subs, 2):
            if a[3] or b[3]:
                continue  # pinyin plus another change: rare, and it multiplies the keys (slower matching)
            if a[1] <= b[0] or b[1] <= a[0]:
                out.add(_apply(phrase, (a, b)))
        if pinyin and len(cjk_positions) >= 3 and len(cjk_positions) == len(phrase):
            full = "".join(_pinyin(c) for c in phrase)
            if full.isascii() and len(full) >= 6:
                out.add(full)
        return {f for f in (self._fold(s) for s in out) if f}


@lru_cache(maxsize=4096)
def _common(ch: str) -> bool:
    """In GB2312 level 1 (the 3,755 everyday characters)? A rare homophone (蕞 for 最) is only ever an
    evasion, so it may stand in even in a two-character phrase; a common one (醉, 弟) may not."""
    try:
        return 0xB0 <= ch.encode("gb2312")[0] <= 0xD7
    except UnicodeEncodeError:
        return False


def _apply(phrase: str, subs: tuple[tuple[int, int, str, bool], ...]) -> str:
    parts = []
    pos = 0
    for start, end, rep, _ in sorted(subs):
        parts.append(phrase[pos:start])
        parts.append(rep)
        pos = end
    parts.append(phrase[pos:])
    return "".join(parts)
