"""Sound keys: text rewritten so that characters of the same toneless pinyin are the same character.

Every ideograph becomes one private-use code point standing for its toneless syllable (最 醉 嘴 罪 -> the
"zui" code point), one character for one character, so a key found in the coded text has the offsets of
the normalized text it came from. The engine's automaton holds the coded form of every phrase; a match
whose normalized text is not one of the phrase's spellings is a sound-alike (全网醉低价, 权威机枸) and is
only taken when the phrase is long enough and the matched text is no ordinary word (see RuleEngine).

A look-alike table (形近字: 冶 for 治, 笫 for 第) gives a character the syllable of the one it imitates,
so visual slips meet the same keys.

Each character takes its most common reading. A phrase is also keyed with its in-context reading where
that differs (行业 is hang ye, while 行 alone reads xing), so a slip of either reading is met.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from .normalize import identity_bmp
from .pinyin_data import char_readings, pypinyin

_CJK_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))
# The BMP private use area: normalization deletes private-use characters, so none reaches the coder from
# the input, and BMP code points keep the coded string narrow (str.translate is faster into UCS-2).
_PUA = 0xE000


@lru_cache(maxsize=1)
def _readings() -> tuple[dict[int, str], dict[str, int], frozenset[int]]:
    """Code point -> toneless syllable (the first reading in pypinyin's table) for every ideograph
    pypinyin knows, syllable -> id, and the characters whose readings differ beyond tone (行: xing, hang).
    Read straight from pypinyin's table: asking pypinyin per character takes seconds at load."""
    pinyin_dict = char_readings()

    readings: dict[int, str] = {}
    ids: dict[str, int] = {}
    polyphones: set[int] = set()
    for cp, marked in pinyin_dict.items():
        if not any(lo <= cp < hi for lo, hi in _CJK_RANGES):
            continue
        toneless = [_toneless(r) for r in marked.split(",")]
        py = toneless[0]
        if not (py and py.isascii() and py.isalpha()):
            continue
        readings[cp] = py
        ids.setdefault(py, len(ids))
        if len(set(toneless)) > 1:
            polyphones.add(cp)
    return readings, ids, frozenset(polyphones)


_U_WITH_DIAERESIS = str.maketrans({c: "v" for c in "üǖǘǚǜ"})


def _toneless(reading: str) -> str:
    """lǜ -> lv, xíng -> xing (the spelling pypinyin's Style.NORMAL uses)."""
    decomposed = unicodedata.normalize("NFD", reading.translate(_U_WITH_DIAERESIS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class SoundCoder:
    """Rewrites folded text into its sound key. Read-only after construction; shared by all rooms.

    Built from pypinyin's table at load, or from a table a previous build computed (`from_table`, used
    with the engine's disk cache: then pypinyin is not imported at all)."""

    def __init__(self, lookalikes: dict[str, list[str]] | None = None) -> None:
        readings, ids, polyphones = _readings()
        self._ids: dict[str, int] | None = ids
        self._polyphones: frozenset[int] = polyphones
        syllables = [chr(_PUA + i) for i in range(len(ids))]  # one string object per syllable
        table: dict[int, str] = {cp: syllables[ids[py]] for cp, py in readings.items()}
        for target, imitations in (lookalikes or {}).items():
            if len(target) != 1 or ord(target) not in table:
                continue
            for ch in imitations:
                if len(ch) == 1:
                    table[ord(ch)] = table[ord(target)]
        self._set_table(table)

    @classmethod
    def from_table(cls, table: dict[int, str]) -> SoundCoder:
        """A coder that can only code(): for an engine whose phrases' keys were computed before."""
        coder = cls.__new__(cls)
        coder._ids = None
        coder._polyphones = frozenset()
        interned: dict[str, str] = {}
        coder._set_table({cp: interned.setdefault(s, s) for cp, s in table.items()})
        coder._table = {}  # scanning needs only the list
        return coder

    def _set_table(self, table: dict[int, str]) -> None:
        self._table = table
        # A list over the BMP answers str.translate's lookups directly (no KeyError per plain character);
        # unmapped entries share one identity table's ordinals.
        self._bmp: list[str | int] = list(identity_bmp())
        for cp, s in table.items():
            if cp < 0x10000:
                self._bmp[cp] = s

    def table(self) -> dict[int, str]:
        """Code point -> sound code point, for SoundCoder.from_table."""
        return dict(self._table)

    def code(self, text: str) -> str:
        """Same length as text: every ideograph replaced by its syllable's code point."""
        # Astral characters fall outside the list and stay as they are (no sound key for them).
        return text.translate(self._bmp)

    def keys(self, phrase: str) -> set[str]:
        """The sound keys of a folded phrase: by each character's common reading, and by the phrase's
        reading in context where that differs (行业: hang ye)."""
        keys = {self.code(phrase)}
        if self._ids is None:
            raise RuntimeError("a SoundCoder made from_table cannot key new phrases")
        if any(ord(c) in self._polyphones for c in phrase):
            context = _context_key(phrase, self._ids)
            if context is not None and len(context) == len(phrase):
                keys.add(context)
        return keys


def _context_key(phrase: str, ids: dict[str, int]) -> str | None:
    p = pypinyin()
    parts = p.pinyin(phrase, style=p.Style.NORMAL, errors=lambda c: list(c), heteronym=False)
    out = []
    for item in parts:
        py = item[0] if item else ""
        if py in ids:
            out.append(chr(_PUA + ids[py]))
        elif len(py) == 1:
            out.append(py)  # a letter, digit or symbol passes through as it is
        else:
            out.extend(py)  # characters pypinyin returned as they were (errors=list)
    key = "".join(out)
    return key


