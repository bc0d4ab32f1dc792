"""The bot service: every configured room's adapter, sources and pipeline, in one process.

Per room, a ``RoomRunner`` pumps the adapter's events (and any speech source's) into one queue,
and a single consumer feeds the pipeline in order: the receive loops never wait for rule checks
or chat replies, and a slow pipeline never drops what a connection already received.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.adapters import create_adapter
from bot.adapters.base import Adapter
from bot.audit import AuditLog
from bot.bus.base import Bus
from bot.bus.memory import MemoryBus
from bot.config import RoomSettings, Settings
from bot.events import Event, RoomStatus, User
from bot.faq import FaqResponder, FaqStore
from bot.faq.state import ReplyState
from bot.room import RoomPipeline
from bot.supervise import AdapterSupervisor
from rules import RuleEngine

log = logging.getLogger(__name__)

RELOAD_INTERVAL = 2.0


def _pack_stamp(packs: tuple[str, ...]) -> tuple[tuple[str, float, int], ...]:
    """What identifies the current content of the merchant's pack files (built-ins never change)."""
    stamp: list[tuple[str, float, int]] = []
    for pack in packs:
        if pack == "builtin":
            continue
        path = Path(pack)
        files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        for f in files:
            try:
                st = f.stat()
                stamp.append((str(f), st.st_mtime, st.st_size))
            except OSError:
                stamp.append((str(f), -1.0, -1))
    return tuple(stamp)


class RuleSet:
    """One combination of rule packs, rebuilt off the event loop when a pack file changes."""

    def __init__(self, packs: tuple[str, ...]) -> None:
        self.packs = packs
        self._stamp = _pack_stamp(packs)
        self.engine = RuleEngine.load(packs)
        self._report(self.engine)

    def __call__(self) -> RuleEngine:
        return self.engine

    def _report(self, engine: RuleEngine) -> None:
        for err in engine.errors:
            log.error("rule pack problem (the other packs keep working): %s", err)

    async def reload_if_changed(self) -> bool:
        stamp = _pack_stamp(self.packs)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        engine = await asyncio.to_thread(RuleEngine.load, self.packs)
        self._report(engine)
        self.engine = engine
        log.info("rule packs reloaded: %s", ", ".join(self.packs))
        return True


class RoomRunner:
    def __init__(self, room: RoomSettings, pipeline: RoomPipeline, adapter: Adapter | None) -> None:
        self.room = room
        self.pipeline = pipeline
        self.adapter = adapter
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.state = "starting"
        self.state_detail = ""
        self.since = time.time()
        self._tasks: list[asyncio.Task[None]] = []
        self.supervisor: AdapterSupervisor | None = None

    def submit(self, event: Event) -> None:
        """Accept an event for this room (from the adapter, a source or the ingest endpoint)."""
        self.queue.put_nowait(event)

    async def _pump(self, source: AsyncIterator[Event], name: str) -> None:
        try:
            async for event in source:
                self.submit(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # adapters reconnect by themselves; reaching here is a bug in one, so say so loudly
            log.exception("room %s: %s stopped", self.room.name, name)
            self.submit(RoomStatus(room=self.room.name, platform=self.room.platform, state="failed", detail=repr(exc)))

    async def _consume(self) -> None:
        while True:
            event = await self.queue.get()
            if isinstance(event, RoomStatus):
                self.state, self.state_detail, self.since = event.state, event.detail, time.time()
            await self.pipeline.handle(event)
            self.queue.task_done()

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._consume(), name=f"room:{self.room.name}:pipeline"))
        if self.adapter is not None:
            self.supervisor = AdapterSupervisor(self.adapter, self.submit)  # restarts it if it ever dies
            self._tasks.append(asyncio.create_task(self.supervisor.run(), name=f"room:{self.room.name}:adapter"))
        if self.room.caption_file:
            from bot.sources.caption_file import CaptionFileSource

            captions = CaptionFileSource(self.room.name, self.room.caption_file, platform=self.room.platform)
            pump = self._pump(captions.events(), "caption file")
            self._tasks.append(asyncio.create_task(pump, name=f"room:{self.room.name}:captions"))

    async def stop(self) -> None:
        if self.adapter is not None:
            with contextlib.suppress(Exception):
                await self.adapter.close()
        for task in self._tasks[1:]:
            task.cancel()
        # what was already accepted still goes through the pipeline and into the audit log
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout=5.0)
        self._tasks[0].cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.pipeline.close()

    def status(self) -> dict[str, Any]:
        return {
            "platform": self.room.platform,
            "state": self.state,
            "detail": self.state_detail,
            "since": self.since,
            "queued": self.queue.qsize(),
            **self.pipeline.counters,
            **(self.supervisor.status() if self.supervisor else {}),
        }


