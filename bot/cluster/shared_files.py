"""FAQ files and rule packs shared through Redis, so every worker answers and warns alike.

Each configured FAQ file and rule-pack path (a file, or a folder of ``*.toml``) is one *bundle*
in Redis: its files' text, a digest and a version. Every node watches its own copy on disk; a
node whose copy changes (an ops edit, the FAQ admin page) publishes it, and the version goes up.
Workers never read the configured paths directly: they run from a mirror under
``[server] state_dir/shared/`` that follows the bundle in Redis, so an edit made on any node
reaches every worker, and the FAQ store and rule sets hot-reload from the mirror as they would
from the original file.

At start-up a node adopts what Redis holds, unless its own copy is newer (by modification time)
and different: restarting a node with an old copy never reverts an edit, and deploying a new copy
to a node and starting it does publish it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.bus.redis_keys import Keys
from bot.bus.redis_link import OUTAGE_ERRORS, RedisLink
from bot.config import RoomSettings, Settings
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: a bundle larger than this is refused (a FAQ or a pack set is tens of kilobytes)
MAX_BUNDLE_BYTES = 8 << 20

# KEYS[1] the bundle hash. ARGV: digest, bundle JSON, mtime, mode ('adopt' | 'publish'), origin
PUBLISH_LUA = """
local current = redis.call('HGET', KEYS[1], 'digest')
if current == ARGV[1] then return tonumber(redis.call('HGET', KEYS[1], 'version')) end
if ARGV[4] == 'adopt' and current then
  local theirs = tonumber(redis.call('HGET', KEYS[1], 'mtime') or '0')
  if tonumber(ARGV[3]) <= theirs then return -1 end
end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'digest', ARGV[1], 'bundle', ARGV[2], 'mtime', ARGV[3], 'origin', ARGV[5])
return version
"""


def read_bundle(path: Path) -> tuple[dict[str, str], float]:
    """The text of a file, or of a folder's ``*.toml`` files, and the newest modification time."""
    files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
    bundle: dict[str, str] = {}
    newest = 0.0
    for f in files:
        bundle[f.name] = f.read_text("utf-8")
        newest = max(newest, f.stat().st_mtime)
    return bundle, newest


