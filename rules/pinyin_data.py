"""pypinyin with its dictionaries loaded compactly: the same readings, a fraction of the memory.

pypinyin reads two JSON files at import (``pinyin_dict.json``: code point -> readings,
``phrases_dict.json``: phrase -> one list of readings per character) with ``json.loads`` into about
600,000 small objects, 35 MB, and then copies both dictionaries (3 MB more). Phrases share very few
distinct reading lists (about 1,300 for 47,000 phrases), so here each phrase's list of per-character
lists points into one pool of those lists, strings are shared, and the copies are skipped
(``PYPINYIN_NO_DICT_COPY``: they exist only for users who load custom dictionaries, which livebot
never does). pypinyin's own code then runs unchanged on that data, so every reading is what it gives.

Sharing is safe because pypinyin hands out ``deepcopy`` of a phrase's entry, never the entry itself.
The values are equal to what pypinyin's loader builds (``tests/test_pinyin_data.py`` compares them);
when its data files are not where this version keeps them, pypinyin loads them itself.

Call ``pypinyin()`` instead of ``import pypinyin``: only the first import in a process can be made
compact, so every livebot module that needs pypinyin goes through here.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import types
from pathlib import Path
from typing import Any

import orjson

_lock = threading.Lock()


def pypinyin() -> types.ModuleType:
    """The ``pypinyin`` module, its dictionaries loaded compactly if this is the first import."""
    module = sys.modules.get("pypinyin")
    if module is not None:
        return module
    with _lock:
        if "pypinyin" not in sys.modules:
            _install_compact_dicts()
        import pypinyin as module

        return module


def char_readings() -> dict[int, str]:
    """pypinyin's table of code point -> "reading,reading" (the first is the usual one)."""
    pypinyin()
    return importlib.import_module("pypinyin.pinyin_dict").pinyin_dict  # type: ignore[no-any-return]


def _data_dir() -> Path | None:
    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        d = Path(location)
        if (d / "pinyin_dict.json").is_file() and (d / "phrases_dict.json").is_file():
            return d
    return None


def _install_compact_dicts() -> None:
    """Put ``pypinyin.pinyin_dict`` and ``pypinyin.phrases_dict`` in ``sys.modules`` before the
    package imports them, holding compact dictionaries read from the same files."""
    d = _data_dir()
    if d is None:
        return  # another layout: pypinyin loads its own data as usual
    try:
        pinyin_dict = load_pinyin_dict(d / "pinyin_dict.json")
        phrases_dict = load_phrases_dict(d / "phrases_dict.json")
    except (ImportError, OSError, ValueError, TypeError):
        return  # no msgspec (an optional extra), or files not as expected: pypinyin's own loader
    os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
    for name, attr, value in (
        ("pypinyin.pinyin_dict", "pinyin_dict", pinyin_dict),
        ("pypinyin.phrases_dict", "phrases_dict", phrases_dict),
    ):
        module = types.ModuleType(name)
        setattr(module, attr, value)
        module.__file__ = str(d / f"{attr}.json")
        sys.modules[name] = module


def load_pinyin_dict(path: Path) -> dict[int, str]:
    """code point -> "reading,reading" (pypinyin's form), the reading strings shared."""
    import msgspec

    raw: dict[int, str] = msgspec.json.decode(path.read_bytes(), type=dict[int, str])
    strings: dict[str, str] = {}
    return {key: strings.setdefault(value, value) for key, value in raw.items()}


def load_phrases_dict(path: Path) -> dict[str, list[list[str]]]:
    """phrase -> [[readings of char 1], [readings of char 2], ...], the inner lists pooled.

    The file is decoded with its values left as raw JSON (``msgspec.Raw``, slices of the file's
    bytes), then each value on its own: decoding the whole file at once made all 600,000 objects
    exist at the same moment, and that memory stayed with the process after they were pooled."""
    import msgspec

    raw: dict[str, msgspec.Raw] = msgspec.json.decode(path.read_bytes(), type=dict[str, msgspec.Raw])
    pool: dict[tuple[str, ...], list[str]] = {}
    strings: dict[str, str] = {}
    out: dict[str, list[list[str]]] = {}
    decode = orjson.loads
    for key, value in raw.items():
        readings: Any = decode(memoryview(value))
        if not isinstance(readings, list):
            raise TypeError(f"{path}: {key}: not a list")
        row: list[list[str]] = []
        for item in readings:
            if not isinstance(item, list) or not all(isinstance(s, str) for s in item):
                raise TypeError(f"{path}: {key}: not a list of strings")
            t = tuple(item)
            shared = pool.get(t)
            if shared is None:
                shared = pool[t] = [strings.setdefault(s, s) for s in item]
            row.append(shared)
        out[key] = row
    return out
