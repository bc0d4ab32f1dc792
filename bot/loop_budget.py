"""A budget of viewer work per event-loop round, shared by every room of the process.

asyncio runs, in each round, every callback that was ready when the round began. A task whose
socket or queue already holds work never suspends on its own, so twenty busy rooms can make one
round last hundreds of milliseconds, and every step of a speech segment's way (the HTTP request,
the rule check, the reply, the overlay frame) waits a round. With this budget the viewers' work of
all rooms together takes at most ``per_round`` seconds of a round (plus the one item that crossed
the line); the rest waits for the next round, which the anchor's work, HTTP requests and overlays
reach first. Anchor work never asks for budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class CpuShare:
    """At most ``share`` of one core over each ``window`` seconds, as told by ``meter`` (a running
    total of CPU seconds of the work it bounds; None: nothing is counted, so no bound).
    ``available()`` never waits: it says whether the window has CPU left; ``remaining()`` is how long
    until the next window opens."""

    __slots__ = ("_ends", "_start", "clock", "meter", "share", "window")

    def __init__(
        self,
        meter: Callable[[], float] | None,
        share: float,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.meter, self.share, self.window, self.clock = meter, share, window, clock
        self._ends = 0.0
        self._start = 0.0

    def available(self) -> bool:
        meter = self.meter
        if meter is None:
            return True
        now = self.clock()
        if now >= self._ends:
            self._ends = now + self.window
            self._start = meter()
            return True
        return meter() - self._start < self.share * self.window

    def remaining(self) -> float:
        return max(0.0, self._ends - self.clock())


class LoopBudget:
    """``per_round`` seconds of a loop round; optionally also at most ``share`` of one core per
    ``window`` seconds, as told by ``meter`` (a running total of CPU seconds of the budgeted work)."""

    def __init__(self, per_round: float = 0.004, *, share: float | None = None, window: float = 1.0) -> None:
        self.per_round = per_round
        self.share = share
        self.window = window
        # no share: a bound that is never reached
        self._share = CpuShare(None, share if share is not None else float("inf"), window)
        self._round_ends = 0.0  # 0: no viewer work yet in this round
        self._loop: asyncio.AbstractEventLoop | None = None
        #: rounds whose budget ran out (how often viewer work was made to wait)
        self.exhausted = 0
        #: windows whose share ran out (the work waited for the next window)
        self.share_exhausted = 0

    @property
    def meter(self) -> Callable[[], float] | None:
        """Running total of the CPU seconds the budgeted work used (set by whoever does that work)."""
        return self._share.meter

    @meter.setter
    def meter(self, meter: Callable[[], float] | None) -> None:
        self._share.meter = meter

    def _next_round(self) -> None:
        self._round_ends = 0.0

    async def _within_share(self) -> None:
        """Wait for the next window while this one's share of CPU time is spent."""
        share = self._share
        while not share.available():
            self.share_exhausted += 1
            await asyncio.sleep(share.remaining())

    def ready(self, interrupt: Callable[[], bool] | None = None) -> bool:
        """Whether work may go on now without waiting (``turn`` would return at once): the hot
        loops ask this first and only await ``turn`` when it says no, which saves a coroutine per
        event. Starts the round's budget like ``turn`` does."""
        if self._share.meter is not None and not self._share.available():
            return False
        if interrupt is not None and interrupt():
            return True
        return self._round_left()

    def _round_left(self) -> bool:
        loop = asyncio.get_running_loop()
        now = time.perf_counter()
        if self._round_ends == 0.0 or self._loop is not loop:
            # the first viewer work of this round (or of a new loop, as in tests): its budget
            # starts now, and the callback that runs first in the next round renews it
            self._loop = loop
            self._round_ends = now + self.per_round
            loop.call_soon(self._next_round)
            return True
        return now < self._round_ends

    async def turn(self, interrupt: Callable[[], bool] | None = None) -> None:
        """Return when this round has budget left, or as soon as ``interrupt()`` is true (the
        anchor's lane got work: it must not wait while its room waits for viewer budget)."""
        while True:
            if self._share.meter is not None:
                await self._within_share()
            if interrupt is not None and interrupt():
                return
            if self._round_left():
                return
            self.exhausted += 1
            await asyncio.sleep(0)  # the next round; its budget is fresh


#: the process's budgets (one event loop per process in livebot): the viewers' lanes of all rooms,
#: and FAQ matching (about a millisecond a question, the first work shed when its queues fill):
#: 2 ms of each round, and at most 15 % of one core over each second (the sentence encoder's
#: second opinions included), measured in CPU time of the matching itself (``bot.room``
#: sets the meter). A flood of viewer chat then costs the FAQ its answers, not the process its core.
VIEWER_BUDGET = LoopBudget(0.008)
FAQ_BUDGET = LoopBudget(0.002, share=0.15)
#: the adapters' receive loops of all rooms (decoding; audit-only writes of a full viewers' lane):
#: what they cannot take in a round waits in the socket, where the kernel buffers it
RECEIVE_BUDGET = LoopBudget(0.010)


class LoopLag:
    """How late the event loop runs a callback due every ``every`` seconds: the wait any ready
    work (a speech segment, a warning frame) had on top of its own cost. Counts per bucket and the
    longest, for ``/healthz`` and the load bench. Twenty timer callbacks a second: nothing to measure."""

    BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000)

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.ticks = 0
        self.longest = 0.0
        self.over = [0] * len(self.BUCKETS_MS)
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.stop()
        self._loop = asyncio.get_running_loop()
        self._due = self._loop.time() + self.every
        self._handle = self._loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def reset(self) -> None:
        self.ticks, self.longest, self.over = 0, 0.0, [0] * len(self.BUCKETS_MS)

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        lag = max(0.0, now - self._due)
        self.ticks += 1
        if lag > self.longest:
            self.longest = lag
        ms = lag * 1000
        for i, bound in enumerate(self.BUCKETS_MS):
            if ms > bound:
                self.over[i] += 1
            else:
                break
        self._due = now + self.every
        self._handle = self._loop.call_at(self._due, self._tick)

    def status(self) -> dict[str, object]:
        return {
            "every_ms": round(self.every * 1000),
            "ticks": self.ticks,
            "longest_ms": round(self.longest * 1000, 1),
            "over_ms": {str(b): n for b, n in zip(self.BUCKETS_MS, self.over, strict=True)},
        }
