"""Config loading: typed settings, and one clear line naming file, key and problem for each mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, ensure_tokens, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "livebot.toml"
    path.write_text(text, "utf-8")
    return path


def test_example_config_loads() -> None:
    settings = load_config(ROOT / "config.example.toml", environ={})
    assert settings.server.port == 8765
    assert settings.rooms[0].name == "shop"
    assert settings.rooms[0].packs == ("builtin",)
    # relative paths are resolved against the config file's folder
    assert Path(settings.rooms[0].faq) == ROOT / "bot/demo/faq.toml"
    assert Path(settings.audit.dir) == ROOT / "audit"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[server]\nprot = 1\n", "server.prot", "unknown key"),
        ("[server]\nport = 'x'\n", "server.port", "must be an integer"),
        ("[server]\nport = 70000\n", "server.port", "between 1 and 65535"),
        ("[bus]\nviewer_replay = 0\n", "bus.viewer_replay", "at least 1"),
        ("[[rooms]]\nplatform = 'replay'\n", "rooms[0].name", "missing value"),
        ("[[rooms]]\nname = 'a'\n", "rooms[0].platform", "missing value"),
        ("[[rooms]]\nname='a'\nplatform='bilibili'\n", "rooms[0].room_id", "missing value"),
        ("[[rooms]]\nname='a'\nplatform='yy'\n", "rooms[0].platform", "must be one of"),
        ("[[rooms]]\nname='a'\nplatform='bilibili'\nroom_id='abc'\n", "rooms[0].room_id", "is a number"),
        ("[[rooms]]\nname='a'\nplatform='twitch'\nroom_id='no spaces'\n", "rooms[0].room_id", "channel login"),
        ("[[rooms]]\nname='a'\nplatform='replay'\n", "rooms[0].recording", "missing value"),
        ("[[rooms]]\nname='a b'\nplatform='replay'\nrecording='x'\n", "rooms[0].name", "letters, digits"),
        (
            "[[rooms]]\nname='a'\nplatform='replay'\nrecording='x'\n[[rooms]]\nname='a'\nplatform='replay'\nrecording='x'\n",
            "rooms[1].name",
            "duplicate room name",
        ),
        (
            "[[rooms]]\nname='a'\nplatform='replay'\nrecording='x'\npacks='builtin'\n",
            "rooms[0].packs",
            "must be a list",
        ),
        ("[[rooms]]\nname='a'\nplatform='replay'\nrecording='x'\nfaq='nope.toml'\n", "rooms[0].faq", "file not found"),
        ("[overlay]\nsound = 1\n", "overlay.sound", "true or false"),
        ("rooms = 3\n", "rooms", "must be a list"),
        ("[platforms.bilibili]\ndanmaku_scheme = 'http'\n", "platforms.bilibili.danmaku_scheme", '"ws" or "wss"'),
        # a missing recording or rule pack is not a quiet room: it is the config's mistake
        ("[[rooms]]\nname='a'\nplatform='replay'\nrecording='gone.jsonl'\n", "rooms[0].recording", "not found"),
        (
            "[[rooms]]\nname='a'\nplatform='replay'\nrecording='x'\npacks=['builtin', 'my-rules/']\n",
            "rooms[0].packs[1]",
            "not found: my-rules/",
        ),
        ("[[rooms]]\nname='b'\nplatform='bilibili'\nroom_id='²'\n", "rooms[0].room_id", "is a number"),
        ("[platforms.bilibili]\nfallback_url = 'https://x'\n", "platforms.bilibili.fallback_url", '"auto", "off"'),
    ],
)
def test_errors_name_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    (tmp_path / "x").write_text("", "utf-8")  # the recording most cases name
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    err = info.value
    assert err.file == str(path)
    assert err.key == key
    assert reason in err.reason
    assert str(err).startswith(f"{path}: {key}: ")


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(write(tmp_path, "[server\n"), environ={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml", environ={})
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad, environ={})


def test_secrets_from_environment_fill_empty_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[platforms.twitch]\nlogin = 'bot'\n[platforms.bilibili]\nsessdata = 'from-file'\n")
    settings = load_config(path, environ={"LIVEBOT_TWITCH_OAUTH_TOKEN": "abc", "LIVEBOT_BILIBILI_SESSDATA": "from-env"})
    assert settings.platforms.twitch.oauth_token == "abc"
    assert settings.platforms.bilibili.sessdata == "from-file"


def test_numeric_room_id_is_kept_as_text(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, "[[rooms]]\nname='b'\nplatform='bilibili'\nroom_id=21452505\n"), environ={})
    assert settings.rooms[0].room_id == "21452505"


def test_generated_tokens_are_kept_across_restarts(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("", "utf-8")
    path = write(
        tmp_path,
        "[server]\nstate_dir='state'\n[[rooms]]\nname='a'\nplatform='replay'\nrecording='x'\noverlay_token='given'\n",
    )
    first, notes = ensure_tokens(load_config(path, environ={}))
    assert first.rooms[0].overlay_token == "given"
    assert len(first.rooms[0].ingest_token) >= 20
    assert first.server.admin_token
    assert len(notes) == 2
    second, notes2 = ensure_tokens(load_config(path, environ={}))
    assert second.rooms[0].ingest_token == first.rooms[0].ingest_token
    assert second.server.admin_token == first.server.admin_token
    assert notes2 == []
    stored = json.loads((tmp_path / "state" / "tokens.json").read_text())
    assert stored["rooms.a.ingest_token"] == first.rooms[0].ingest_token


def test_a_process_that_wrote_the_tokens_first_wins_and_nothing_breaks(tmp_path: Path, monkeypatch) -> None:
    """Two workers started at once with one config: the one that writes tokens.json second takes the
    first one's tokens (both serve the same URLs) instead of replacing them or failing on a shared
    temporary file, and no temporary file is left behind."""
    import secrets

    from bot import config as config_module

    (tmp_path / "x").write_text("", "utf-8")
    path = write(tmp_path, "[server]\nstate_dir='state'\n[[rooms]]\nname='a'\nplatform='replay'\nrecording='x'\n")
    store = tmp_path / "state" / "tokens.json"
    theirs = {"rooms.a.overlay_token": "o" * 24, "rooms.a.ingest_token": "i" * 24, "server.admin_token": "a" * 24}
    real = secrets.token_urlsafe

    def racing(n: int) -> str:  # the other worker publishes while this one is generating
        if not store.exists():
            store.parent.mkdir(parents=True, exist_ok=True)
            store.write_text(json.dumps(theirs), "utf-8")
        return real(n)

    monkeypatch.setattr(config_module.secrets, "token_urlsafe", racing)
    mine, _notes = ensure_tokens(load_config(path, environ={}))
    assert mine.rooms[0].ingest_token == theirs["rooms.a.ingest_token"]
    assert mine.server.admin_token == theirs["server.admin_token"]
    assert json.loads(store.read_text("utf-8")) == theirs
    assert sorted(p.name for p in store.parent.iterdir()) == ["tokens.json"]


def test_cli_reports_one_line_and_exit_status_2(tmp_path: Path) -> None:
    path = write(tmp_path, "[[rooms]]\nname='a'\nplatform='replay'\ncolour='red'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert f"{path}: rooms[0].colour: unknown key" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_packs_and_recordings_that_exist_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "show.jsonl").write_text("", "utf-8")
    (tmp_path / "my-rules").mkdir()
    settings = load_config(
        write(tmp_path, "[[rooms]]\nname='a'\nplatform='replay'\nrecording='show.jsonl'\npacks=['builtin','my-rules']"),
        environ={},
    )
    assert settings.rooms[0].packs == ("builtin", str(tmp_path / "my-rules"))


@pytest.mark.parametrize("command", ["run", "worker", "web"])
def test_a_config_without_rooms_says_so(tmp_path: Path, command: str) -> None:
    path = write(tmp_path, "[server]\nport = 8765\n[redis]\nurl = 'redis://127.0.0.1:1/0'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", command, "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{path}: rooms: no rooms configured" in proc.stderr and "Traceback" not in proc.stderr
