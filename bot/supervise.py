"""Keeps a room's adapter running: a task that dies is restarted with backoff and reported.

Adapters reconnect by themselves and catch what one frame can throw at its boundary, so an
exception out of ``events()`` is a bug, not the platform's doing. It must still not cost the room
its data for the rest of the show: the supervisor logs it (with the traceback the first time per
kind), tells the room (a ``reconnecting`` RoomStatus naming the crash, so the console and the
audit log show it), waits a backoff and runs ``events()`` again. ``/healthz`` shows the count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.adapters.base import Adapter, Backoff, LogOnce, describe
from bot.events import Event, RoomStatus

log = logging.getLogger(__name__)

#: a run that lasted this long before it crashed starts the backoff afresh
HEALTHY_SECONDS = 60.0


class AdapterSupervisor:
    def __init__(
        self,
        adapter: Adapter,
        submit: Callable[[Event], None],
        *,
        backoff: Backoff | None = None,
        after_event: Callable[[], Awaitable[None]] | None = None,
        skip_after_event: Callable[[], bool] | None = None,
    ) -> None:
        self.adapter = adapter
        self.submit = submit
        #: awaited after each event handed on (the receive budget of the loop round), if set
        self.after_event = after_event
        #: when true, ``after_event`` would return at once: not awaited (a coroutine less per event)
        self.skip_after_event = skip_after_event
        self.backoff = backoff or Backoff(base=1.0, cap=30.0, healthy_after=HEALTHY_SECONDS)
        #: times the adapter's task died and was started again
        self.restarts = 0
        #: the last crash (``Type: message``), for /healthz
        self.last_crash = ""
        self._traced = LogOnce(100)

    async def run(self) -> None:
        """Pump the adapter's events into the room until it ends by itself (``close()``, or a
        recording played to its end); restart it after any exception."""
        room, platform = self.adapter.room, self.adapter.platform
        while True:
            self.backoff.connected()
            try:
                after, skip = self.after_event, self.skip_after_event
                async for event in self.adapter.events():
                    self.submit(event)
                    if after is not None and (skip is None or not skip()):
                        await after()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.restarts += 1
                self.last_crash = describe(exc)[:300]
                self.backoff.disconnected()
                delay = self.backoff.delay()
                if self._traced.first(type(exc).__name__):
                    log.exception("room %s: the %s adapter crashed; restarting it in %.1f s", room, platform, delay)
                else:
                    log.error("room %s: the %s adapter crashed again (%s); restarting it in %.1f s",
                              room, platform, self.last_crash, delay)  # fmt: skip
                self.submit(
                    RoomStatus(
                        room=room,
                        platform=platform,
                        state="reconnecting",
                        detail=f"adapter crashed ({self.last_crash}); restart {self.restarts} in {delay:.1f} s",
                    )
                )
            await asyncio.sleep(delay)
            self.adapter.forget_status()  # so its next "connected" is told, after ours

    def status(self) -> dict[str, Any]:
        return {
            "adapter_restarts": self.restarts,
            "adapter_crash": self.last_crash,
            # frames, lines or commands the adapter dropped as malformed (each logged once per kind)
            "adapter_dropped": getattr(self.adapter, "dropped", 0),
        }
