"""IRCv3 lines: parse (with message tags and their escaping) and build. Pure text in, text out.

``@tag=value;flag :nick!user@host COMMAND param param :trailing param``

Tag values escape ``;`` as ``\\:``, space as ``\\s``, backslash as ``\\\\``, CR and LF as ``\\r``
and ``\\n``; any other escaped character stands for itself and a lone trailing backslash is
dropped (IRCv3 message-tags). Anything that is not a valid line raises ``IrcParseError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LINE = 64 * 1024  # Twitch allows 8191 bytes of tags + 512 of message; far more is hostile

COMMAND_RE = re.compile(r"^(?:[A-Za-z]+|[0-9]{3})$")
_UNESCAPE = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPE = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}


class IrcParseError(ValueError):
    """Text that is not an IRC line."""


@dataclass(frozen=True, slots=True)
class IrcMessage:
    command: str
    params: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    prefix: str | None = None

    @property
    def nick(self) -> str:
        """The nick of the prefix (``nick!user@host``), or "" for a server prefix / none."""
        if not self.prefix or "!" not in self.prefix:
            return ""
        return self.prefix.split("!", 1)[0]

    @property
    def trailing(self) -> str:
        return self.params[-1] if self.params else ""


def unescape_tag(value: str) -> str:
    if "\\" not in value:
        return value
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "\\":
            if i + 1 >= n:
                break  # a lone trailing backslash is dropped
            nxt = value[i + 1]
            out.append(_UNESCAPE.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def escape_tag(value: str) -> str:
    return "".join(_ESCAPE.get(ch, ch) for ch in value)


def parse_line(line: str) -> IrcMessage:
    if len(line) > MAX_LINE:
        raise IrcParseError(f"line of {len(line)} characters")
    line = line.rstrip("\r\n")
    if "\r" in line or "\n" in line or "\0" in line:
        raise IrcParseError("line contains CR, LF or NUL")
    rest = line
    tags: dict[str, str] = {}
    if rest.startswith("@"):
        raw_tags, sep, rest = rest[1:].partition(" ")
        if not sep:
            raise IrcParseError("tags without a command")
        for item in raw_tags.split(";"):
            if not item:
                continue
            key, _, value = item.partition("=")
            if not key:
                raise IrcParseError("empty tag key")
            tags[key] = unescape_tag(value)
        rest = rest.lstrip(" ")
    prefix: str | None = None
    if rest.startswith(":"):
        prefix, sep, rest = rest[1:].partition(" ")
        if not sep or not prefix:
            raise IrcParseError("prefix without a command")
        rest = rest.lstrip(" ")
    command, _, rest = rest.partition(" ")
    if not COMMAND_RE.match(command):
        raise IrcParseError(f"bad command {command[:20]!r}")
    params: list[str] = []
    while rest:
        rest = rest.lstrip(" ")
        if not rest:
            break
        if rest.startswith(":"):
            params.append(rest[1:])
            break
        param, _, rest = rest.partition(" ")
        params.append(param)
    return IrcMessage(command=command.upper(), params=tuple(params), tags=tags, prefix=prefix)


def clean_text(text: str) -> str:
    """Text safe as one trailing parameter: no CR, LF or NUL (which would inject another line)."""
    return " ".join(text.replace("\0", " ").splitlines()).strip()


def build_line(command: str, *params: str, tags: dict[str, str] | None = None) -> str:
    """One line without the CRLF; the last parameter is sent as trailing (``:...``)."""
    for p in params[:-1]:
        if not p or " " in p or p.startswith(":") or any(c in p for c in "\r\n\0"):
            raise ValueError(f"bad middle parameter {p!r}")
    parts: list[str] = []
    if tags:
        parts.append("@" + ";".join(f"{k}={escape_tag(v)}" if v else k for k, v in tags.items()))
    parts.append(command)
    parts.extend(params[:-1])
    if params:
        last = params[-1]
        if any(c in last for c in "\r\n\0"):
            raise ValueError("trailing parameter contains CR, LF or NUL")
        parts.append(":" + last)
    return " ".join(parts)
