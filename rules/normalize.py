"""Normalization that defeats evasions while keeping a map back into the original text.

One `str.translate` table (built once, at load) does everything that is a per-character decision:
NFKC (full-width letters and digits, circled numbers, math alphanumerics), lower case, traditional ->
simplified (OpenCC, character by character), financial numerals (壹 -> 一), and deletion of what
evaders insert between characters: spaces, punctuation, symbols, emoji, control and format characters.
Runs of one repeated CJK character collapse to one (最最最低 -> 最低).

Homophones (蕞 for 最, 威信 for 微信) are deliberately NOT mapped here: mapping 醉 to 最 everywhere would
turn 喝醉好难受 into a hit. They become extra spellings of the phrases instead (see variants.py).

The scanner only folds lines that need it (`dirty_finder`), with `fold_marked`, which builds no offset
map; only a line with a candidate hit gets one (`offsets`): for each normalized character, the span of
original code points it came from, so a hit found in the normalized text is reported as
`text[start:end]` of the original. `fold_with_map` does both in one call.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from itertools import compress

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
# Every character of a run of one ideograph but the last: deleting them collapses the run. A literal ""
# replacement stays in C (a r"\1" template is expanded by Python code for every match, ~10x slower).
_COLLAPSE = re.compile(f"([{_CJK}])(?=\\1)")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


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
    table.update(_styled_digits())
    return table


def _styled_digits() -> dict[int, str]:
    """Numerals NFKC leaves alone (and the symbol deletion would drop): dingbat and double circled
    numbers (❶ ➀ ➊ ⓵ ⓫) become their value, so 第❶名 reads 第1名 like 第①名 (which NFKC folds)."""
    out: dict[int, str] = {}
    for lo, hi in ((0x2460, 0x2500), (0x2776, 0x2794), (0x3251, 0x3260), (0x32B1, 0x32C0), (0x1F100, 0x1F10D)):
        for cp in range(lo, hi):
            ch = chr(cp)
            nfkc = unicodedata.normalize("NFKC", ch)
            if unicodedata.category(ch) != "No" or any(c.isascii() and c.isdigit() for c in nfkc):
                continue  # not a numeral, or one NFKC already folds (① -> 1)
            value = unicodedata.numeric(ch, -1)
            if value >= 0 and value == int(value):
                out[cp] = str(int(value))
    return out


class Normalizer:
    """Folds text for matching. Read-only after construction; safe to share between rooms."""

    def __init__(self, extra_chars: dict[str, str] | None = None, *, table: dict[int, str] | None = None) -> None:
        """`table`: a finished table (Normalizer().table of an earlier process, from the engine's disk
        cache), which spares OpenCC and the scan of Unicode at load."""
        if table is not None:
            bmp = _bmp_tables(table)
        elif extra_chars:
            table = self._resolved(dict(base_table()), extra_chars)
            bmp = _bmp_tables(table)
        else:
            table = _default_table()
            bmp = _default_bmp_tables()
        self.table = table
        self._mark_dict: dict[int, str] | None = None  # see _mark_table
        # str.translate with a dict raises and swallows a KeyError for every unmapped character; a list
        # over the BMP answers every lookup directly (~1.5x faster). Astral text uses the dicts.
        self._bmp, self._bmp_mark = bmp
        # One regex (a BMP charset compiles to a bitmap) says whether a line needs folding at all:
        # a plain simplified ASR line has nothing to translate and no repeated ideograph, and skips both.
        bmp = sorted(cp for cp in table if cp < 0x10000)
        charset = "".join(
            re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
            for lo, hi in _ranges(bmp)
        )
        self.charset = f"[{charset}\U00010000-\U0010ffff]"
        self.translatable = re.compile(self.charset).search

    def dirty_finder(self, repeatable: str):  # type: ignore[no-untyped-def]
        """A search function for "needs folding": something to translate, or a doubled character from
        the `repeatable` regex class (the engine passes the characters whose doubling can break a key)."""
        if not repeatable:
            return self.translatable
        return re.compile(f"{self.charset}|([{repeatable}])\\1").search

    @staticmethod
    def _resolved(table: dict[int, str], extra_chars: dict[str, str] | None) -> dict[int, str]:
        for src, dst in (extra_chars or {}).items():
            table[ord(src)] = dst
        # Apply the table to its own outputs once so chains (full-width traditional -> simplified) resolve.
        for cp, out in list(table.items()):
            if out and len(out) == 1 and ord(out) in table and ord(out) != cp:
                table[cp] = table[ord(out)]
        return table

    def fold(self, text: str) -> str:
        """Normalized text, no offsets."""
        if self.translatable(text) is not None:
            text = text.translate(self.table if _ASTRAL.search(text) else self._bmp)
        return _COLLAPSE.sub("", text)

    def fold_marked(self, text: str) -> tuple[str, str]:
        """fold() for the scanner: also returns the translation with NUL where characters were deleted,
        from which offsets() rebuilds the map without translating again."""
        marked = text.translate(self._mark_table() if _ASTRAL.search(text) else self._bmp_mark)
        return _COLLAPSE.sub("", marked.replace("\0", "")), marked

    def _mark_table(self) -> dict[int, str]:
        """The mapping with NUL markers where characters are deleted, as a dict for text with astral
        characters (rare: made on first use, not kept by every engine from the start)."""
        if self._mark_dict is None:
            marks = {cp: (out if out else "\0") for cp, out in self.table.items()}
            marks[0] = "\0"
            self._mark_dict = marks
        return self._mark_dict

    def fold_with_map(self, text: str) -> tuple[str, Sequence[int], Sequence[int]]:
        """Normalized text plus, per normalized char, the original [start, end) it stands for."""
        if self.translatable(text) is None and _REPEAT.search(text) is None:
            # Nothing to delete, map or collapse (the usual ASR line): offsets are the identity.
            return text, range(len(text)), range(1, len(text) + 1)
        return self.offsets(text, self.fold_marked(text)[1])

    def offsets(self, text: str, marked: str, norm: str | None = None) -> tuple[str, list[int], list[int]]:
        """The normalized text and its offset map, from fold_marked()'s translation of text (and, when
        the caller has it, fold_marked()'s normalized text, which tells whether anything collapsed)."""
        n = len(marked)
        if n != len(text):
            return self._offsets_slow(text)  # a character expanded (⑩ -> 10): rare
        # Deletions and 1:1 mappings: the positions of what survived. A line usually loses a comma or a
        # space or two: delete those few positions from the identity (list deletions run in C).
        starts = list(range(n))
        ends = list(range(1, n + 1))
        deleted = marked.count("\0")
        if deleted:
            if deleted <= 8:
                pos = marked.rfind("\0")
                while pos != -1:
                    del starts[pos], ends[pos]
                    pos = marked.rfind("\0", 0, pos)
            else:  # spaced-out evasions (全 网 最 低 价); ord("\0") is 0, so compress() keeps the rest
                starts = list(compress(starts, map(ord, marked)))
                ends = list(compress(ends, map(ord, marked)))
            kept = marked.replace("\0", "")
        else:
            kept = marked
        # ...then fold each run of a repeated ideograph into its first character, which now spans the run.
        if (len(norm) != len(kept)) if norm is not None else (_REPEAT.search(kept) is not None):
            for m in reversed(list(_REPEAT.finditer(kept))):
                first, stop = m.start(), m.end()
                ends[first] = ends[stop - 1]
                del starts[first + 1 : stop], ends[first + 1 : stop]
            return _COLLAPSE.sub("", kept), starts, ends
        return kept, starts, ends

    def offset_map(self, text: str, marked: str, norm: str) -> OffsetMap:
        """A lazy offset map for the scanner, from fold_marked()'s results: a line with a candidate hit
        maps a couple of positions back (the hits' edges), so the per-character lists are only built
        when a context check walks the text (see OffsetMap)."""
        if len(marked) != len(text):
            _norm, starts, ends = self._offsets_slow(text)
            return OffsetMap(self, text, marked, norm, (starts, ends))
        return OffsetMap(self, text, marked, norm, None)

    def _offsets_slow(self, text: str) -> tuple[str, list[int], list[int]]:
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


