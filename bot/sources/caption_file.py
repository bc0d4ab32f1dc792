"""A speech source that tails a caption text file as OBS LocalVocal writes it.

LocalVocal (whisper.cpp inside OBS) can append each recognised sentence to a ``.txt`` file, or
rewrite the file with only the latest sentence ("truncate" mode). This source polls the file and
yields one ``AnchorSpeech`` per complete line (``final=True``), with a ``final=False`` revision of
the same segment while a line is still being written. It copes with:

- the file not existing yet, or disappearing (waits, logs once);
- appends (reads only the new bytes; a UTF-8 character split across two writes is kept whole);
- truncation and rewrites: the size shrinks, or stays equal with a new mtime, or the bytes just
  before our read position changed; then it reads from the start again;
- rotation: a new inode at the path; the rest of a partial last line of the old file is final;
- a partial last line that never gets its newline: it becomes final after ``idle_final_seconds``;
- a writer that never writes a newline at all: lines longer than ``max_line_bytes`` are cut.

It starts at the end of an existing file (``from_start=False``): old captions are not replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bot.events import AnchorSpeech

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
FINGERPRINT = 64


class CaptionFileSource:
    source = "caption_file"

    def __init__(
        self,
        room: str,
        path: str | os.PathLike[str],
        *,
        platform: str = "caption",
        poll_interval: float = 0.2,
        idle_final_seconds: float = 2.0,
        max_line_bytes: int = 4096,
        from_start: bool = False,
    ) -> None:
        self.room = room
        self.path = Path(path)
        self.platform = platform
        self.poll_interval = poll_interval
        self.idle_final_seconds = idle_final_seconds
        self.max_line_bytes = max_line_bytes
        self.from_start = from_start
        self._closed = False
        self._wake: asyncio.Event | None = None
        # segment ids: unique per source run, so a restart never revises an old segment
        self._run_id = secrets.token_hex(3)
        self._n = 0
        self._inode: int | None = None
        self._offset = 0
        self._mtime_ns = 0
        self._tail = b""  # the last bytes consumed, to notice a rewrite that did not shrink the file
        self._pending = b""  # an incomplete last line
        self._pending_since = 0.0
        self._pending_sent = b""
        self._missing_logged = False
        self._polled = False

    def _segment(self) -> str:
        return f"{self.path.name}:{self._run_id}:{self._n}"

    def _speech(self, text: str, final: bool) -> AnchorSpeech:
        return AnchorSpeech(
            room=self.room, platform=self.platform, text=text, segment=self._segment(), final=final, source=self.source
        )

    async def events(self) -> AsyncIterator[AnchorSpeech]:
        self._wake = asyncio.Event()
        while not self._closed:
            for ev in self._poll():
                yield ev
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        for ev in self._flush():
            yield ev

    async def close(self) -> None:
        self._closed = True
        if self._wake is not None:
            self._wake.set()

    # --- one poll ----------------------------------------------------------------------------------

    def _poll(self) -> list[AnchorSpeech]:
        out: list[AnchorSpeech] = []
        try:
            st = self.path.stat()
        except OSError:
            # a file that appears later is all new: it is read from its start
            self._polled = True
            self._inode = None
            if not self._missing_logged:
                self._missing_logged = True
                log.warning("room %s: caption file %s does not exist (yet); waiting for it", self.room, self.path)
            return self._idle(out)
        if self._missing_logged:
            self._missing_logged = False
            log.info("room %s: caption file %s found", self.room, self.path)
        if not self._polled:
            # the first look: an existing file's old captions are history, not speech
            self._polled = True
            self._inode = st.st_ino
            self._offset = 0 if self.from_start else st.st_size
            self._mtime_ns = st.st_mtime_ns
            self._tail = self._read_tail(self._offset)
            return out
        if self._inode is None or st.st_ino != self._inode:
            log.info("room %s: caption file %s is new or was replaced; reading it from its start", self.room, self.path)
            out += self._flush()
            self._offset, self._tail = 0, b""
        self._inode = st.st_ino
        rewritten = st.st_size < self._offset or (
            st.st_size == self._offset and st.st_mtime_ns != self._mtime_ns and self._offset > 0
        )
        if not rewritten and self._offset and st.st_size > self._offset:
            rewritten = self._read_tail(self._offset) != self._tail
        if rewritten:
            out += self._flush()
            self._offset, self._tail = 0, b""
        self._mtime_ns = st.st_mtime_ns
        if st.st_size > self._offset:
            out += self._read_new(st.st_size)
        return self._idle(out)

    def _read_tail(self, end: int) -> bytes:
        start = max(0, end - FINGERPRINT)
        try:
            with open(self.path, "rb") as fh:
                fh.seek(start)
                return fh.read(end - start)
        except OSError:
            return b""

    def _read_new(self, size: int) -> list[AnchorSpeech]:
        out: list[AnchorSpeech] = []
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                # bounded per poll, so a huge file cannot stall the event loop; the rest comes next poll
                data = fh.read(min(size - self._offset, READ_CHUNK))
        except OSError as exc:
            log.warning("room %s: cannot read caption file %s: %s", self.room, self.path, exc)
            return out
        if not data:
            return out
        self._offset += len(data)
        self._tail = (self._tail + data)[-FINGERPRINT:]
        buf = self._pending + data
        *lines, rest = buf.split(b"\n")
        for raw in lines:
            out += self._final(raw)
        while len(rest) > self.max_line_bytes:
            cut = _utf8_cut(rest, self.max_line_bytes)
            out += self._final(rest[:cut])
            rest = rest[cut:]
        if rest != self._pending:
            self._pending_since = time.monotonic()
        self._pending = rest
        text = _decode(rest, partial=True)
        if text and rest != self._pending_sent:
            self._pending_sent = rest
            out.append(self._speech(text, final=False))
        return out

    def _final(self, raw: bytes) -> list[AnchorSpeech]:
        self._pending = self._pending_sent = b""
        text = _decode(raw)
        if not text:
            return []
        ev = self._speech(text, final=True)
        self._n += 1
        return [ev]

    def _idle(self, out: list[AnchorSpeech]) -> list[AnchorSpeech]:
        if self._pending and time.monotonic() - self._pending_since >= self.idle_final_seconds:
            out += self._flush()
        return out

    def _flush(self) -> list[AnchorSpeech]:
        """A pending partial line becomes final (its file moved on, went quiet, or we are closing)."""
        return self._final(self._pending) if self._pending else []


def _decode(raw: bytes, *, partial: bool = False) -> str:
    # a partial line may end inside a UTF-8 character: drop that incomplete tail, keep the rest
    text = raw.decode("utf-8", errors="ignore" if partial else "replace")
    return text.replace("\r", "").replace("\x00", "").strip()


def _utf8_cut(data: bytes, limit: int) -> int:
    """A cut position <= limit that does not split a UTF-8 character."""
    cut = limit
    while cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut or limit
