"""Platform adapters, chosen by a room's ``platform`` key."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from bot.adapters.base import Adapter
from bot.config import ConfigError, RoomSettings, Settings

AdapterFactory = Callable[[RoomSettings, Settings, aiohttp.ClientSession], Adapter]


def _replay(room: RoomSettings, settings: Settings, http: aiohttp.ClientSession) -> Adapter:
    from bot.adapters.replay import ReplayAdapter

    return ReplayAdapter(room.name, room.recording, speed=room.speed, loop=room.loop)


def _bilibili(room: RoomSettings, settings: Settings, http: aiohttp.ClientSession) -> Adapter:
    from bot.adapters.bilibili import BilibiliAdapter

    if not (room.room_id.isascii() and room.room_id.isdigit()):
        raise ConfigError(settings.source, f"rooms.{room.name}.room_id", "a Bilibili room id is a number")
    return BilibiliAdapter(room, settings.platforms.bilibili, http)


def _twitch(room: RoomSettings, settings: Settings, http: aiohttp.ClientSession) -> Adapter:
    from bot.adapters.twitch import CHANNEL_RE, TwitchAdapter

    if not CHANNEL_RE.match(room.room_id.strip().lstrip("#").lower()):
        raise ConfigError(settings.source, f"rooms.{room.name}.room_id", "a Twitch channel login (letters, digits, _)")
    return TwitchAdapter(room, settings.platforms.twitch, http)


def _douyu(room: RoomSettings, settings: Settings, http: aiohttp.ClientSession) -> Adapter:
    from bot.adapters.douyu import DouyuAdapter

    if not (room.room_id.isascii() and room.room_id.isdigit()):
        raise ConfigError(settings.source, f"rooms.{room.name}.room_id", "a Douyu room id is a number")
    return DouyuAdapter(room, settings.platforms.douyu, http)


def _douyin(room: RoomSettings, settings: Settings, http: aiohttp.ClientSession) -> Adapter:
    try:
        from bot.adapters.douyin import DouyinAdapter
    except ImportError as exc:
        raise ConfigError(
            settings.source, f"rooms.{room.name}.platform", f"douyin needs pip install 'livebot[douyin]' ({exc})"
        ) from None
    return DouyinAdapter(room, settings.platforms.douyin, settings.server.state_dir)


ADAPTERS: dict[str, AdapterFactory] = {
    "replay": _replay,
    "bilibili": _bilibili,
    "twitch": _twitch,
    "douyu": _douyu,
    "douyin": _douyin,
}


def create_adapter(room: RoomSettings, settings: Settings, http: aiohttp.ClientSession) -> Adapter:
    try:
        factory = ADAPTERS[room.platform]
    except KeyError:
        raise ValueError(f"no adapter for platform {room.platform!r}") from None
    return factory(room, settings, http)
