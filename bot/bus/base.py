"""The Bus contract: per-room publish / subscribe with sequence ids and a bounded replay window.

``publish`` assigns the room's next sequence id (1, 2, 3, ...) and never blocks the producer.
``subscribe(room, after_seq)`` first replays the events after ``after_seq`` that are still in the
window, then delivers live events in order. A subscriber that falls too far behind is dropped
(its iterator ends with ``dropped`` set); it reconnects with its last seq and replays the gap.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator

from bot.events import Event


class Subscription(abc.ABC):
    """An ordered stream of one room's events."""

    #: set when the bus dropped this subscriber for being too slow
    dropped: bool = False
    #: set when the replay could not go back as far as asked (events fell out of the window)
    gap: bool = False

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[Event]: ...

    @abc.abstractmethod
    async def close(self) -> None: ...


class Bus(abc.ABC):
    @abc.abstractmethod
    async def publish(self, event: Event) -> Event:
        """Append to the event's room; returns the event with its sequence id."""

    @abc.abstractmethod
    def subscribe(self, room: str, after_seq: int | None = None) -> Subscription:
        """Events of ``room`` with seq > ``after_seq`` (None: only what is published from now on)."""

    @abc.abstractmethod
    def last_seq(self, room: str) -> int:
        """The newest sequence id known for the room (0 when none)."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect, when the bus has anything to connect to."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and end every subscription."""

    def health(self) -> dict[str, object]:
        return {"ok": True}
