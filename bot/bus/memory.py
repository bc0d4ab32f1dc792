"""The embedded in-memory bus: one streamer's PC needs nothing else."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator

from bot.bus.base import CLOSED, Bus, QueuedSubscription
from bot.events import Event, is_bulk

log = logging.getLogger(__name__)


class MemorySubscription(QueuedSubscription):
    def __init__(
        self, bus: MemoryBus, room: str, backlog: list[Event], queue_size: int, *, skip_bulk: bool = False
    ) -> None:
        self._bus = bus
        self.room = room
        self.skip_bulk = skip_bulk
        self._backlog = [e for e in backlog if not is_bulk(e)] if skip_bulk else backlog
        self._init_queue(queue_size)

    async def _iterate(self) -> AsyncIterator[Event]:
        for event in self._backlog:
            yield event
        self._backlog = []
        while True:
            item = await self._next()
            if item is CLOSED:
                return
            assert isinstance(item, Event)
            yield item

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def close(self) -> None:
        self._bus._unsubscribe(self)
        if not self.closed:
            self._end()


class _Window:
    """A room's replay window: its last ``viewer_size`` events of any kind, plus its last ``size``
    events that are not bulk viewer traffic (warnings, FAQ replies, speech, status), so a chat flood
    cannot evict those. What fell out is remembered by its newest seq, so a subscriber learns
    exactly whether anything it would have been given is gone (``lost_after``)."""

    def __init__(self, size: int, viewer_size: int | None = None) -> None:
        self.all: deque[Event] = deque(maxlen=max(1, min(size, viewer_size or size)))
        self.kept: deque[Event] = deque(maxlen=size)
        self._bulk_lost = 0  # newest seq of a bulk event that fell out of ``all``
        self._kept_lost = 0  # newest seq of another event that fell out of ``kept`` (and so of both)
        self._first: int | None = None  # the first seq this window was given (a restore starts late)

    def append(self, event: Event) -> None:
        if self._first is None:
            self._first = event.seq
        everything = self.all
        if len(everything) == everything.maxlen and is_bulk(everything[0]):
            self._bulk_lost = everything[0].seq
        everything.append(event)
        if not is_bulk(event):
            kept = self.kept
            if len(kept) == kept.maxlen:
                # ``kept`` spans at least as many events as ``all``: what leaves it has left both
                self._kept_lost = kept[0].seq
            kept.append(event)

    def oldest(self) -> int | None:
        return self.all[0].seq if self.all else None

    def lost_after(self, seq: int, *, skip_bulk: bool = False) -> bool:
        """Whether an event above ``seq`` fell out (only those a ``skip_bulk`` subscriber would get)."""
        if self._first is not None and seq + 1 < self._first:
            return True  # what came before a restored window is not here at all
        lost = self._kept_lost if skip_bulk else max(self._kept_lost, self._bulk_lost)
        return seq < lost

    def after(self, seq: int) -> list[Event]:
        """Every event kept with a seq above ``seq``, oldest first, each once: the kept events the
        whole window has already lost, then the whole window."""
        oldest = self.oldest()
        if oldest is None:
            return []
        return [e for e in self.kept if seq < e.seq < oldest] + [e for e in self.all if e.seq > seq]


class MemoryBus(Bus):
    publish_never_waits = True  # a window append and queue offers: nothing to wait for

    def __init__(self, replay: int = 2000, subscriber_queue: int = 1000, *, viewer_replay: int | None = None) -> None:
        self._replay = replay
        self._viewer_replay = viewer_replay  # None: as many as ``replay``
        self._queue_size = subscriber_queue
        self._history: dict[str, _Window] = {}
        self._seq: dict[str, int] = {}
        self._subs: dict[str, set[MemorySubscription]] = {}

    async def publish(self, event: Event) -> Event:
        return self.publish_now(event)

    def publish_now(self, event: Event) -> Event:
        """``publish`` without a coroutine: a window append and queue offers never wait (the
        room's consumer calls this for viewer chat, tens of thousands of times a second)."""
        seq = self._seq.get(event.room, 0) + 1
        self._seq[event.room] = seq
        # the window and the subscribers get the event without its raw payload: overlays never see
        # it, and 2,000 payloads per room were most of the heap (and of every full GC's work).
        # That one copy is also what is returned: the publisher still holds the raw payload it
        # passed in and audits with it (``AuditLog.write(..., raw=...)``), so no second copy.
        shown = event.copied(seq, None)
        history = self._history.get(event.room)
        if history is None:
            history = self._history[event.room] = _Window(self._replay, self._viewer_replay)
        history.append(shown)
        subs = self._subs.get(event.room)
        bulk = is_bulk(shown)
        for sub in list(subs) if subs else ():
            if bulk and sub.skip_bulk:
                continue  # nothing of a chat flood wakes a reader of warnings and replies
            if not sub._offer(shown):
                log.warning(
                    "room %s: dropping a slow subscriber (%d events undelivered); it will replay on reconnect",
                    event.room,
                    sub._limit,
                )
                self._unsubscribe(sub)
                sub.dropped = True
                sub._end()
        return shown

    def subscribe(self, room: str, after_seq: int | None = None, *, skip_bulk: bool = False) -> MemorySubscription:
        history = self._history.get(room)
        backlog: list[Event] = []
        gap = False
        if after_seq is not None and after_seq > self._seq.get(room, 0):
            # The client remembers a seq this bus never reached: it was fed by an earlier process
            # whose window is gone. Give it everything we have rather than nothing.
            after_seq, gap = 0, True
        if after_seq is not None and history is not None:
            backlog = history.after(after_seq)
            # the client asked for events that fell out of the window (of those it would be given)
            gap = gap or history.lost_after(after_seq, skip_bulk=skip_bulk)
        sub = MemorySubscription(self, room, backlog, self._queue_size, skip_bulk=skip_bulk)
        sub.gap = gap
        self._subs.setdefault(room, set()).add(sub)
        return sub

    def _unsubscribe(self, sub: MemorySubscription) -> None:
        subs = self._subs.get(sub.room)
        if subs is not None:
            subs.discard(sub)

    def restore(self, room: str, events: list[Event]) -> None:
        """Seed a room's window with events of an earlier run (from the audit log), so sequence ids
        continue where they stopped and overlays that were open across a restart replay what they missed."""
        history = self._history.setdefault(room, _Window(self._replay, self._viewer_replay))
        for event in sorted(events, key=lambda e: e.seq):
            if event.seq > self._seq.get(room, 0):
                history.append(event)
                self._seq[room] = event.seq

    def last_seq(self, room: str) -> int:
        return self._seq.get(room, 0)

    async def close(self) -> None:
        for subs in self._subs.values():
            for sub in list(subs):
                sub._end()
            subs.clear()
