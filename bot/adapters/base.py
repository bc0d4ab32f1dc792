"""The Adapter contract: one platform's protocol for one room.

An adapter connects to a room, yields Events, sends chat lines and closes. It owns heartbeats,
decompression, reconnects and re-authentication, and knows nothing of rules, FAQs or overlays.

``events()`` runs until ``close()``: it reconnects by itself (``Backoff``) and yields a
``RoomStatus`` event at every change of connection state, so the pipeline and the console see
the same story the log tells.
"""

from __future__ import annotations

import abc
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.events import Event, RoomStatus, User

log = logging.getLogger(__name__)


class SendError(Exception):
    """The platform refused a chat line. ``retry_after`` (seconds) is set when it asked us to slow down."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ProtocolError(Exception):
    """A frame or response that breaks the platform's protocol; the connection is dropped and redialled."""


@dataclass
class Backoff:
    """Exponential backoff with full jitter and a cap, reset after a healthy period.

    ``delay()`` returns a random wait in ``[0, min(cap, base * 2**failures)]`` (AWS's "full jitter"),
    which spreads many rooms reconnecting after one outage.
    """

    base: float = 1.0
    cap: float = 30.0
    healthy_after: float = 60.0
    failures: int = 0
    _connected_at: float | None = None
    rng: random.Random | None = None

    def connected(self) -> None:
        self._connected_at = time.monotonic()

    def disconnected(self) -> None:
        # A connection that stayed up for a healthy period starts the count afresh.
        if self._connected_at is not None and time.monotonic() - self._connected_at >= self.healthy_after:
            self.failures = 0
        self._connected_at = None

    def reset(self) -> None:
        self.failures = 0

    def delay(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.failures))
        self.failures += 1
        return (self.rng or random).uniform(0, ceiling)


class Adapter(abc.ABC):
    """One room on one platform."""

    platform: str = ""
    #: longest chat line the platform accepts from this account, in code points
    max_message_length: int = 20

    def __init__(self, room: str) -> None:
        self.room = room
        self._last_state: str | None = None
        #: the bot's own account, once known (never answered, never checked as anchor text)
        self.self_user_id: str | None = None

    @abc.abstractmethod
    def events(self) -> AsyncIterator[Event]:
        """Yield the room's events until ``close()``, reconnecting as needed."""

    @abc.abstractmethod
    async def send(self, text: str, *, reply_to: User | None = None) -> None:
        """Send one chat line; raise SendError when the platform refuses it."""

    @property
    def can_send(self) -> bool:
        """Whether this adapter has what it needs to send (a login, a token)."""
        return False

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop ``events()`` and release the connection."""

    def status(self, state: str, detail: str = "") -> RoomStatus | None:
        """A RoomStatus event for a new state, logged once; None when the state did not change."""
        if state == self._last_state:
            return None
        self._last_state = state
        log.info("room %s (%s): %s%s", self.room, self.platform, state, f" ({detail})" if detail else "")
        return RoomStatus(room=self.room, platform=self.platform, state=state, detail=detail)
