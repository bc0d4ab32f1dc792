"""Helpers shared by the bus contract tests (in-memory and Redis)."""

from __future__ import annotations

import asyncio

from bot.bus.base import Subscription
from bot.events import ChatMessage, Event


def chat(room: str, n: int) -> ChatMessage:
    return ChatMessage(room=room, text=f"m{n}")


async def take(sub: Subscription, n: int, within: float = 5.0) -> list[Event]:
    """The next ``n`` events of a subscription; fails if they do not come within ``within`` seconds."""
    out: list[Event] = []

    async def run() -> None:
        async for ev in sub:
            out.append(ev)
            if len(out) == n:
                return

    await asyncio.wait_for(run(), within)
    return out
