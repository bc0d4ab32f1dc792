"""Platform adapters, chosen by a room's ``platform`` key."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from bot.adapters.base import Adapter
from bot.config import RoomSettings, Settings

AdapterFactory = Callable[[RoomSettings, Settings, aiohttp.ClientSession], Adapter]


def _replay(room: RoomSettings, settings: Settings, http: aiohttp.ClientSession) -> Adapter:
    from bot.adapters.replay import ReplayAdapter

    return ReplayAdapter(room.name, room.recording, speed=room.speed, loop=room.loop)


ADAPTERS: dict[str, AdapterFactory] = {
    "replay": _replay,
}


def create_adapter(room: RoomSettings, settings: Settings, http: aiohttp.ClientSession) -> Adapter:
    try:
        factory = ADAPTERS[room.platform]
    except KeyError:
        raise ValueError(f"no adapter for platform {room.platform!r}") from None
    return factory(room, settings, http)
