"""A disk cache of the engine's computed tables, so a process that loads packs it has seen before skips the
expensive part of building (spellings, sound keys, gap patterns, OpenCC and pypinyin tables).

- Where: `$XDG_CACHE_HOME/livebot` or `~/.cache/livebot`, one file per set of tables (`rules-<key>.marshal`);
  `LIVEBOT_RULES_CACHE=off` turns it off (read and write).
- Key: a hash of everything the tables are computed from: the rules' phrases, patterns, scopes and
  options, the variant, look-alike and filler lists, the source of the modules that compute them, and the
  versions of the libraries whose dictionaries they read (OpenCC, pypinyin, jieba). A changed pack or a
  changed engine gets a new file; nothing has to be invalidated by hand.
- Format: `marshal` of plain data (lists, tuples, dicts, str, int), which loads fast and cannot run code.
  The automata and regexes are rebuilt from these lists at load (ahocorasick-rs automata cannot be
  pickled, and building them from finished key lists is quick).
- Written atomically (a temporary file renamed over the target), so readers never see half a file.
  A file that cannot be read, is of another format or belongs to another key is ignored and rebuilt.
  Only the newest MAX_FILES files are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import os
import sys
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the layout of the tables changes in a way the source hash would not show
MAX_FILES = 16
_PREFIX = "rules-"
_SUFFIX = ".marshal"
# The modules whose code decides what the tables hold.
_SOURCES = ("engine.py", "tables.py", "normalize.py", "phonetic.py", "variants.py", "sound_macro.py", "cache.py")
_LIBRARIES = ("opencc", "pypinyin", "jieba")


def cache_dir() -> Path | None:
    if os.environ.get("LIVEBOT_RULES_CACHE", "").lower() in ("0", "off", "no", "false"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "livebot"


@lru_cache(maxsize=1)
def _code_version() -> str | None:
    """None when the engine's source cannot be read (then nothing tells an old cache file from a
    current one, and the cache is not used)."""
    h = hashlib.sha256(f"{FORMAT} {sys.version_info[:2]} {marshal.version}".encode())
    here = Path(__file__).resolve().parent
    for name in _SOURCES:
        h.update(name.encode())
        try:
            h.update((here / name).read_bytes())
        except OSError as e:
            log.warning("rules cache off: cannot read the engine's source %s (%s)", name, e)
            return None
    for lib in _LIBRARIES:
        try:
            h.update(f"{lib}={metadata.version(lib)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib}=?".encode())
    return h.hexdigest()


def key_of(inputs: Any) -> str | None:
    """The cache key of JSON-able build inputs (lists and dicts in a fixed order), with the code version;
    None: no caching."""
    version = _code_version()
    if version is None or cache_dir() is None:
        return None
    blob = json.dumps(inputs, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(f"{version}\n{blob}".encode()).hexdigest()[:40]


def read(key: str | None) -> dict[str, Any] | None:
    folder = cache_dir()
    if folder is None or key is None:
        return None
    path = folder / f"{_PREFIX}{key}{_SUFFIX}"
    try:
        data = marshal.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, EOFError, ValueError, TypeError) as e:
        log.warning("rules cache %s unreadable (%s): rebuilding", path, e)
        return None
    if not (isinstance(data, dict) and data.get("format") == FORMAT and data.get("key") == key):
        log.warning("rules cache %s is of another version or key: rebuilding", path)
        return None
    tables = data.get("tables")
    return tables if isinstance(tables, dict) else None


def write(key: str | None, tables: dict[str, Any]) -> None:
    """Best effort: a read-only or full disk costs the next process a rebuild, nothing more."""
    folder = cache_dir()
    if folder is None or key is None:
        return
    try:
        blob = marshal.dumps({"format": FORMAT, "key": key, "tables": tables})
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".rules-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, folder / f"{_PREFIX}{key}{_SUFFIX}")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(folder)
    except (OSError, ValueError) as e:
        log.warning("rules cache not written to %s: %s", folder, e)


def _prune(folder: Path) -> None:
    files = []
    for path in folder.glob(f"{_PREFIX}*{_SUFFIX}"):
        try:
            files.append((path.stat().st_mtime, path))
        except OSError:
            continue
    files.sort(reverse=True)
    for _mtime, path in files[MAX_FILES:]:
        path.unlink(missing_ok=True)
