"""The Bus contract: per-room publish / subscribe with sequence ids and a bounded replay window.

``publish`` assigns the room's next sequence id (1, 2, 3, ...) and never blocks the producer.
``subscribe(room, after_seq)`` first replays the events after ``after_seq`` that are still in the
window, then delivers live events in order. A subscriber that falls too far behind is dropped
(its iterator ends with ``dropped`` set); it reconnects with its last seq and replays the gap.
"""

from __future__ import annotations

import abc
import asyncio
from collections import deque
from collections.abc import AsyncIterator

from bot.events import Event


class Subscription(abc.ABC):
    """An ordered stream of one room's events."""

    #: set when the bus dropped this subscriber for being too slow
    dropped: bool = False
    #: set when the replay could not go back as far as asked (events fell out of the window)
    gap: bool = False
    #: set when the subscriber asked for no bulk viewer traffic (``Bus.subscribe(skip_bulk=True)``)
    skip_bulk: bool = False

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[Event]: ...

    @abc.abstractmethod
    async def close(self) -> None: ...


#: put in a subscriber's queue to end its iteration
CLOSED = object()


class QueuedSubscription(Subscription):
    """A subscription fed by its bus through a bounded queue that never blocks the publisher.

    The bus ``_offer``s each event; a False answer means the subscriber is too far behind and is
    to be dropped. ``_end`` puts a marker in the queue so the iterator stops after what it holds.
    """

    def _init_queue(self, limit: int) -> None:
        # an unbounded deque with our own bound: offering never waits and never raises mid-fan-out
        self._queue: deque[Event | object] = deque()
        self._limit = limit
        self._wakeup = asyncio.Event()
        self.closed = False

    def _offer(self, event: Event) -> bool:
        if len(self._queue) >= self._limit:
            return False
        self._queue.append(event)
        self._wakeup.set()
        return True

    def _end(self, marker: object = CLOSED) -> None:
        self.closed = True
        self._queue.append(marker)
        self._wakeup.set()

    async def _next(self) -> Event | object:
        """The next queued event or end marker, waiting for one."""
        while not self._queue:
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popleft()


class Bus(abc.ABC):
    #: True when ``publish`` never suspends (it completes in the caller's step): a room may then
    #: handle an anchor segment inside its ingest request, where no cancellation can cut it short
    publish_never_waits = False

    @abc.abstractmethod
    async def publish(self, event: Event) -> Event:
        """Append to the event's room; returns the event with its sequence id (a bus may return
        it without its raw payload: whoever audits it uses the raw it passed in)."""

    @abc.abstractmethod
    def subscribe(self, room: str, after_seq: int | None = None, *, skip_bulk: bool = False) -> Subscription:
        """Events of ``room`` with seq > ``after_seq`` (None: only what is published from now on).
        ``skip_bulk``: none of the bulk viewer traffic (``bot.events.BULK_TYPES``: chat, gifts,
        entries, likes, viewer counts), in the replay or live, for a reader that wants only the rest
        (warnings, FAQ replies, speech, status) and should not be woken for every chat line."""

    @abc.abstractmethod
    def last_seq(self, room: str) -> int:
        """The newest sequence id known for the room (0 when none)."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect, when the bus has anything to connect to."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and end every subscription."""

    def health(self) -> dict[str, object]:
        return {"ok": True}
