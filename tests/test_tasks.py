"""Stopping a background task for certain, even one that loses a cancellation (as redis-py's socket
writes do on Python 3.11, through ``asyncio.wait_for``)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.tasks import cancel_and_wait


@pytest.mark.asyncio
async def test_a_task_that_swallows_a_cancellation_is_still_stopped() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed < 2:  # what a lost cancellation looks like from outside: it runs on
                    swallowed += 1
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]
                    continue
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, recancel_every=0.05), 30)
    assert task.cancelled() and swallowed == 2


@pytest.mark.asyncio
async def test_a_failed_task_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="bot.tasks"):
        await cancel_and_wait(task)
    assert "boom" in caplog.text
    await cancel_and_wait(None)  # nothing to stop


@pytest.mark.asyncio
async def test_the_callers_own_cancellation_is_not_swallowed() -> None:
    never = asyncio.create_task(asyncio.Event().wait())

    async def ignores_cancel() -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    target = asyncio.create_task(ignores_cancel())
    stopper = asyncio.create_task(cancel_and_wait(target, recancel_every=0.05))
    await asyncio.sleep(0.2)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    never.cancel()
    target.get_coro().close()  # type: ignore[union-attr]