class Service:
    #: the pipeline each room gets (the Redis worker's commits each ingested segment atomically)
    pipeline_class: type[RoomPipeline] = RoomPipeline

    def __init__(self, settings: Settings, *, bus: Bus | None = None) -> None:
        self.settings = settings
        self.bus = bus or MemoryBus(settings.bus.replay, settings.bus.subscriber_queue)
        self.audit = AuditLog(settings.audit.dir)
        self.rule_sets: dict[tuple[str, ...], RuleSet] = {}
        self.faq_stores: dict[str, FaqStore] = {}
        self.runners: dict[str, RoomRunner] = {}
        self.http: aiohttp.ClientSession | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.started_at = time.time()

    # --- wiring -------------------------------------------------------------------------------

    def _rule_set(self, packs: tuple[str, ...]) -> RuleSet:
        if packs not in self.rule_sets:
            self.rule_sets[packs] = RuleSet(packs)
        return self.rule_sets[packs]

    def _faq_store(self, path: str) -> FaqStore:
        if path not in self.faq_stores:
            self.faq_stores[path] = FaqStore.load(path)
        return self.faq_stores[path]

    def _sender(self, adapter: Adapter | None):  # type: ignore[no-untyped-def]
        if adapter is None or not adapter.can_send or not self.settings.reply.enabled:
            return None

        async def send(text: str, reply_to: User | None) -> None:
            await adapter.send(text, reply_to=reply_to)

        return send

    def _build_room(self, room: RoomSettings) -> RoomRunner:
        assert self.http is not None
        adapter = create_adapter(room, self.settings, self.http)
        pipeline = self.pipeline_class(
            room.name,
            bus=self.bus,
            audit=self.audit,
            rules=self._rule_set(room.packs),
            bot_user_ids=frozenset(x for x in (adapter.self_user_id,) if x),
        )
        if room.faq:
            pipeline.responder = FaqResponder(
                room=room.name,
                platform=room.platform,
                store=self._faq_store(room.faq),
                reply=self.settings.reply,
                emit=pipeline.emit,
                send=self._sender(adapter),
                max_length=adapter.max_message_length,
                bot_user_ids=pipeline.bot_user_ids,
                state=self._reply_state(room.name),
            )
        return RoomRunner(room, pipeline, adapter)

    def _reply_state(self, room: str) -> ReplyState | None:
        """The room's reply cooldowns to continue from (a Redis worker loads them; here: fresh)."""
        return None

    async def start(self) -> None:
        await self.bus.start()
        self.http = aiohttp.ClientSession()
        for room in self.settings.rooms:
            if isinstance(self.bus, MemoryBus):
                # sequence ids continue after a restart, and open overlays replay what they missed
                self.bus.restore(
                    room.name, await asyncio.to_thread(self.audit.recent, room.name, self.settings.bus.replay)
                )
            runner = self._build_room(room)
            self.runners[room.name] = runner
            runner.start()
        self._watcher = asyncio.create_task(self._watch_files(), name="reload-watcher")
        log.info("service started: %d room(s)", len(self.runners))

    async def _watch_files(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_INTERVAL)
            for rule_set in self.rule_sets.values():
                try:
                    await rule_set.reload_if_changed()
                except Exception:
                    log.exception("reloading rule packs failed; the previous rules keep serving")
            for store in self.faq_stores.values():
                try:
                    await store.reload_if_changed()
                except Exception:
                    log.exception("reloading the FAQ failed; the previous FAQ keeps serving")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await asyncio.gather(*(r.stop() for r in self.runners.values()), return_exceptions=True)
        if self.http is not None:
            await self.http.close()
        await self.bus.close()
        self.audit.close()
        log.info("service stopped")

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        await self.start()
        yield
        await self.stop()

    # --- what the web app calls ---------------------------------------------------------------

    async def ingest(self, event: Event) -> None:
        runner = self.runners.get(event.room)
        if runner is None:
            raise KeyError(event.room)
        runner.submit(event)

    def status(self) -> dict[str, Any]:
        rooms = {name: r.status() for name, r in self.runners.items()}
        bus = self.bus.health()
        return {
            "ok": bool(bus.get("ok", True)),
            "uptime": round(time.time() - self.started_at, 1),
            "rooms": rooms,
            "bus": bus,
        }
