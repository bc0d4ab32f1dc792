"""How much FAQ matching a room can use, so a flood of viewer chat costs the FAQ only that.

A room's answers are rate-limited by its reply policy (``bot.faq.responder``): one chat line per
``room_window`` seconds at most (``room_rate``), a cooldown per FAQ and per viewer, one answer card
on the overlay at a time. Matching every line of a busy room (200 a second in the load bench, a
millisecond of words each and tens of milliseconds when the sentence encoder is asked) finds
answers that could never be sent. So each room gets an allowance of matches:

- ``MatchAllowance``: a token bucket per room, refilled at ``MATCHES_PER_SLOT`` matches per send
  slot of the room (``room_rate / room_window``, and at least ``MIN_PER_SECOND``), holding at most
  ``BURST``. A quiet room (a line every second or two) has every line matched as before; a flooded
  room has a steady sample matched, enough to fill every send slot it has and to keep the ops
  page's list of unanswered questions (``/admin/api/rooms/{room}/unanswered``) fed. What is not
  matched is counted as shed FAQ work (``shed.faq``, the first step of the declared order) and,
  like every message, is in the audit log. Lines whose verdict is memoized (viewers repeat each
  other) cost nothing and are always matched.
- ``bot.loop_budget.CpuShare`` (with ``bot.faq.store.ENCODER_SHARE``): the sentence encoder's
  second opinions of the whole process take at most a share of one core; past it, a new question
  is matched on words alone (counted in ``semantic_skipped``), as when the encoder is busy with another question.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: matches a room may start per chat line it may send (the rest of a flood is shed and counted)
MATCHES_PER_SLOT = 2.0
#: ... and at least this many a second (a room that cannot send still shows cards and asks ops)
MIN_PER_SECOND = 0.25
#: matches a room may start at once after a quiet spell (a frame of chat can bring dozens of lines at
#: once; as many as the FAQ answerer's queue holds, ``bot.room.FAQ_QUEUE``)
BURST = 32.0


class MatchAllowance:
    """Matches one room may still start: ``per_second`` come in, at most ``burst`` are kept."""

    __slots__ = ("_at", "_tokens", "burst", "clock", "per_second", "refused", "taken")

    def __init__(self, per_second: float, burst: float = BURST, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = max(0.0, per_second)
        self.burst = max(1.0, burst)
        self.clock = clock
        self._tokens = self.burst
        self._at = clock()
        #: matches started / refused so far
        self.taken = 0
        self.refused = 0

    @classmethod
    def for_reply(
        cls, room_rate: int, room_window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> MatchAllowance:
        """The allowance of a room whose reply policy sends ``room_rate`` lines per ``room_window``."""
        slots = room_rate / room_window if room_rate > 0 and room_window > 0 else 0.0
        return cls(max(MIN_PER_SECOND, MATCHES_PER_SLOT * slots), BURST, clock=clock)

    def take(self) -> bool:
        """Spend one match if the room has one left (True), else count a refusal (False)."""
        now = self.clock()
        tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            self.taken += 1
            return True
        self._tokens = tokens
        self.refused += 1
        return False
