"""TOML -> frozen typed settings.

Every section is a frozen dataclass; the loader walks the TOML against the dataclass fields and
reports the first problem as ``ConfigError`` naming the file, the key and what is wrong (unknown
key, wrong type, missing value, duplicate room name). ``config.example.toml`` documents every key.

Secrets may come from the environment instead of the file (see ``ENV_SECRETS``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import tempfile
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLATFORMS = ("bilibili", "twitch", "douyin", "douyu", "replay")
ROOM_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TWITCH_CHANNEL_RE = re.compile(r"^[a-z0-9_]{1,25}$")


class ConfigError(Exception):
    """A config problem; ``str()`` is the one line shown to the user."""

    def __init__(self, file: str | os.PathLike[str], key: str, reason: str) -> None:
        self.file, self.key, self.reason = str(file), key, reason
        super().__init__(f"{self.file}: {key}: {reason}" if key else f"{self.file}: {reason}")


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8765
    # token for the ops pages (/admin); generated and printed when empty
    admin_token: str = ""
    # where generated tokens are kept so OBS URLs survive a restart
    state_dir: str = "var"


@dataclass(frozen=True)
class AuditSettings:
    dir: str = "audit"


@dataclass(frozen=True)
class BusSettings:
    # events kept per room for overlays that reconnect (in memory) or per stream (Redis MAXLEN ~)
    replay: int = 2000
    # in memory: of those, the viewer traffic (chat, gifts, entries, likes) kept; a chat overlay shows
    # its last lines, and 2,000 chat lines of each room were most of a busy process's heap
    viewer_replay: int = 500
    # a subscriber whose queue holds this many undelivered events is dropped (it reconnects and replays)
    subscriber_queue: int = 1000


@dataclass(frozen=True)
class RedisSettings:
    # empty: the embedded in-memory bus; e.g. "redis://127.0.0.1:6379/0" for the shared one
    url: str = ""
    prefix: str = "livebot"
    # a worker that has not renewed its room leases for this long loses them to a live worker
    lease_seconds: float = 15.0
    # `livebot worker` serves /healthz and /metrics on [server] host at this port
    worker_port: int = 8766
    # a web node holds a speech ingest request this long for Redis to come back, then answers 503
    ingest_wait: float = 2.0
    # ingested speech segments kept per room for its worker (MAXLEN ~ of the ingest stream)
    ingest_backlog: int = 10000


@dataclass(frozen=True)
class OverlaySettings:
    sound: bool = True
    warning_seconds: float = 12.0
    faq_seconds: float = 15.0


@dataclass(frozen=True)
class BilibiliSettings:
    api_base: str = "https://api.bilibili.com"
    live_api_base: str = "https://api.live.bilibili.com"
    danmaku_scheme: str = "wss"
    # the anonymous websocket used when the room set-up fails: "auto" = Bilibili's public host,
    # only while api_base and live_api_base are Bilibili's public ones; "off"; or a ws(s):// URL
    fallback_url: str = "auto"
    user_agent: str = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )
    # login cookies; also from LIVEBOT_BILIBILI_SESSDATA / _BILI_JCT / _BUVID3
    sessdata: str = ""
    bili_jct: str = ""
    buvid3: str = ""
    heartbeat_seconds: float = 30.0
    # websocket connect + auth reply must complete within this many seconds
    connect_timeout_seconds: float = 10.0
    # reconnect backoff: full jitter in [0, min(cap, base * 2**failures)]
    reconnect_base_seconds: float = 1.0
    reconnect_cap_seconds: float = 30.0
    # longest chat line the bot's account may send (20 for ordinary accounts, 30/40 at higher levels)
    max_message_length: int = 20


@dataclass(frozen=True)
class TwitchSettings:
    irc_url: str = "wss://irc-ws.chat.twitch.tv:443"
    # the bot's login and OAuth token (without or with "oauth:"); empty = anonymous read-only
    login: str = ""
    oauth_token: str = ""
    # moderators and the broadcaster may send 100 lines / 30 s instead of 20
    moderator: bool = False
    # the bot PINGs the server this often and treats ping_seconds + 10 s of silence as a dead link
    ping_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    reconnect_base_seconds: float = 1.0
    reconnect_cap_seconds: float = 30.0
    # after the server rejects the login, wait this long before trying again (hammering can lock the account)
    login_retry_seconds: float = 300.0


@dataclass(frozen=True)
class DouyuSettings:
    danmaku_url: str = "wss://danmuproxy.douyu.com:8506/"
    # the bot sends mrkl this often (Douyu drops a client silent for more than 45 s); heartbeat + 10 s of silence = dead
    heartbeat_seconds: float = 45.0
    # websocket connect + login reply must complete within this many seconds
    connect_timeout_seconds: float = 10.0
    reconnect_base_seconds: float = 1.0
    reconnect_cap_seconds: float = 30.0
    # e.g. "https://open.douyucdn.cn": live status and gift names/prices from /api/RoomApi/room/{room_id}; empty: skip
    room_api_base: str = ""


@dataclass(frozen=True)
class DouyinSettings:
    # the room page is {live_base}/{room_id}; a real Chromium runs it (the page signs its own websocket)
    live_base: str = "https://live.douyin.com"
    # empty: the first of chromium, chromium-browser, google-chrome on PATH
    browser_path: str = ""
    # the page heartbeats about this often; no frame (or no heartbeat) for heartbeat + 10 s reloads the page
    heartbeat_seconds: float = 10.0
    # the room page must load within this many seconds
    page_timeout_seconds: float = 30.0
    # the websocket whose frames are read: the one whose URL contains this
    push_url_contains: str = "/webcast/im/push/"
    # the page never loads the video, pictures or fonts (saves bandwidth and memory)
    block_media: bool = True
    reconnect_base_seconds: float = 1.0
    reconnect_cap_seconds: float = 30.0


@dataclass(frozen=True)
class PlatformSettings:
    bilibili: BilibiliSettings = field(default_factory=BilibiliSettings)
    twitch: TwitchSettings = field(default_factory=TwitchSettings)
    douyu: DouyuSettings = field(default_factory=DouyuSettings)
    douyin: DouyinSettings = field(default_factory=DouyinSettings)


@dataclass(frozen=True)
class ReplySettings:
    # whether the bot writes FAQ answers into the platform chat (the overlay card is always shown)
    enabled: bool = True
    faq_cooldown: float = 60.0
    user_cooldown: float = 30.0
    # at most this many chat lines per room per window
    room_rate: int = 1
    room_window: float = 3.0
    # a held-back FAQ reply (merged askers, or waiting for the room rate) still unsent this many
    # seconds after it became due is dropped: by then the chat has moved on
    max_delay: float = 30.0


@dataclass(frozen=True)
class RoomSettings:
    name: str
    platform: str
    room_id: str = ""
    faq: str = ""
    packs: tuple[str, ...] = ("builtin",)
    overlay_token: str = ""
    ingest_token: str = ""
    # the anchor's account on the platform (found through the room set-up when empty)
    anchor_uid: str = ""
    # replay platform: the recording to play and how fast
    recording: str = ""
    speed: float = 1.0
    loop: bool = False
    # a caption text file to tail (OBS LocalVocal's file output)
    caption_file: str = ""


@dataclass(frozen=True)
class Settings:
    source: str = "<defaults>"
    server: ServerSettings = field(default_factory=ServerSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    bus: BusSettings = field(default_factory=BusSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    overlay: OverlaySettings = field(default_factory=OverlaySettings)
    reply: ReplySettings = field(default_factory=ReplySettings)
    platforms: PlatformSettings = field(default_factory=PlatformSettings)
    rooms: tuple[RoomSettings, ...] = ()

    def room(self, name: str) -> RoomSettings | None:
        return next((r for r in self.rooms if r.name == name), None)


ENV_SECRETS: dict[tuple[str, ...], str] = {
    ("platforms", "bilibili", "sessdata"): "LIVEBOT_BILIBILI_SESSDATA",
    ("platforms", "bilibili", "bili_jct"): "LIVEBOT_BILIBILI_BILI_JCT",
    ("platforms", "bilibili", "buvid3"): "LIVEBOT_BILIBILI_BUVID3",
    ("platforms", "twitch", "oauth_token"): "LIVEBOT_TWITCH_OAUTH_TOKEN",
    ("redis", "url"): "LIVEBOT_REDIS_URL",
    ("server", "admin_token"): "LIVEBOT_ADMIN_TOKEN",
}


# --- the generic walker -------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    if tp is str:
        return "a string"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    origin = typing.get_origin(tp)
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])[2:]}s"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, file: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(file, key, "must be a table")
        return _build(tp, value, file, key)
    if origin is tuple:
        (item_tp, _ellipsis) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(file, key, f"must be {_type_name(tp)}")
        return tuple(_convert(v, item_tp, file, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(value, args[0], file, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, key, f"must be true or false, not {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(file, key, f"must be an integer, not {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(file, key, f"must be a number, not {value!r}")
        return float(value)
    if tp is str:
        # room ids are often written as numbers; accept them and keep the digits
        if isinstance(value, int) and not isinstance(value, bool) and key.endswith(("room_id", "anchor_uid")):
            return str(value)
        if not isinstance(value, str):
            raise ConfigError(file, key, f"must be a string, not {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r}")


def _build(cls: Any, table: dict[str, Any], file: str, prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if key not in fields:
            raise ConfigError(file, full, f"unknown key (known: {', '.join(sorted(fields))})")
        kwargs[key] = _convert(value, hints[key], file, full)
    for name, f in fields.items():
        missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if missing and name not in kwargs:
            raise ConfigError(file, f"{prefix}.{name}" if prefix else name, "missing value")
    return cls(**kwargs)


def _apply_env(data: dict[str, Any], environ: typing.Mapping[str, str]) -> None:
    for path, var in ENV_SECRETS.items():
        value = environ.get(var)
        if not value:
            continue
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            if not node.get(path[-1]):  # the file wins when it names a value itself
                node[path[-1]] = value


def _exists(base: Path, path: str) -> bool:
    """Whether a path from the config exists, relative to the config file's folder or as given."""
    return bool(path) and ((base / path).expanduser().exists() or Path(path).expanduser().exists())


