"""Normalization that defeats evasions while keeping a map back into the original text.

One `str.translate` table (built once, at load) does everything that is a per-character decision:
NFKC (full-width letters and digits, circled numbers, math alphanumerics), lower case, traditional ->
simplified (OpenCC, character by character), financial numerals (壹 -> 一), and deletion of what
evaders insert between characters: spaces, punctuation, symbols, emoji, control and format characters.
Runs of one repeated CJK character collapse to one (最最最低 -> 最低).

Homophones (蕞 for 最, 威信 for 微信) are deliberately NOT mapped here: mapping 醉 to 最 everywhere would
turn 喝醉好难受 into a hit. They become extra spellings of the phrases instead (see variants.py).

The fast path (`fold`) builds no offset map. `fold_with_map` is the slow path, used only on lines that
have a candidate hit; it returns, for each normalized character, the span of original code points it came
from, so a hit found in the normalized text is reported as `text[start:end]` of the original.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Symbols that carry meaning in phrases and must survive the deletion of symbols.
KEEP = frozenset("%+")

# Financial and other numeral styles folded to the everyday ideograph.
NUMERAL_CHARS = {
    "壹": "一", "贰": "二", "貳": "二", "叁": "三", "參": "三", "肆": "四", "伍": "五",
    "陆": "六", "陸": "六", "柒": "七", "捌": "八", "玖": "九", "拾": "十", "〇": "零",
}

# Planes/blocks worth inspecting one code point at a time. CJK ideographs are handled by OpenCC below;
# everything not listed passes through unchanged.
_SCAN_RANGES = (
    (0x0000, 0x3400),  # Latin, symbols, CJK punctuation, kana, enclosed CJK, CJK compatibility
    (0xA000, 0x10000),  # Yi, Hangul, surrogates, private use, compatibility ideographs, full-width forms
    (0x1D400, 0x1D800),  # mathematical alphanumerics (𝐯𝐱)
    (0x1F000, 0x1FB00),  # emoji, enclosed alphanumerics, pictographs
    (0xE0000, 0xE0080),  # tag characters (emoji flags)
    (0xE0100, 0xE01F0),  # variation selectors supplement
)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_REPEAT = re.compile(f"([{_CJK}])\\1+")


def _deletable(ch: str) -> bool:
    if ch in KEEP:
        return False
    cat = unicodedata.category(ch)
    # P* punctuation, S* symbols (emoji are So), Z* separators, C* control/format/surrogate/private,
    # M* combining marks and variation selectors. Cn (unassigned) is left alone.
    return cat[0] in "PSZM" or cat in ("Cc", "Cf", "Cs", "Co")


@lru_cache(maxsize=1)
def base_table() -> dict[int, str]:
    """The built-in translation table (shared by every engine; never mutated)."""
    import opencc  # imported here: only needed once, at load

    table: dict[int, str] = {}
    for lo, hi in _SCAN_RANGES:
        for cp in range(lo, hi):
            ch = chr(cp)
            # NFKC first: the full-width ＋ and ％ become the + and % that phrases keep.
            out = unicodedata.normalize("NFKC", ch).lower()
            out = "".join(c for c in out if not _deletable(c))
            if out != ch:
                table[cp] = out
    # Traditional -> simplified, one character at a time (newline-separated so OpenCC's phrase tables
    # cannot merge neighbours). Only 1:1 conversions are kept.
    han = [chr(cp) for cp in range(0x3400, 0xA000)]
    converted = opencc.OpenCC("t2s").convert("\n".join(han)).split("\n")
    if len(converted) == len(han):
        for src, dst in zip(han, converted, strict=True):
            if len(dst) == 1 and dst != src:
                table[ord(src)] = dst
    for cp in range(0xF900, 0xFB00):  # compatibility ideographs: NFKC first, then t2s of the result
        mapped = table.get(cp)
        if mapped and len(mapped) == 1 and ord(mapped) in table and 0x3400 <= ord(mapped) < 0xA000:
            table[cp] = table[ord(mapped)]
    for src, dst in NUMERAL_CHARS.items():
        table[ord(src)] = dst
    return table


class Normalizer:
    """Folds text for matching. Read-only after construction; safe to share between rooms."""

    def __init__(self, extra_chars: dict[str, str] | None = None) -> None:
        table = dict(base_table())
        for src, dst in (extra_chars or {}).items():
            table[ord(src)] = dst
        # Apply the table to its own outputs once so chains (full-width traditional -> simplified) resolve.
        for cp, out in list(table.items()):
            if out and len(out) == 1 and ord(out) in table and ord(out) != cp:
                table[cp] = table[ord(out)]
        self.table = table

    def fold(self, text: str) -> str:
        """Normalized text, no offsets (the fast path)."""
        norm = text.translate(self.table)
        if _REPEAT.search(norm):
            norm = _REPEAT.sub(r"\1", norm)
        return norm

    def fold_with_map(self, text: str) -> tuple[str, list[int], list[int]]:
        """Normalized text plus, per normalized char, the original [start, end) it stands for."""
        norm = text.translate(self.table)
        if len(norm) == len(text) and not _REPEAT.search(norm):
            # Nothing deleted or expanded (the usual ASR line): offsets are the identity.
            idx = list(range(len(text)))
            return norm, idx, [i + 1 for i in idx]
        table = self.table
        chars: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for i, ch in enumerate(text):
            out = table.get(ord(ch), ch)
            for c in out:
                if chars and c == chars[-1] and _is_cjk(c):
                    ends[-1] = i + 1  # repeated ideograph: widen the previous char's span
                    continue
                chars.append(c)
                starts.append(i)
                ends.append(i + 1)
        return "".join(chars), starts, ends


def _is_cjk(c: str) -> bool:
    o = ord(c)
    return 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
