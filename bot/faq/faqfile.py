"""The merchant FAQ file: TOML ``[[faq]]`` entries, validated with errors that point at the problem.

Format (see README "FAQ answers")::

    [[faq]]
    id = "return_policy"              # snake_case ASCII, unique
    question = "怎么申请退货？"        # the canonical question
    answer = "在订单页点「申请售后」…"  # the full answer, shown on the overlay card
    short = "订单页点申请售后选退货"    # optional: the chat reply (cut at a clause to the platform's length)
    examples = ["怎么退货", "退货流程是什么"]   # optional: ways viewers ask
    keywords = ["退货", "寄回"]              # optional: words that point at this entry

    [synonyms]   # optional: merchant words on top of the shipped table (canonical = [variants])
    "破壁机" = ["破壁", "料理机"]
    [classes]    # optional: class = [members]
    [cues]       # optional: extra question-gate cues, same keys as bot/faq/data/cues.toml
    chatter = ["主播吃过吗"]   # optional, before the tables: messages ops marked as never to answer

Every error is a ``FaqFileError`` whose ``str()`` is one line naming the file, the entry (its id when
it has a usable one, else its 1-based index) and the field.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.faq.vocab import CUE_KEYS

ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# A chat reply is 20 characters on Bilibili and more elsewhere; a longer short is cut at a clause when
# sent (responder.compose), so only a short that is no short reply at all stops the file from loading.
SHORT_MAX = 60
TEXT_MAX = 500  # an answer longer than this is not an FAQ answer; it would swamp the overlay card
LIST_MAX = 200
ENTRY_KEYS = ("id", "question", "answer", "short", "examples", "keywords")
TOP_KEYS = ("faq", "synonyms", "classes", "cues", "chatter")


class FaqFileError(Exception):
    """A problem in an FAQ file; ``str()`` is the one line shown to ops."""

    def __init__(self, file: str | os.PathLike[str], reason: str, *, entry: str = "", field: str = "") -> None:
        self.file, self.entry, self.field, self.reason = str(file), entry, field, reason
        where = ": ".join(p for p in (self.file, entry, field) if p)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    short: str = ""
    examples: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FaqFile:
    """One good version of an FAQ file."""

    path: str
    entries: tuple[FaqEntry, ...]
    # merchant vocabulary merged over the shipped tables: canonical -> variants, class -> members
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    classes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    chatter: tuple[str, ...] = ()  # messages never to answer (negative examples taught by ops)
    digest: str = ""  # sha256 of the bytes it was parsed from

    def entry(self, faq_id: str) -> FaqEntry | None:
        return next((e for e in self.entries if e.id == faq_id), None)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _text(value: Any, file: str, entry: str, key: str, *, required: bool, max_len: int = TEXT_MAX) -> str:
    if value is None:
        if required:
            raise FaqFileError(file, "missing value", entry=entry, field=key)
        return ""
    if not isinstance(value, str):
        raise FaqFileError(file, f"must be a string, not {type(value).__name__}", entry=entry, field=key)
    text = _clean(value)
    if required and not text:
        raise FaqFileError(file, "must not be empty", entry=entry, field=key)
    if len(text) > max_len:
        raise FaqFileError(file, f"at most {max_len} characters, this has {len(text)}", entry=entry, field=key)
    return text


def _text_list(value: Any, file: str, entry: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise FaqFileError(file, f"must be a list of strings, not {type(value).__name__}", entry=entry, field=key)
    if len(value) > LIST_MAX:
        raise FaqFileError(file, f"at most {LIST_MAX} items, this has {len(value)}", entry=entry, field=key)
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not _clean(item):
            raise FaqFileError(file, "must be a non-empty string", entry=entry, field=f"{key}[{i}]")
        if len(item) > TEXT_MAX:
            raise FaqFileError(file, f"at most {TEXT_MAX} characters", entry=entry, field=f"{key}[{i}]")
        out.append(_clean(item))
    return tuple(out)


def _parse_entry(raw: Any, index: int, file: str, seen: set[str]) -> FaqEntry:
    label = f"entry {index}"
    if not isinstance(raw, dict):
        raise FaqFileError(file, "must be a table ([[faq]])", entry=label)
    raw_id = raw.get("id")
    if isinstance(raw_id, str) and ID_RE.match(raw_id):
        label = f"entry {index} ({raw_id})"
    unknown = sorted(set(raw) - set(ENTRY_KEYS))
    if unknown:
        raise FaqFileError(file, f"unknown key (known: {', '.join(ENTRY_KEYS)})", entry=label, field=unknown[0])
    if raw_id is None:
        raise FaqFileError(file, "missing value", entry=label, field="id")
    if not isinstance(raw_id, str) or not ID_RE.match(raw_id):
        raise FaqFileError(
            file,
            f"must be snake_case ASCII (a-z, 0-9, _; starting with a letter), not {raw_id!r}",
            entry=label,
            field="id",
        )
    if raw_id in seen:
        raise FaqFileError(file, f"duplicate id {raw_id!r}", entry=label, field="id")
    seen.add(raw_id)
    return FaqEntry(
        id=raw_id,
        question=_text(raw.get("question"), file, label, "question", required=True),
        answer=_text(raw.get("answer"), file, label, "answer", required=True),
        short=_text(raw.get("short"), file, label, "short", required=False, max_len=SHORT_MAX),
        examples=_text_list(raw.get("examples"), file, label, "examples"),
        keywords=_text_list(raw.get("keywords"), file, label, "keywords"),
    )


def _parse_table(raw: Any, file: str, name: str, known: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FaqFileError(file, "must be a table of lists of strings", entry=f"[{name}]")
    out: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        if not key.strip():
            raise FaqFileError(file, "empty key", entry=f"[{name}]")
        if known and key not in known:
            raise FaqFileError(file, f"unknown cue list (known: {', '.join(known)})", entry=f"[{name}]", field=key)
        out[key.strip()] = _text_list(value, file, f"[{name}]", key)
    return out


def parse_faq(data: bytes, file: str = "<faq>") -> FaqFile:
    """Parse and validate FAQ file bytes; raises FaqFileError."""
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise FaqFileError(file, f"not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise FaqFileError(file, f"invalid TOML: {exc}") from None
    unknown = sorted(set(doc) - set(TOP_KEYS))
    if unknown:
        raise FaqFileError(file, f"unknown top-level key {unknown[0]!r} (known: {', '.join(TOP_KEYS)})")
    raw_entries = doc.get("faq")
    if raw_entries is None:
        raise FaqFileError(file, "no [[faq]] entries")
    if not isinstance(raw_entries, list):
        raise FaqFileError(file, "faq must be an array of tables ([[faq]])")
    if not raw_entries:
        raise FaqFileError(file, "no [[faq]] entries")
    seen: set[str] = set()
    entries = tuple(_parse_entry(raw, i, file, seen) for i, raw in enumerate(raw_entries, start=1))
    return FaqFile(
        path=file,
        entries=entries,
        synonyms=_parse_table(doc.get("synonyms"), file, "synonyms"),
        classes=_parse_table(doc.get("classes"), file, "classes"),
        cues=_parse_table(doc.get("cues"), file, "cues", CUE_KEYS),
        chatter=_text_list(doc.get("chatter"), file, "", "chatter"),
        digest=hashlib.sha256(data).hexdigest(),
    )


def load_faq(path: str | os.PathLike[str]) -> FaqFile:
    """Read, parse and validate an FAQ file; raises FaqFileError."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise FaqFileError(file, f"cannot read: {exc.strerror or exc}") from None
    return parse_faq(data, file)
