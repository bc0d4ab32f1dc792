"""Douyu's STT text serialisation: ``key@=value/key@=value/``.

Escaping: ``@`` -> ``@A`` first, then ``/`` -> ``@S`` (the other order would turn the ``@`` of every
``@S`` into ``@AS``). Unescaping is the mirror: ``@S`` -> ``/`` before ``@A`` -> ``@``; done the
other way round, a literal ``@S`` in a viewer's text (wire ``@AS``) comes out as ``/``. Here it is
checked first (any other ``@`` sequence is rejected), then replaced in that order.

Nested values are STT text again, escaped once more: a map value is the map's own STT text
(``eid@=1/etp@=2/``) escaped, a list value is its items (each escaped) each followed by ``/``. The
wire cannot tell a string from a map or a list (``a@=b/`` as a string and ``{"a": "b"}`` encode
the same), so ``loads`` returns one level of plain strings and a caller who knows a field is
nested reads it with ``loads`` (a map) or ``load_list`` (a list).

Everything here is bounded: ``SttError`` for more than ``MAX_FIELDS`` entries, a bad escape, a
pair without ``@=`` or a key that is not a short printable name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

MAX_FIELDS = 512
MAX_KEY = 64

_BAD_ESCAPE = re.compile(r"@(?:[^AS]|$)", re.DOTALL)

#: what an encoded value may be: a string, a map of them, a list of them, nested
Value = str | int | Mapping[str, "Value"] | Sequence["Value"]


class SttError(ValueError):
    """Text that is not valid STT."""


# --- escaping ------------------------------------------------------------------------------------


def escape(text: str) -> str:
    return text.replace("@", "@A").replace("/", "@S")


def unescape(text: str) -> str:
    """``@S`` -> ``/`` and ``@A`` -> ``@``; any other ``@`` (or one at the end) is an ``SttError``."""
    if "@" not in text:
        return text
    bad = _BAD_ESCAPE.search(text)
    if bad is not None:
        raise SttError(f"bad escape {bad.group()!r} at {bad.start()}")
    # every '@' starts @A or @S (checked above); @S first, so the '@' that @A yields never pairs
    # with a following 'S' into a '/'
    return text.replace("@S", "/").replace("@A", "@")


# --- encoding ------------------------------------------------------------------------------------


def dumps(fields: Mapping[str, Value]) -> str:
    """A map as STT text: ``key@=value/`` for each entry, values encoded by ``encode_value``."""
    return "".join(f"{escape(str(k))}@={escape(encode_value(v))}/" for k, v in fields.items())


def encode_value(value: Value) -> str:
    """The unescaped text of one value: a string as it is, a map as its STT text, a list as its
    items each escaped and followed by ``/``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError("STT has no booleans: say 0 or 1")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return dumps(value)
    if isinstance(value, Sequence):
        return "".join(escape(encode_value(v)) + "/" for v in value)
    raise TypeError(f"cannot encode {type(value).__name__} as STT")


# --- decoding ------------------------------------------------------------------------------------


def _items(text: str) -> list[str]:
    """The ``/``-terminated items of a text (a missing final ``/`` is forgiven)."""
    if not text:
        return []
    parts = text.split("/", MAX_FIELDS + 1)
    if len(parts) > MAX_FIELDS + 1 or (len(parts) == MAX_FIELDS + 1 and parts[-1]):
        raise SttError(f"more than {MAX_FIELDS} entries")
    if parts[-1] == "":
        parts.pop()
    return parts


def loads(text: str) -> dict[str, str]:
    """STT map text -> {key: value}, values unescaped once (still STT if they are nested).

    A repeated key keeps its last value (the server repeats ``rid`` in some messages)."""
    out: dict[str, str] = {}
    for item in _items(text):
        key, sep, value = item.partition("@=")
        if not sep:
            raise SttError(f"entry without '@=': {item[:40]!r}")
        key = unescape(key)
        if not key or len(key) > MAX_KEY or not key.isprintable():
            raise SttError(f"bad key {key[:40]!r}")
        out[key] = unescape(value)
    return out


def load_list(text: str) -> list[str]:
    """STT list text (``a/b/``) -> its items, unescaped once."""
    return [unescape(item) for item in _items(text)]
