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


class LoopBudget:
    def __init__(self, per_round: float = 0.004) -> None:
        self.per_round = per_round
        self._round_ends = 0.0  # 0: no viewer work yet in this round
        self._loop: asyncio.AbstractEventLoop | None = None
        #: rounds whose budget ran out (how often viewer work was made to wait)
        self.exhausted = 0

    def _next_round(self) -> None:
        self._round_ends = 0.0

    async def turn(self, interrupt: Callable[[], bool] | None = None) -> None:
        """Return when this round has budget left, or as soon as ``interrupt()`` is true (the
        anchor's lane got work: it must not wait while its room waits for viewer budget)."""
        loop = asyncio.get_running_loop()
        while True:
            if interrupt is not None and interrupt():
                return
            now = time.perf_counter()
            if self._round_ends == 0.0 or self._loop is not loop:
                # the first viewer work of this round (or of a new loop, as in tests): its budget
                # starts now, and the callback that runs first in the next round renews it
                self._loop = loop
                self._round_ends = now + self.per_round
                loop.call_soon(self._next_round)
                return
            if now < self._round_ends:
                return
            self.exhausted += 1
            await asyncio.sleep(0)  # the next round; its budget is fresh


#: the process's budgets (one event loop per process in livebot): the viewers' lanes of all rooms,
#: and FAQ matching (about a millisecond a question, the first work shed when its queues fill)
VIEWER_BUDGET = LoopBudget(0.008)
FAQ_BUDGET = LoopBudget(0.002)
#: the adapters' receive loops of all rooms (decoding; audit-only writes of a full viewers' lane):
#: what they cannot take in a round waits in the socket, where the kernel buffers it
RECEIVE_BUDGET = LoopBudget(0.010)
