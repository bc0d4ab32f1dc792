"""The [platforms.douyu] keys and Douyu rooms in the config: defaults, the example file, and
errors that name the file, the key and what is wrong."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.adapters import create_adapter
from bot.adapters.douyu import DouyuAdapter
from bot.config import ConfigError, DouyuSettings, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "livebot.toml"
    path.write_text(text, "utf-8")
    return path


def test_contract_defaults() -> None:
    d = DouyuSettings()
    assert d.danmaku_url == "wss://danmuproxy.douyu.com:8506/"
    assert d.heartbeat_seconds == 45.0
    assert d.room_api_base == ""  # no HTTP call unless configured


def test_example_config_documents_every_douyu_key() -> None:
    text = (ROOT / "config.example.toml").read_text("utf-8")
    section = text.split("[platforms.douyu]", 1)[1].split("\n[", 1)[0]
    for key in DouyuSettings.__dataclass_fields__:
        assert f"\n{key} = " in section, key
    assert load_config(ROOT / "config.example.toml", environ={}).platforms.douyu == DouyuSettings()


@pytest.mark.asyncio
async def test_a_douyu_room_gets_the_douyu_adapter(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[platforms.douyu]\ndanmaku_url = 'ws://127.0.0.1:9/'\nheartbeat_seconds = 30\n"
        "[[rooms]]\nname='dy'\nplatform='douyu'\nroom_id=288016\nanchor_uid=1234\n",
    )
    settings = load_config(path, environ={})
    room = settings.rooms[0]
    assert (room.room_id, room.anchor_uid) == ("288016", "1234")
    assert settings.platforms.douyu.heartbeat_seconds == 30.0
    async with aiohttp.ClientSession() as http:
        adapter = create_adapter(room, settings, http)
        assert isinstance(adapter, DouyuAdapter) and adapter.room_id == 288016 and adapter.platform == "douyu"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[[rooms]]\nname='a'\nplatform='douyu'\n", "rooms[0].room_id", "missing value"),
        ("[[rooms]]\nname='a'\nplatform='douyu'\nroom_id='douyu.com/288016'\n", "rooms[0].room_id", "number"),
        ("[platforms.douyu]\ndanmaku_url = 'https://x/'\n", "platforms.douyu.danmaku_url", "ws:// or wss://"),
        ("[platforms.douyu]\nheartbeat_seconds = 60\n", "platforms.douyu.heartbeat_seconds", "at most 45"),
        ("[platforms.douyu]\nheartbeat_seconds = 0\n", "platforms.douyu.heartbeat_seconds", "more than 0"),
        ("[platforms.douyu]\nheartbeat_seconds = 'fast'\n", "platforms.douyu.heartbeat_seconds", "must be a number"),
        ("[platforms.douyu]\nroom_api_base = 'open.douyucdn.cn'\n", "platforms.douyu.room_api_base", "http"),
        ("[platforms.douyu]\ngid = -9999\n", "platforms.douyu.gid", "unknown key"),
    ],
)
def test_errors_name_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    err = info.value
    assert (err.file, err.key) == (str(path), key)
    assert reason in err.reason
    assert str(err).startswith(f"{path}: {key}: ")
