"""Sound classes inside pattern regexes: `<~认证>` matches any homophone of each character.

Phrases get sound-alike matching from the engine's sound automaton; patterns (regexes over normalized
text) do not. A pack pattern may write `<~word>` where a word of a template can be misheard
(国家都认郑过 for 国家都认证过): each ideograph of the word becomes a character class of every ideograph
with the same toneless reading (证 -> [证正政整郑争征…]), other characters stay literal. The class is
expanded before the ordinary `<word>` macros, and it is no trigger: a pattern still needs one `<word>`
for the pre-filter, so the sound class only widens a template that something exact already pointed at.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .phonetic import _readings

SOUND_MACRO = re.compile(r"<~([^<>]+)>")


@lru_cache(maxsize=1)
def _by_syllable() -> dict[str, str]:
    """Toneless syllable -> every ideograph read so (first reading), in code point order."""
    readings, _ids, _poly = _readings()
    groups: dict[str, list[str]] = {}
    for cp, py in sorted(readings.items()):
        groups.setdefault(py, []).append(chr(cp))
    return {py: "".join(chars) for py, chars in groups.items()}


def sound_class(ch: str) -> str:
    """A regex fragment matching ch and its homophones (ch itself when it has no reading)."""
    readings, _ids, _poly = _readings()
    py = readings.get(ord(ch))
    if py is None:
        return re.escape(ch)
    return "[" + _by_syllable()[py] + "]"


def expand_sound_macros(source: str) -> str:
    """Replace every `<~a|b>` by an alternation of the sound classes of each word's characters."""

    def expand(m: re.Match[str]) -> str:
        words = [w for w in m.group(1).split("|") if w]
        if not words:
            raise ValueError("empty sound macro <~>")
        return "(?:" + "|".join("".join(sound_class(c) for c in w) for w in words) + ")"

    return SOUND_MACRO.sub(expand, source)
