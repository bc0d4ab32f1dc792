"""Edits ops make to an FAQ file from the admin page, keeping its comments and layout (tomlkit).

Each function takes the file's text and returns the new text; nothing is written here. The caller
(``FaqStore.edit``) validates the result with the same parser the bot loads files with before it
writes anything, so an edit can never leave a file the bot refuses.

    add_example(text, "shipping_fee", "到新疆要运费吗")    # one more way viewers ask
    add_chatter(text, "主播吃过吗")                       # never answer this message
    update_entry(text, "shipping_fee", {"answer": "...", "examples": [...]})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import tomlkit
from tomlkit.items import AoT, Array, Table

from bot.faq.faqfile import ENTRY_KEYS, FaqFileError

EDITABLE = tuple(k for k in ENTRY_KEYS if k != "id")  # question, answer, short, examples, keywords
LIST_KEYS = ("examples", "keywords")
OPTIONAL_KEYS = ("short", "examples", "keywords")


def _doc(text: str, file: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except Exception as exc:  # tomlkit raises its own ParseError subclasses
        raise FaqFileError(file, f"invalid TOML: {exc}") from None


def _entry(doc: tomlkit.TOMLDocument, faq_id: str, file: str) -> Table:
    entries = doc.get("faq")
    if isinstance(entries, AoT | list):
        for table in entries:
            if isinstance(table, Table | dict) and table.get("id") == faq_id:
                return table  # type: ignore[return-value]
    raise FaqFileError(file, f"no entry with id {faq_id!r}")


def _clean(text: str) -> str:
    return " ".join(str(text).split())


def _array(values: Sequence[str]) -> Array:
    arr = tomlkit.array()
    arr.extend(values)
    return arr


def add_example(text: str, faq_id: str, example: str, *, file: str = "<faq>") -> tuple[str, bool]:
    """The text with ``example`` appended to the entry's examples; (text, False) if it was there already."""
    example = _clean(example)
    if not example:
        raise FaqFileError(file, "an example must not be empty", entry=faq_id, field="examples")
    doc = _doc(text, file)
    entry = _entry(doc, faq_id, file)
    current = entry.get("examples")
    if current is None:
        entry["examples"] = _array([example])
    elif isinstance(current, list):
        if example in [str(x) for x in current]:
            return text, False
        current.append(example)
    else:
        raise FaqFileError(file, "must be a list of strings", entry=faq_id, field="examples")
    return tomlkit.dumps(doc), True


def add_chatter(text: str, message: str, *, file: str = "<faq>") -> tuple[str, bool]:
    """The text with ``message`` in the top-level ``chatter`` list (messages never answered)."""
    message = _clean(message)
    if not message:
        raise FaqFileError(file, "must not be empty", field="chatter")
    doc = _doc(text, file)
    current = doc.get("chatter")
    if current is None:
        # a top-level key must come before the first table; tomlkit puts a new one there
        doc.add("chatter", _array([message]))
    elif isinstance(current, list):
        if message in [str(x) for x in current]:
            return text, False
        current.append(message)
    else:
        raise FaqFileError(file, "must be a list of strings", field="chatter")
    return tomlkit.dumps(doc), True


def update_entry(text: str, faq_id: str, fields: Mapping[str, Any], *, file: str = "<faq>") -> tuple[str, bool]:
    """The text with the entry's fields replaced (an empty optional field is removed)."""
    doc = _doc(text, file)
    entry = _entry(doc, faq_id, file)
    changed = False
    for key, value in fields.items():
        if key not in EDITABLE:
            raise FaqFileError(
                file, f"not an editable field (editable: {', '.join(EDITABLE)})", entry=faq_id, field=key
            )
        if key in LIST_KEYS:
            items = [_clean(v) for v in value if _clean(v)]
            new: Any = _array(items) if items else None
            old = [str(x) for x in entry.get(key, [])]
            same = old == items
        else:
            cleaned = _clean(value)
            new = cleaned or None
            same = str(entry.get(key, "")) == cleaned
        if same:
            continue
        changed = True
        if new is None:
            if key not in OPTIONAL_KEYS:
                raise FaqFileError(file, "must not be empty", entry=faq_id, field=key)
            if key in entry:
                del entry[key]
        else:
            entry[key] = new
    return (tomlkit.dumps(doc), True) if changed else (text, False)
