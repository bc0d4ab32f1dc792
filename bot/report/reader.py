"""Read a room's audit log back: the files of a date or a time window, over one or more directories.

An audit log is written by a live process and may be copied, cut or hand-edited before anyone
reads it, so every line is suspect: the last line of a crashed run is torn, a disk error leaves
junk, a hostile payload may have produced odd values. Each line that cannot be counted is skipped
and counted by reason (``ReadStats.skipped``); reading never raises on file content.

Several workers' directories of one room overlap after a takeover (the same event can be in two
of them), so events are counted once. What identifies an event is its ``seq`` (the bus gives each
event of a room the next one), together with its ``type`` and ``ts``: a memory bus that restarted
without its history starts over at 1, and those later events are different events that must not
be dropped. An event without a ``seq`` (0 or absent: a log written before the bus gave one, or by
hand) is identified by its whole record minus ``logged_at``, the only field a second writer
would write differently.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import ROOM_NAME_RE

log = logging.getLogger(__name__)

# A real audit line is well under 64 KiB (a warning carries its utterance, basis and suggestion);
# anything far longer is junk or an attack, and reading it whole would cost memory for nothing.
MAX_LINE_BYTES = 1 << 20
MAX_TYPE_LEN = 64
# Room names become directory names: only what a config file can name (no "..", no "/").
ROOM_NAME = ROOM_NAME_RE

try:  # orjson parses 3-5x faster and refuses NaN/Infinity by itself
    import orjson

    def _loads(raw: bytes) -> Any:
        return orjson.loads(raw)

    _PARSE_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover - orjson is an optional speed-up

    def _reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def _finite_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{text} is beyond a double")  # as orjson refuses it
        return value

    def _loads(raw: bytes) -> Any:
        return json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)

    _PARSE_ERRORS = (ValueError, RecursionError)


class ReportInputError(ValueError):
    """The request cannot be read: a bad room name, date or window (never the log's content)."""


@dataclass
class ReadStats:
    files: list[str] = field(default_factory=list)
    lines: int = 0
    events: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "lines": self.lines,
            "events": self.events,
            "duplicates": self.duplicates,
            "skipped": dict(sorted(self.skipped.items())),
        }


@dataclass(frozen=True)
class Window:
    """What to read: whole day files (``days``), optionally cut to ``since <= ts < until``."""

    days: tuple[dt.date, ...]
    since: float | None = None
    until: float | None = None

    @classmethod
    def for_date(cls, day: dt.date) -> Window:
        return cls(days=(day,))

    @classmethod
    def between(cls, since: dt.datetime, until: dt.datetime) -> Window:
        if until <= since:
            raise ReportInputError(f"--until {until.isoformat()} is not after --since {since.isoformat()}")
        # files are named by the writer's local date: a day either side covers any time zone skew
        first, last = since.astimezone().date(), until.astimezone().date()
        if (last - first).days > 366:
            raise ReportInputError("a report covers at most a year; ask for a shorter window")
        days = tuple(first + dt.timedelta(days=i) for i in range(-1, (last - first).days + 2))
        return cls(days=days, since=since.timestamp(), until=until.timestamp())


def check_room(room: str) -> str:
    if not ROOM_NAME.match(room):
        raise ReportInputError(f"room {room!r}: 1-64 letters, digits, '-' or '_' (as in the config)")
    return room


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ReportInputError(f"date {text!r}: expected YYYY-MM-DD") from None


def parse_instant(text: str, what: str) -> dt.datetime:
    """An ISO time; one without a zone is local time (as a person reading the console means it)."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ReportInputError(f"{what} {text!r}: expected an ISO time such as 2026-05-01T20:00") from None
    return moment if moment.tzinfo else moment.astimezone()


def room_files(dirs: Iterable[str | Path], room: str, window: Window) -> list[Path]:
    check_room(room)
    out: list[Path] = []
    for directory in dirs:
        for day in window.days:
            path = Path(directory) / room / f"{day.isoformat()}.jsonl"
            if path.is_file():
                out.append(path)
    return out


def rooms_with_day(dirs: Iterable[str | Path], day: dt.date) -> list[str]:
    """Rooms that have a log file for ``day`` in any of the directories, sorted."""
    rooms: set[str] = set()
    for directory in dirs:
        base = Path(directory)
        if not base.is_dir():
            continue
        for sub in base.iterdir():
            if ROOM_NAME.match(sub.name) and (sub / f"{day.isoformat()}.jsonl").is_file():
                rooms.add(sub.name)
    return sorted(rooms)


def _lines(path: Path, stats: ReadStats) -> Iterator[bytes]:
    """The lines of a file as bytes, each bounded by MAX_LINE_BYTES (longer ones skipped and counted)."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        log.warning("report: cannot open %s: %s", path, exc)
        stats.skipped["unreadable_file"] += 1
        return
    with fh:
        while True:
            try:
                raw = fh.readline(MAX_LINE_BYTES + 1)
            except OSError as exc:
                log.warning("report: reading %s failed: %s", path, exc)
                stats.skipped["unreadable_file"] += 1
                return
            if not raw:
                return
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                # drain the rest of the oversized line in bounded pieces
                while raw and not raw.endswith(b"\n"):
                    raw = fh.readline(MAX_LINE_BYTES)
                stats.lines += 1
                stats.skipped["too_long"] += 1
                continue
            yield raw