def require_rooms(settings: Settings) -> None:
    """A config that would start a bot with nothing to do is a mistake, not a quiet start."""
    if not settings.rooms:
        raise ConfigError(
            settings.source,
            "rooms",
            "no rooms configured: add a [[rooms]] table (name, platform, and room_id or recording); "
            "see config.example.toml",
        )


def _check_rooms(settings: Settings, file: str) -> None:
    seen: set[str] = set()
    base = Path(file).parent
    for i, room in enumerate(settings.rooms):
        key = f"rooms[{i}]"
        if not ROOM_NAME_RE.match(room.name):
            raise ConfigError(file, f"{key}.name", "must be 1-64 letters, digits, '-' or '_' (it is used in URLs)")
        if room.name in seen:
            raise ConfigError(file, f"{key}.name", f"duplicate room name {room.name!r}")
        seen.add(room.name)
        if room.platform not in PLATFORMS:
            raise ConfigError(file, f"{key}.platform", f"must be one of {', '.join(PLATFORMS)}, not {room.platform!r}")
        if room.platform in ("bilibili", "twitch", "douyin", "douyu") and not room.room_id:
            raise ConfigError(file, f"{key}.room_id", f"missing value (a {room.platform} room needs one)")
        if room.platform == "bilibili" and not (room.room_id.isascii() and room.room_id.isdigit()):
            raise ConfigError(file, f"{key}.room_id", f"a Bilibili room id is a number, not {room.room_id!r}")
        if room.platform == "douyu" and not (room.room_id.isascii() and room.room_id.isdigit()):
            raise ConfigError(file, f"{key}.room_id", f"a Douyu room id is the number in its URL, not {room.room_id!r}")
        if room.platform == "douyin" and not (room.room_id.isascii() and room.room_id.isdigit()):
            raise ConfigError(file, f"{key}.room_id", f"the number in the Douyin room's URL, not {room.room_id!r}")
        if room.platform == "twitch" and not TWITCH_CHANNEL_RE.match(room.room_id.strip().lstrip("#").lower()):
            raise ConfigError(
                file, f"{key}.room_id", f"must be a Twitch channel login (letters, digits, _), not {room.room_id!r}"
            )
        if room.platform == "replay" and not room.recording:
            raise ConfigError(file, f"{key}.recording", "missing value (a replay room plays a recording)")
        if room.speed <= 0:
            raise ConfigError(file, f"{key}.speed", "must be greater than 0")
        if room.faq and not _exists(base, room.faq):
            raise ConfigError(file, f"{key}.faq", f"file not found: {room.faq}")
        # a merchant's rules or a show that silently is not there would look like a quiet stream
        if room.platform == "replay" and not _exists(base, room.recording):
            raise ConfigError(file, f"{key}.recording", f"file not found: {room.recording}")
        for j, pack in enumerate(room.packs):
            if pack != "builtin" and not _exists(base, pack):
                raise ConfigError(
                    file, f"{key}.packs[{j}]", f'not found: {pack} ("builtin", a .toml file or a folder of them)'
                )
    if not 0 < settings.server.port < 65536:
        raise ConfigError(file, "server.port", "must be between 1 and 65535")
    if settings.bus.replay < 1:
        raise ConfigError(file, "bus.replay", "must be at least 1")
    if settings.bus.viewer_replay < 1:
        raise ConfigError(file, "bus.viewer_replay", "must be at least 1")
    if settings.redis.lease_seconds < 0.5:
        raise ConfigError(file, "redis.lease_seconds", "must be at least 0.5")
    if not 0 < settings.redis.worker_port < 65536:
        raise ConfigError(file, "redis.worker_port", "must be between 1 and 65535")
    if settings.platforms.bilibili.danmaku_scheme not in ("ws", "wss"):
        raise ConfigError(file, "platforms.bilibili.danmaku_scheme", 'must be "ws" or "wss"')
    fallback = settings.platforms.bilibili.fallback_url.strip()
    if fallback not in ("", "auto", "off") and not fallback.startswith(("ws://", "wss://")):
        raise ConfigError(
            file, "platforms.bilibili.fallback_url", f'must be "auto", "off" or a ws:// or wss:// URL, not {fallback!r}'
        )
    _check_douyu(settings.platforms.douyu, file)
    douyin = settings.platforms.douyin
    if not re.match(r"^https?://[^/\s]+", douyin.live_base):
        raise ConfigError(file, "platforms.douyin.live_base", f"must be an http(s) URL, not {douyin.live_base!r}")
    for name in ("heartbeat_seconds", "page_timeout_seconds", "reconnect_base_seconds", "reconnect_cap_seconds"):
        if getattr(douyin, name) <= 0:
            raise ConfigError(file, f"platforms.douyin.{name}", "must be greater than 0")


