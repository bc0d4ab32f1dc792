"""Stopping background tasks for certain.

``task.cancel()`` followed by ``await task`` is not enough on Python 3.11: ``asyncio.wait_for``
loses a cancellation that arrives just as the operation it waits for completes (fixed in 3.12,
CPython gh-86296), and redis-py wraps every socket write in ``wait_for``. Measured here: of 300
tasks cancelled while pinging Redis in a loop, about half ran on. A loop that swallowed its
cancellation keeps running, and whoever awaits it (a worker shutting down) waits forever.
So: cancel, wait a moment, and cancel again until the task has ended.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None, recancel_every: float = 0.5) -> None:
    """Cancel the tasks and return once every one has ended (cancelled, finished or failed).

    A failure of a task is logged, not raised: the caller is stopping it. A cancellation of the
    caller itself is not swallowed (unlike ``with suppress(CancelledError): await task``)."""
    pending = {t for t in tasks if t is not None}
    attempts = 0
    while True:
        pending = {t for t in pending if not t.done()}
        if not pending:
            break
        for task in pending:
            task.cancel()
        attempts += 1
        if attempts == 3:
            log.debug("%d task(s) ignored two cancellations; cancelling again", len(pending))
        await asyncio.wait(pending, timeout=recancel_every)
    for task in tasks:
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.warning("background task %r had failed: %r", task, task.exception())
