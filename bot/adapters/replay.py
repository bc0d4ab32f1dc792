"""The replay platform: plays a recorded show (JSONL) into a room as if it were live.

Each line is an event's JSON form without ``room``/``platform``/``seq``/``ts``, plus ``t``: seconds
from the start of the show. Lines play at real speed (``speed`` > 1 plays faster). Chat lines the
bot sends come back into the room as chat from the bot's account, as a real platform echoes them.
A bad line (of any kind of wrongness) is logged with its line number and skipped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.adapters.base import Adapter
from bot.events import AnchorSpeech, ChatMessage, Event, User, event_from_dict

log = logging.getLogger(__name__)

BOT_USER = User(id="livebot", name="livebot", roles=("bot",))


def load_recording(path: str | Path) -> list[tuple[float, dict[str, Any]]]:
    """Parse a recording; bad lines are logged and skipped. Returns (t, event JSON) in file order."""
    out: list[tuple[float, dict[str, Any]]] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                entry = parse_line(line)
            except Exception as exc:  # any kind of wrongness costs its own line only
                log.warning(
                    "%s:%d: skipping a bad recording line: %s", path, lineno, str(exc)[:200] or type(exc).__name__
                )
                continue
            out.append(entry)
    return out


def parse_line(line: str) -> tuple[float, dict[str, Any]]:
    """One recording line -> (t, event JSON); ValueError (or another error) when it is not one."""
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if "t" not in obj:
        raise ValueError("no t (seconds from the start of the show)")
    t = obj.pop("t")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
        raise ValueError(f"t must be a number of seconds >= 0, not {str(t)[:40]!r}")
    return float(t), obj


class ReplayAdapter(Adapter):
    platform = "replay"
    max_message_length = 40

    def __init__(self, room: str, path: str | Path, *, speed: float = 1.0, loop: bool = False) -> None:
        super().__init__(room)
        self.path = Path(path)
        self.speed = speed
        self.loop = loop
        self.self_user_id = BOT_USER.id
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._player: asyncio.Task[None] | None = None
        self._last_sent: str | None = None
        self.plays = 0
        #: recording entries skipped because they are not events
        self.dropped = 0

    @property
    def can_send(self) -> bool:
        return True

    def _event(self, obj: dict[str, Any], lineno: int) -> Event | None:
        obj = dict(obj, room=self.room, platform=self.platform)
        obj.pop("seq", None)
        obj.pop("ts", None)
        try:
            event = event_from_dict(obj)
        except Exception as exc:  # EventFormatError, or a field of a type the decoder trips on
            self.dropped += 1
            log.warning("%s: skipping recording entry %d: %s", self.path, lineno, str(exc)[:200] or type(exc).__name__)
            return None
        if isinstance(event, AnchorSpeech) and self.plays > 1:
            # each pass is a new show: segment ids must not collide with the last pass
            event = dataclasses.replace(event, segment=f"{self.plays}:{event.segment}")
        return event

    async def _play(self) -> None:
        try:
            recording = await asyncio.to_thread(load_recording, self.path)
        except OSError as exc:
            log.error("room %s: cannot read recording %s: %s", self.room, self.path, exc)
            status = self.status("failed", str(exc))
            if status:
                await self._queue.put(status)
            await self._queue.put(None)
            return
        while True:
            self.plays += 1
            status = self.status("connected", f"replaying {self.path.name}, pass {self.plays}")
            if status:
                await self._queue.put(status)
            start = time.monotonic()
            for lineno, (t, obj) in enumerate(recording, 1):
                delay = start + t / self.speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                event = self._event(obj, lineno)
                if event is not None:
                    await self._queue.put(event)
            if not self.loop:
                break
            self._last_state = None  # announce the next pass
        status = self.status("closed", "recording finished")
        if status:
            await self._queue.put(status)
        await self._queue.put(None)

    async def events(self) -> AsyncIterator[Event]:  # type: ignore[override]
        if self._player is None:
            self._player = asyncio.create_task(self._play())
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def send(self, text: str, *, reply_to: User | None = None) -> None:
        text = text[: self.max_message_length]
        self._last_sent = text
        await self._queue.put(ChatMessage(room=self.room, platform=self.platform, user=BOT_USER, text=text))

    async def close(self) -> None:
        if self._player is not None:
            self._player.cancel()
        await self._queue.put(None)