# A time the report can print: from 1970 to the year 3000 (datetime cannot show 1e15 seconds).
TS_MAX = 32_503_680_000


def _finite_number(value: Any) -> bool:
    if type(value) is float:
        return 0.0 <= value <= TS_MAX  # NaN compares false, so it is refused here too
    return type(value) is int and 0 <= value <= TS_MAX


def _valid(record: Any, room: str) -> str:
    """Why a parsed line is not a usable event ("" when it is)."""
    if type(record) is not dict:
        return "not_an_object"
    kind = record.get("type")
    if type(kind) is not str or not kind or len(kind) > MAX_TYPE_LEN:
        return "bad_type"
    if record.get("room") != room:
        return "other_room"
    if not _finite_number(record.get("ts")):
        return "bad_ts"
    seq = record.get("seq", 0)
    if type(seq) is not int or not 0 <= seq < (1 << 63):
        return "bad_seq"
    return ""


class _Seen:
    """The events already counted. Seqs are dense per room, so a flat array indexed by seq holds a
    fingerprint of (type, ts) in 8 bytes an event; a 6-hour show at 200 events/s is ~35 MB."""

    DENSE_LIMIT = 1 << 28  # seqs beyond this (odd, hostile) go to the sparse set

    def __init__(self) -> None:
        self._dense = array("Q")
        self._other: set[Any] = set()

    def add(self, record: dict[str, Any]) -> bool:
        """True if the event is new."""
        seq: int = record.get("seq", 0)
        if not seq:
            key: Any = json.dumps({k: v for k, v in record.items() if k != "logged_at"}, sort_keys=True, default=str)
        else:
            finger = (hash((record["type"], record["ts"])) & 0xFFFF_FFFF_FFFF_FFFF) | 1
            if seq < self.DENSE_LIMIT:
                dense = self._dense
                if seq >= len(dense):
                    dense.frombytes(bytes(8 * max(seq + 1 - len(dense), len(dense) // 2, 1024)))
                held = dense[seq]
                if held == 0:
                    dense[seq] = finger
                    return True
                if held == finger:
                    return False
            key = (seq, finger)  # a restarted bus reused this seq for another event
        if key in self._other:
            return False
        self._other.add(key)
        return True


def read_events(
    dirs: Iterable[str | Path], room: str, window: Window, stats: ReadStats | None = None
) -> Iterator[dict[str, Any]]:
    """Every usable event of ``room`` in ``window`` over ``dirs``, each once (records as parsed JSON)."""
    stats = stats if stats is not None else ReadStats()
    dirs = list(dirs)
    files = room_files(dirs, room, window)
    stats.files = [str(p) for p in files]
    # even one directory can hold an event twice: workers sharing one audit folder after a takeover
    seen = _Seen()
    since, until = window.since, window.until
    skipped = stats.skipped
    for path in files:
        for raw in _lines(path, stats):
            stats.lines += 1
            try:
                record = _loads(raw)
            except _PARSE_ERRORS:
                # a torn last line, junk, NaN/Infinity, invalid UTF-8, nesting too deep, a blank line
                skipped["unparsable" if raw.strip() else "blank"] += 1
                continue
            reason = _valid(record, room)
            if reason:
                skipped[reason] += 1
                continue
            ts = record["ts"]
            if (since is not None and ts < since) or (until is not None and ts >= until):
                continue
            if not seen.add(record):
                stats.duplicates += 1
                continue
            stats.events += 1
            yield record
