"""``[platforms.douyin]`` and Douyin rooms in the config: defaults, and one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.douyin.browser import BrowserError, find_browser, profile_dir
from bot.config import ConfigError, DouyinSettings, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "livebot.toml"
    path.write_text(text, "utf-8")
    return path


def test_defaults_and_the_example_config_agree() -> None:
    assert DouyinSettings().live_base == "https://live.douyin.com"
    example = load_config(ROOT / "config.example.toml", environ={}).platforms.douyin
    assert example == DouyinSettings()


def test_a_douyin_room_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[platforms.douyin]\nlive_base = 'http://127.0.0.1:9'\nheartbeat_seconds = 2\n"
        "[[rooms]]\nname = 'dy'\nplatform = 'douyin'\nroom_id = 646454278948\n",
    )
    settings = load_config(path)
    assert settings.rooms[0].room_id == "646454278948" and settings.platforms.douyin.heartbeat_seconds == 2.0
    assert profile_dir(settings.server.state_dir) == tmp_path / "var" / "douyin-profile"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[[rooms]]\nname='a'\nplatform='douyin'\n", "rooms[0].room_id", "missing value"),
        ("[[rooms]]\nname='a'\nplatform='douyin'\nroom_id='abc'\n", "rooms[0].room_id", "number in the Douyin"),
        ("[platforms.douyin]\nlive_base = 'live.douyin.com'\n", "platforms.douyin.live_base", "http(s) URL"),
        ("[platforms.douyin]\nheartbeat_seconds = 0\n", "platforms.douyin.heartbeat_seconds", "greater than 0"),
        ("[platforms.douyin]\nblock_media = 'yes'\n", "platforms.douyin.block_media", "true or false"),
        ("[platforms.douyin]\nsignature = 'x'\n", "platforms.douyin.signature", "unknown key"),
    ],
)
def test_mistakes_name_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.file == str(path) and err.value.key == key and reason in err.value.reason


def test_the_browser_is_found_on_path_or_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "chromium-browser"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    assert find_browser("") == str(fake)
    assert find_browser(str(fake)) == str(fake)
    with pytest.raises(BrowserError, match="browser_path"):
        find_browser(str(tmp_path / "nope"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BrowserError, match="no Chromium found"):
        find_browser("")