def digest_of(bundle: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(bundle, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Shared:
    """One configured path and its mirror."""

    ident: str  # what names it on every node: the path relative to the config file
    source: Path
    mirror: Path  # the file (or folder) the workers load
    is_dir: bool
    local_stamp: tuple[tuple[str, float, int], ...] = ()
    version: int = 0
    digest: str = ""


def _stamp(path: Path) -> tuple[tuple[str, float, int], ...]:
    files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((f.name, st.st_mtime, st.st_size))
        except OSError:
            out.append((f.name, -1.0, -1))
    return tuple(out)


class SharedFiles:
    def __init__(self, link: RedisLink, keys: Keys, settings: Settings, *, node: str, interval: float = 1.0) -> None:
        self.link = link
        self.keys = keys
        self.node = node
        self.interval = interval
        # paths are named relative to the config file, so nodes that deploy the config in different
        # folders still share them
        config = Path(settings.source)
        self._base = config.resolve().parent if config.is_file() else Path.cwd()
        self._root = Path(settings.server.state_dir) / "shared"
        self._items: dict[str, Shared] = {}
        self._publish = link.client.register_script(PUBLISH_LUA)
        self._task: asyncio.Task[None] | None = None
        self.reloads = 0

    def _ident(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self._base))
        except ValueError:
            return str(path.resolve())

    def _item(self, configured: str) -> Shared:
        source = Path(configured)
        ident = self._ident(source)
        item = self._items.get(ident)
        if item is None:
            tag = hashlib.sha1(ident.encode()).hexdigest()[:16]
            is_dir = source.is_dir()
            mirror = self._root / tag if is_dir else self._root / tag / source.name
            item = self._items[ident] = Shared(ident, source, mirror, is_dir)
        return item

    def mirrored_rooms(self, rooms: Iterable[RoomSettings]) -> tuple[RoomSettings, ...]:
        """The rooms with their FAQ file and packs pointing at the mirrors."""
        out = []
        for room in rooms:
            faq = str(self._item(room.faq).mirror) if room.faq else ""
            packs = tuple(p if p == "builtin" else str(self._item(p).mirror) for p in room.packs)
            out.append(dataclasses.replace(room, faq=faq, packs=packs))
        return tuple(out)

    # --- start-up and the watch loop -----------------------------------------------------------

    async def start(self, rooms: Iterable[RoomSettings] = ()) -> None:
        """Publish or adopt every shared path and write the mirrors (waiting for Redis if it is
        away), then follow changes from now on."""
        self.mirrored_rooms(rooms)
        while True:
            await self.link.wait_up()
            try:
                for item in list(self._items.values()):
                    await self._sync(item, startup=True)
                break
            except OUTAGE_ERRORS as exc:
                self.link.mark_down(exc)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="shared-files")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self.link.up:
                continue
            for item in list(self._items.values()):
                try:
                    await self._sync(item, startup=False)
                except OUTAGE_ERRORS as exc:
                    self.link.mark_down(exc)
                    break
                except Exception:
                    log.exception("shared file %s: sync failed; the last good copy keeps serving", item.ident)

    async def _sync(self, item: Shared, *, startup: bool) -> None:
        stamp = _stamp(item.source)
        if startup or stamp != item.local_stamp:
            item.local_stamp = stamp
            await self._offer_local(item, "adopt" if startup else "publish")
        await self._follow(item)

    async def _offer_local(self, item: Shared, mode: str) -> None:
        try:
            bundle, mtime = await asyncio.to_thread(read_bundle, item.source)
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("shared file %s: cannot read the local copy (%s); using the shared one", item.ident, exc)
            return
        payload = json.dumps(bundle, ensure_ascii=False)
        if len(payload.encode()) > MAX_BUNDLE_BYTES:
            log.error("shared file %s: larger than %d bytes; not shared", item.ident, MAX_BUNDLE_BYTES)
            return
        digest = digest_of(bundle)
        version = int(
            await self._publish(
                keys=[self.keys.shared_file(item.ident)], args=[digest, payload, repr(mtime), mode, self.node]
            )
        )
        if version > 0 and digest != item.digest and mode == "publish":
            log.info("shared file %s: published version %d from this node", item.ident, version)

    async def _follow(self, item: Shared) -> None:
        key = self.keys.shared_file(item.ident)
        raw_version = await self.link.client.hget(key, "version")
        if raw_version is None:
            return
        version = int(raw_version)
        if version == item.version and self._mirror_present(item):
            return
        raw = await self.link.client.hmget(key, ["digest", "bundle"])
        if raw[1] is None:
            return
        digest = raw[0].decode() if raw[0] else ""
        bundle = json.loads(raw[1])
        if digest != item.digest or not self._mirror_present(item):
            await asyncio.to_thread(self._write_mirror, item, bundle)
            if item.version:
                self.reloads += 1
                log.info("shared file %s: now at version %d", item.ident, version)
        item.version, item.digest = version, digest

    def _mirror_present(self, item: Shared) -> bool:
        return item.mirror.exists()

    def _write_mirror(self, item: Shared, bundle: dict[str, str]) -> None:
        folder = item.mirror if item.is_dir else item.mirror.parent
        folder.mkdir(parents=True, exist_ok=True)
        names = set()
        for name, text in bundle.items():
            name = Path(name).name  # a bundle names files, never paths
            if item.is_dir:
                target = folder / name
            else:
                target = item.mirror
            names.add(target.name)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(text, "utf-8")
            os.replace(tmp, target)  # readers see the old file or the new one, never half
        if item.is_dir:
            for stale in folder.glob("*.toml"):
                if stale.name not in names:
                    with contextlib.suppress(OSError):
                        stale.unlink()

    def status(self) -> dict[str, int]:
        return {item.ident: item.version for item in self._items.values()}

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