@lru_cache(maxsize=1)
def identity_bmp() -> tuple[int, ...]:
    """Every BMP code point, made once: the translation lists share these entries (str.translate takes
    an ordinal as well as a string; an int costs a third of a one-character string)."""
    return tuple(range(0x10000))


def _bmp_tables(table: dict[int, str]) -> tuple[list[str | int | None], list[str | int]]:
    plain: list[str | int | None] = []
    mark: list[str | int] = []
    identity = identity_bmp()
    for cp in range(0x10000):
        out = table.get(cp)
        if out is None:
            ch = identity[cp]
            plain.append(ch)
            mark.append(ch)
        elif out == "":
            plain.append(None)  # None deletes
            mark.append("\0")
        else:
            plain.append(out)
            mark.append(out)
    mark[0] = "\0"
    return plain, mark


@lru_cache(maxsize=1)
def _default_table() -> dict[int, str]:
    return Normalizer._resolved(dict(base_table()), None)


@lru_cache(maxsize=1)
def _default_bmp_tables() -> tuple[list[str | None], list[str]]:
    return _bmp_tables(_default_table())


def _ranges(cps: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in cps:
        if out and cp == out[-1][1] + 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def _is_cjk(c: str) -> bool:
    o = ord(c)
    return 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF


class OffsetMap:
    """Normalized positions -> original code points, for a line folded by translation (same length as the
    original, NUL where a character was deleted) and then collapse of repeated ideographs.

    span() maps one hit with two short walks over the deletions and collapsed runs (a line has a few);
    lists() builds the full per-character starts/ends (Normalizer.offsets) on first use, and span() uses
    them instead when the walks would be long (a megabyte of spaced-out text).
    """

    __slots__ = ("_dels", "_lists", "_marked", "_norm", "_normalizer", "_runs", "_text")
    MAX_WALK = 32

    def __init__(
        self,
        normalizer: Normalizer,
        text: str,
        marked: str,
        norm: str,
        lists: tuple[list[int], list[int]] | None,
    ) -> None:
        self._normalizer = normalizer
        self._text = text
        self._marked = marked
        self._norm = norm
        self._lists = lists
        self._dels: list[int] | None = None
        self._runs: list[tuple[int, int]] | None = None

    def lists(self) -> tuple[list[int], list[int]]:
        if self._lists is None:
            _norm, starts, ends = self._normalizer.offsets(self._text, self._marked, self._norm)
            self._lists = (starts, ends)
        return self._lists

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of the normalized [start, end)."""
        if self._lists is not None:
            return self._lists[0][start], self._lists[1][end - 1]
        dels = self._dels
        if dels is None:
            if not self._index():
                starts, ends = self.lists()
                return starts[start], ends[end - 1]
            dels = self._dels
        if self._runs:
            first = self._kept_span(start)[0]
            last = self._kept_span(end - 1)[1] - 1
        else:
            first, last = start, end - 1
        # The walks over the deletions are inlined: this runs for every hit on a folded line.
        for d in dels:  # type: ignore[union-attr]
            if d <= first:
                first += 1
            else:
                break
        for d in dels:  # type: ignore[union-attr]
            if d <= last:
                last += 1
            else:
                break
        return first, last + 1

    def _index(self) -> bool:
        """Find the deletions and collapsed runs; False when there are too many for short walks."""
        marked = self._marked
        if marked.count("\0") > self.MAX_WALK:
            return False
        dels = []
        pos = marked.find("\0")
        while pos != -1:
            dels.append(pos)
            pos = marked.find("\0", pos + 1)
        kept_len = len(marked) - len(dels)
        if kept_len != len(self._norm):  # something collapsed: where the runs are, in kept coordinates
            kept = marked.replace("\0", "") if dels else marked
            runs = [m.span() for m in _REPEAT.finditer(kept)]
            if len(runs) > self.MAX_WALK:
                return False
            self._runs = runs
        else:
            self._runs = []
        self._dels = dels
        return True

    def _kept_span(self, j: int) -> tuple[int, int]:
        """Normalized position j -> its [first, stop) in the text before collapsing."""
        removed = 0
        for first, stop in self._runs:  # type: ignore[union-attr]
            at = first - removed  # where this run's one character sits in the normalized text
            if at > j:
                break
            if at == j:
                return first, stop
            removed += stop - first - 1
        k = j + removed
        return k, k + 1
