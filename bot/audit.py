"""Append-only audit log: what was said in the room, what the bot warned and what it answered.

Content-log retention is a legal duty for live-commerce rooms, so every event the pipeline
publishes is written here as one JSON line, in ``DIR/ROOM/YYYY-MM-DD.jsonl`` (local date), and
flushed to the operating system line by line: a crash loses at most the line being written.
Appends to the page cache take microseconds, so they run inline rather than paying a thread hop.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import IO, Any

from bot.events import AnchorSpeech, Event, EventFormatError, event_from_dict

log = logging.getLogger(__name__)

# Enter events (someone opened the room) carry no content and can outnumber everything else.
NOT_AUDITED = frozenset({"enter"})


def _dumps(record: dict[str, Any]) -> str:
    try:
        line = json.dumps(record, ensure_ascii=False, default=str)
        line.encode("utf-8")
    except UnicodeEncodeError:
        # a lone surrogate from a hostile payload: keep the line, escaped, rather than lose it
        line = json.dumps(record, ensure_ascii=True, default=str)
    return line


class AuditLog:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)
        self._files: dict[str, tuple[str, IO[str]]] = {}
        self.lines_written = 0

    def path_for(self, room: str, day: dt.date) -> Path:
        return self.dir / room / f"{day.isoformat()}.jsonl"

    def write(self, event: Event) -> None:
        if event.type in NOT_AUDITED or (isinstance(event, AnchorSpeech) and not event.final):
            return  # partial ASR results are revised by the final; the final is what was said
        record = event.to_dict(include_raw=True)
        record["logged_at"] = dt.datetime.now().astimezone().isoformat(timespec="milliseconds")
        self._append(event.room, _dumps(record))

    def _append(self, room: str, line: str) -> None:
        day = dt.date.today().isoformat()
        current = self._files.get(room)
        if current is None or current[0] != day:
            if current is not None:
                current[1].close()
            path = self.path_for(room, dt.date.today())
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(path, "a", encoding="utf-8", newline="\n")
            self._files[room] = current = (day, fh)
        fh = current[1]
        fh.write(line + "\n")
        fh.flush()
        self.lines_written += 1

    def close(self) -> None:
        for _day, fh in self._files.values():
            fh.close()
        self._files.clear()

    def recent(self, room: str, limit: int) -> list[Event]:
        """The last ``limit`` events logged for a room (today's and yesterday's files), oldest first.

        Used at start-up to seed the bus so sequence ids continue and overlays replay across a restart.
        """
        today = dt.date.today()
        wanted = limit + 8  # a few spare lines for torn or hand-edited ones
        lines: list[str] = []
        for day in (today, today - dt.timedelta(days=1)):
            path = self.path_for(room, day)
            if path.exists():
                lines = _tail_lines(path, wanted - len(lines)) + lines
            if len(lines) >= wanted:
                break
        events: list[Event] = []
        for line in lines:
            try:
                events.append(event_from_dict(json.loads(line)))
            except (ValueError, EventFormatError) as exc:
                # the line being written when an earlier run crashed, or a hand edit
                log.warning("audit %s: skipping an unreadable line: %s", room, exc)
        return events[-limit:] if limit > 0 else []


def _tail_lines(path: Path, count: int, block: int = 65536) -> list[str]:
    """The last ``count`` complete lines of a file, read backwards in blocks."""
    if count <= 0:
        return []
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        pos = fh.tell()
        data = b""
        while pos > 0 and data.count(b"\n") <= count:
            step = min(block, pos)
            pos -= step
            fh.seek(pos)
            data = fh.read(step) + data
    text = data.decode("utf-8", errors="replace")
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if pos > 0:
        lines = lines[1:]  # the first piece may be the end of a longer line
    return lines[-count:]
