"""Append-only audit log: what was said in the room, what the bot warned and what it answered.

Content-log retention is a legal duty for live-commerce rooms, so every event the pipeline
publishes is written here as one JSON line, in ``DIR/ROOM/YYYY-MM-DD.jsonl`` (local date).

Lines are encoded at once but written in batches: ``write`` queues the line and the batch goes to
the operating system (``write`` + ``flush``) at the end of the current event-loop turn, one system
call per room file instead of one per line. ``flush()`` writes at once; the speech ingest calls it
before it acknowledges a segment, and ``close()`` (every orderly exit and every exception that
ends the service) calls it too. A process killed with SIGKILL loses at most the lines of the turn
it was in, and never a line that was acknowledged.

A start that finds a file whose last line was torn by such a kill ends that line with a newline
first, so the next record never glues onto it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import time
from pathlib import Path
from typing import IO, Any

from bot.events import AnchorSpeech, EncodedRaw, Event, event_from_dict

try:  # a measured 5-8x faster encoder for the hot path; the stdlib one is the fallback
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency, but the log must never depend on it
    orjson = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# Enter events (someone opened the room) carry no content and can outnumber everything else.
NOT_AUDITED = frozenset({"enter"})

_STRICT_DECODER = json.JSONDecoder(parse_constant=lambda name: _reject_constant(name))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _dumps_stdlib(record: dict[str, Any]) -> str:
    try:
        line = json.dumps(record, ensure_ascii=False, default=str, allow_nan=False)
        line.encode("utf-8")
    except UnicodeEncodeError:
        # a lone surrogate from a hostile payload: keep the line, escaped, rather than lose it
        line = json.dumps(record, ensure_ascii=True, default=str, allow_nan=False)
    except ValueError:
        # NaN/Infinity in a platform payload: written as null, so the line stays strict JSON
        return json.dumps(_finite(record), ensure_ascii=True, default=str)
    return line


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _orjson_default(value: Any) -> Any:
    if isinstance(value, EncodedRaw):
        return orjson.Fragment(value.json)  # written as it is: it was encoded by ``encode_raw``
    return str(value)


def _decoded(record: dict[str, Any]) -> dict[str, Any]:
    raw = record.get("raw")
    if isinstance(raw, EncodedRaw):
        return {**record, "raw": json.loads(raw.json)}
    return record


def encode_raw(raw: Any) -> Any:
    """A raw payload as ``EncodedRaw`` when orjson can encode it (else as it was, for the slow path)."""
    if orjson is None or raw is None or isinstance(raw, EncodedRaw):
        return raw
    try:
        return EncodedRaw(orjson.dumps(raw, default=str))
    except (TypeError, orjson.JSONEncodeError):
        return raw


def raw_json(body: bytes) -> EncodedRaw | None:
    """A packet's JSON body, already parsed, kept as the raw payload itself: the audit line embeds
    these bytes as they came instead of re-encoding the decoded payload. None when they cannot go
    into one line as they are (JSON may hold line breaks between its tokens, or orjson is missing)."""
    if orjson is None or b"\n" in body or b"\r" in body:
        return None
    return EncodedRaw(body)


def dumps(record: dict[str, Any]) -> str:
    """One audit line (without its newline): strict JSON, UTF-8, whatever the payload holds."""
    return dumps_bytes(record).decode("utf-8")


def dumps_bytes(record: dict[str, Any]) -> bytes:
    """``dumps`` as the UTF-8 bytes that go into the file (what the log writes: no text layer)."""
    if orjson is not None:
        try:
            # orjson writes NaN/Infinity as null and refuses only what it cannot represent
            # (lone surrogates, integers beyond 64 bits, non-string keys): those take the slow path
            return orjson.dumps(record, default=_orjson_default)
        except (TypeError, orjson.JSONEncodeError):
            pass
    return _dumps_stdlib(_decoded(record)).encode("utf-8")


OWN_RAW: Any = object()  # AuditLog.write's default: log the event's own raw payload


class AuditLog:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)
        self._files: dict[str, tuple[str, IO[bytes]]] = {}
        self._pending: dict[str, list[bytes]] = {}
        self._flush_scheduled = False
        self.lines_written = 0
        #: lines that could not be read back at start-up (torn, hand-edited, junk), per room
        self.unreadable: dict[str, int] = {}
        #: files whose torn last line was ended with a newline when they were opened
        self.repaired_files = 0
        self._stamp_ms = -1
        self._stamp = ""

    def path_for(self, room: str, day: dt.date) -> Path:
        return self.dir / room / f"{day.isoformat()}.jsonl"

    def write(self, event: Event, raw: Any = OWN_RAW) -> None:
        """Queue the event's line. ``raw``: the platform payload to log with it, when the event in
        hand is a copy that let it go (the memory bus returns its window's copy); else its own."""
        if event.type in NOT_AUDITED or (isinstance(event, AnchorSpeech) and not event.final):
            return  # partial ASR results are revised by the final; the final is what was said
        record = event.to_dict(include_raw=raw is OWN_RAW)
        if raw is not OWN_RAW and raw is not None:
            record["raw"] = raw
        record["logged_at"] = self._logged_at()
        self._queue(event.room, dumps_bytes(record))

    def _logged_at(self) -> str:
        """Local time to the millisecond, as ISO 8601 with its offset; formatted once per millisecond
        (a busy room logs dozens of lines in one, and formatting cost more than encoding a line)."""
        now = time.time()
        ms = int(now * 1000)
        if ms != self._stamp_ms:
            self._stamp_ms = ms
            self._stamp = dt.datetime.fromtimestamp(now).astimezone().isoformat(timespec="milliseconds")
        return self._stamp

    def _queue(self, room: str, line: bytes) -> None:
        pending = self._pending.get(room)
        if pending is None:
            pending = self._pending[room] = []
        pending.append(line)
        if not self._flush_scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()  # no loop (a script, a thread): line by line, as before
                return
            self._flush_scheduled = True
            loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._flush_scheduled = False
        try:
            self.flush()
        except OSError as exc:
            # a full disk must not silence the warnings; the log line tells ops at once
            log.error("audit write failed: %s", exc)

    def flush(self) -> None:
        """Write every queued line to its file and flush it to the operating system."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        failed: OSError | None = None
        for room, lines in pending.items():
            try:
                fh = self._file(room)
                count = len(lines)
                lines.append(b"")  # the batch ends with a newline too
                fh.write(b"\n".join(lines))
                fh.flush()
                self.lines_written += count
            except OSError as exc:
                failed = exc
        if failed is not None:
            raise failed

    def _file(self, room: str) -> IO[bytes]:
        day = dt.date.today().isoformat()
        current = self._files.get(room)
        if current is None or current[0] != day:
            if current is not None:
                current[1].close()
            path = self.path_for(room, dt.date.today())
            path.parent.mkdir(parents=True, exist_ok=True)
            torn = _ends_torn(path)
            fh = open(path, "ab")
            if torn:
                # the line a kill interrupted stays (unreadable, skipped when read); ours starts clean
                fh.write(b"\n")
                self.repaired_files += 1
                log.warning("audit %s: %s ended in a torn line; closed it with a newline", room, path)
            self._files[room] = current = (day, fh)
        return current[1]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            for _day, fh in self._files.values():
                fh.close()
            self._files.clear()

    def recent(self, room: str, limit: int) -> list[Event]:
        """The last ``limit`` events logged for a room (today's and yesterday's files), oldest first.

        Used at start-up to seed the bus so sequence ids continue and overlays replay across a restart.
        Any line that is not a valid event (torn, hand-edited, ``Infinity``, a non-string ``type``,
        binary junk) is skipped and counted in ``unreadable``: a bad line never stops a start.
        """
        today = dt.date.today()
        wanted = limit + 8  # a few spare lines for torn or hand-edited ones
        lines: list[str] = []
        for day in (today, today - dt.timedelta(days=1)):
            path = self.path_for(room, day)
            try:
                if path.exists():
                    lines = _tail_lines(path, wanted - len(lines)) + lines
            except OSError as exc:
                log.warning("audit %s: cannot read %s: %s", room, path, exc)
            if len(lines) >= wanted:
                break
        events: list[Event] = []
        skipped = 0
        first_error = ""
        for line in lines:
            try:
                event = event_from_dict(_STRICT_DECODER.decode(line))
                if type(event.seq) is not int or event.seq < 0 or event.room != room:
                    raise ValueError(f"seq {event.seq!r} / room {event.room!r} do not fit this log")
            except Exception as exc:  # any wrongness of one line skips that line only
                skipped += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"[:200]
                continue
            events.append(event.without_raw())  # replay windows hold what overlays show, not payloads
        if skipped:
            self.unreadable[room] = self.unreadable.get(room, 0) + skipped
            log.warning("audit %s: skipped %d unreadable line(s) at start (first: %s)", room, skipped, first_error)
        return events[-limit:] if limit > 0 else []


def _ends_torn(path: Path) -> bool:
    """True when the file exists, is not empty and its last byte is not a newline."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return False
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"
    except FileNotFoundError:
        return False


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
