"""Run an adapter's ``events()`` in the background and wait for what it yields."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from bot.events import Event, RoomStatus

E = TypeVar("E", bound=Event)


class Collector:
    def __init__(self, source: Any) -> None:
        self.source = source
        self.events: list[Event] = []
        self._changed = asyncio.Condition()
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for ev in self.source.events():
                async with self._changed:
                    self.events.append(ev)
                    self._changed.notify_all()
        except Exception as exc:  # a test asserts this stays None: events() must never die
            self.error = exc
            raise

    def of(self, cls: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, cls)]

    @property
    def states(self) -> list[str]:
        return [e.state for e in self.of(RoomStatus)]

    async def wait(self, pred: Callable[[list[Event]], bool], within: float = 10.0) -> None:
        async def check() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: pred(self.events))

        await asyncio.wait_for(check(), within)

    async def wait_count(self, cls: type[Event], n: int, within: float = 10.0) -> list[Any]:
        await self.wait(lambda evs: sum(isinstance(e, cls) for e in evs) >= n, within)
        return self.of(cls)

    async def wait_state(self, state: str, n: int = 1, within: float = 10.0) -> None:
        await self.wait(lambda evs: sum(isinstance(e, RoomStatus) and e.state == state for e in evs) >= n, within)

    async def close(self) -> None:
        await self.source.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 5.0)


async def until(pred: Callable[[], bool], within: float = 10.0, step: float = 0.01) -> None:
    """Poll a condition that has no event to wait on (a socket closing, a counter moving)."""

    async def poll() -> None:
        while not pred():  # noqa: ASYNC110 - the condition has no event to wait on
            await asyncio.sleep(step)

    await asyncio.wait_for(poll(), within)
