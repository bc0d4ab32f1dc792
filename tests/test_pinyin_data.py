"""pypinyin on compactly loaded dictionaries gives exactly what pypinyin on its own loader gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rules.pinyin_data import _data_dir, load_phrases_dict, load_pinyin_dict

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("msgspec")


def _pypinyin_own_load(d: Path) -> tuple[dict[int, str], dict[str, list[list[str]]]]:
    """What pypinyin 0.5x's modules build: json.loads of each file, code points as ints."""
    chars = {int(k): v for k, v in json.loads((d / "pinyin_dict.json").read_text(encoding="utf-8")).items()}
    phrases = json.loads((d / "phrases_dict.json").read_text(encoding="utf-8"))
    return chars, phrases


def test_the_compact_dictionaries_equal_pypinyins_own() -> None:
    d = _data_dir()
    assert d is not None, "pypinyin's data files were not found: the compact loader would never run"
    chars, phrases = _pypinyin_own_load(d)
    assert load_pinyin_dict(d / "pinyin_dict.json") == chars
    compact = load_phrases_dict(d / "phrases_dict.json")
    assert compact == phrases
    # pooled: far fewer distinct reading lists than characters of phrases
    distinct = {id(item) for row in compact.values() for item in row}
    assert len(distinct) < sum(len(row) for row in compact.values()) / 10


_READINGS = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "compact":
    from rules.pinyin_data import pypinyin
    p = pypinyin()
    assert type(sys.modules["pypinyin.phrases_dict"].__spec__).__name__ == "NoneType", "not the compact data"
else:
    import pypinyin as p
from pypinyin.constants import PHRASES_DICT
h = hashlib.sha256()
words = sorted(PHRASES_DICT)
# every phrase, every phrase run into the next (segmentation across a phrase boundary), and text
# with letters, digits and characters of no reading
for i, w in enumerate(words):
    for text in (w, w + words[(i * 7919) % len(words)], "a1" + w + "。x"):
        h.update(repr(p.lazy_pinyin(text, style=p.Style.NORMAL, errors="ignore")).encode())
        if i % 5 == 0:
            h.update(repr(p.pinyin(text, style=p.Style.NORMAL, errors=lambda c: list(c))).encode())
print(h.hexdigest())
"""


def _readings_digest(mode: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYPINYIN_NO_DICT_COPY"}
    out = subprocess.run(
        [sys.executable, "-c", _READINGS, str(ROOT), mode], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.strip()


def test_every_phrase_reads_the_same_on_the_compact_data() -> None:
    compact, own = _readings_digest("compact"), _readings_digest("own")
    assert len(own) == 64 and compact == own