def _check_douyu(douyu: DouyuSettings, file: str) -> None:
    key = "platforms.douyu"
    if not douyu.danmaku_url.startswith(("ws://", "wss://")):
        raise ConfigError(file, f"{key}.danmaku_url", f"must be a ws:// or wss:// URL, not {douyu.danmaku_url!r}")
    if not 0 < douyu.heartbeat_seconds <= 45:
        raise ConfigError(file, f"{key}.heartbeat_seconds", "must be more than 0 and at most 45 (Douyu's limit)")
    if douyu.room_api_base and not douyu.room_api_base.startswith(("http://", "https://")):
        raise ConfigError(file, f"{key}.room_api_base", "must be empty or an http(s):// URL")


def _resolve_paths(settings: Settings, file: str) -> Settings:
    """Relative paths in the file are relative to the file, so a config works from any directory."""
    base = Path(file).resolve().parent

    def rel(p: str) -> str:
        if not p or p == "builtin":
            return p
        path = Path(p).expanduser()
        return str(path if path.is_absolute() else base / path)

    rooms = tuple(
        dataclasses.replace(
            r,
            faq=rel(r.faq),
            recording=rel(r.recording),
            caption_file=rel(r.caption_file),
            packs=tuple(rel(p) for p in r.packs),
        )
        for r in settings.rooms
    )
    return dataclasses.replace(
        settings,
        rooms=rooms,
        audit=dataclasses.replace(settings.audit, dir=rel(settings.audit.dir)),
        server=dataclasses.replace(settings.server, state_dir=rel(settings.server.state_dir)),
    )


def parse_config(
    data: dict[str, Any], file: str = "<config>", environ: typing.Mapping[str, str] | None = None
) -> Settings:
    data = json.loads(json.dumps(data))  # a private deep copy that env secrets may be written into
    _apply_env(data, os.environ if environ is None else environ)
    settings = _build(Settings, data, file, "")
    settings = dataclasses.replace(settings, source=file)
    _check_rooms(settings, file)
    return settings


def load_config(path: str | os.PathLike[str], environ: typing.Mapping[str, str] | None = None) -> Settings:
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(file, "", f"not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "", f"invalid TOML: {exc}") from None
    settings = parse_config(data, file, environ)
    return _resolve_paths(settings, file)


# --- tokens -------------------------------------------------------------------------------------


def ensure_tokens(settings: Settings, *, _retry: bool = True) -> tuple[Settings, list[str]]:
    """Fill in missing overlay, ingest and admin tokens.

    Generated tokens are kept in ``server.state_dir/tokens.json`` so the URLs pasted into OBS keep
    working after a restart. Returns the new settings and a line per token that was generated.
    """
    store_path = Path(settings.server.state_dir) / "tokens.json"
    try:
        seen: str | None = store_path.read_text("utf-8")
    except OSError:
        seen = None
    try:
        stored: dict[str, str] = json.loads(seen) if seen is not None else {}
        if not isinstance(stored, dict):
            stored = {}
    except ValueError:
        stored = {}
    notes: list[str] = []
    changed = False

    def token(key: str, given: str) -> str:
        nonlocal changed
        if given:
            return given
        if isinstance(stored.get(key), str) and stored[key]:
            return stored[key]
        stored[key] = secrets.token_urlsafe(18)
        changed = True
        notes.append(f"generated {key} (kept in {store_path})")
        return stored[key]

    rooms = tuple(
        dataclasses.replace(
            r,
            overlay_token=token(f"rooms.{r.name}.overlay_token", r.overlay_token),
            ingest_token=token(f"rooms.{r.name}.ingest_token", r.ingest_token),
        )
        for r in settings.rooms
    )
    server = dataclasses.replace(settings.server, admin_token=token("server.admin_token", settings.server.admin_token))
    if changed and not _publish_tokens(store_path, stored, seen) and _retry:
        # Another process (a second worker started with the same config) wrote the tokens between
        # our read and our write: start again from its file, so every process serves the same URLs.
        return ensure_tokens(settings, _retry=False)
    return dataclasses.replace(settings, rooms=rooms, server=server), notes


def _publish_tokens(store_path: Path, stored: dict[str, str], seen: str | None) -> bool:
    """Write the tokens file unless another process changed it since it was read as ``seen`` (False).
    A temporary file of this process's own (two workers starting at once once shared one name, and
    one renamed it away under the other), then a link when there was no file, so a second writer
    fails instead of replacing the first one's tokens."""
    store_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=store_path.parent, prefix=".tokens-", suffix=".tmp")  # mode 0o600
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(stored, indent=2))
        if seen is None:
            try:
                os.link(tmp, store_path)
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links: replace, as before
                tmp.replace(store_path)
            return True
        try:
            if store_path.read_text("utf-8") != seen:
                return False
        except OSError:
            return False
        tmp.replace(store_path)
        return True
    finally:
        tmp.unlink(missing_ok=True)
