"""The worker role (``livebot worker``): runs the rooms whose leases it holds.

A worker is the single-process ``Service`` with three differences:

- rooms start and stop as the worker gains and loses their leases (``bot.cluster``), not all at
  start-up; every room's rule packs and FAQ are loaded up front so a takeover is quick;
- speech ingested on any web node arrives through the room's ingest stream in Redis. Each
  segment is handled as one *unit*: its speech event, its warnings and the new ingest position
  reach Redis in one atomic step, and its audit lines are written once that step succeeded. A
  worker killed mid-segment leaves no trace of it, and the room's next worker handles it again,
  so each warning appears once on the overlay and once in the audit logs;
- FAQ files and rule packs come from the copies shared through Redis (``bot.shared_files``), FAQ
  reply cooldowns are saved there for the room's next worker (``bot.faq.redis_state``), and chat
  replies go out only while the lease is certainly held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from bot.adapters.base import Adapter, SendError
from bot.audit import OWN_RAW, AuditLog
from bot.bus.redis import RedisBus, current_unit
from bot.bus.redis_link import OUTAGE_ERRORS
from bot.bus.stream_tail import Entries, StreamTail
from bot.cluster.leases import RoomLeases, new_worker_id
from bot.cluster.shared_files import SharedFiles
from bot.config import RoomSettings, Settings
from bot.events import AnchorSpeech, Event, EventFormatError, RoomStatus, User, event_from_dict
from bot.faq.redis_state import RedisReplyStates
from bot.faq.state import ReplyState
from bot.room import RoomPipeline
from bot.service import Service
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class UnitAudit:
    """The audit log as a room's pipeline sees it: lines of a unit wait until the unit is on Redis."""

    def __init__(self, audit: AuditLog | None, room: str) -> None:
        self._audit = audit
        self._room = room

    def write(self, event: Event, raw: Any = OWN_RAW) -> None:
        if self._audit is None:
            return
        unit = current_unit(self._room)
        if unit is None:
            self._audit.write(event, raw)
        else:
            audit = self._audit
            unit.after_commit.append(lambda: audit.write(event, raw))


class IngestPipeline(RoomPipeline):
    """A room pipeline that handles each ingested segment as one unit with its ingest position."""

    def __init__(self, room: str, **kwargs: Any) -> None:
        super().__init__(room, **kwargs)
        if isinstance(self.bus, RedisBus):
            self.audit = UnitAudit(self.audit, room)  # type: ignore[assignment]
        # id(event) -> (event, ingest entry id); the event is kept so its id stays unique
        self._sources: dict[int, tuple[Event, str]] = {}

    def tag(self, event: Event, entry_id: str) -> None:
        self._sources[id(event)] = (event, entry_id)

    async def handle(self, event: Event) -> None:
        tagged = self._sources.pop(id(event), None)
        writer = self.bus.writer(self.room) if isinstance(self.bus, RedisBus) else None
        if tagged is None or writer is None:
            await super().handle(event)
            return
        async with writer.unit(commit=tagged[1]):
            await super().handle(event)


def speech_from_entry(room: RoomSettings, fields: dict[bytes, bytes]) -> AnchorSpeech:
    event = event_from_dict(json.loads(fields[b"e"]))
    if not isinstance(event, AnchorSpeech):
        raise EventFormatError(f"ingest carries {event.type!r}, not speech")
    # the stream key names the room; a payload never moves speech into another room
    return AnchorSpeech(
        room=room.name,
        platform=room.platform,
        text=event.text,
        segment=event.segment,
        final=event.final,
        source=event.source,
        ts=event.ts,
    )


class Worker(Service):
    pipeline_class = IngestPipeline

    def __init__(self, settings: Settings, *, bus: RedisBus | None = None, worker_id: str | None = None) -> None:
        redis_bus = bus or RedisBus.from_settings(settings)
        super().__init__(settings, bus=redis_bus)
        self.redis_bus = redis_bus
        self.link = redis_bus.link
        self.keys = redis_bus.keys
        self.worker_id = worker_id or new_worker_id()
        self.room_settings: dict[str, RoomSettings] = {r.name: r for r in settings.rooms}
        self.leases = RoomLeases(
            self.link,
            self.keys,
            list(self.room_settings),
            lease_seconds=settings.redis.lease_seconds,
            start_room=self._start_room,
            stop_room=self._stop_room,
            fence_room=self._fence_room,
            worker_id=self.worker_id,
        )
        self.shared = SharedFiles(self.link, self.keys, settings, node=self.worker_id)
        self.ingest_tail = StreamTail(self.link, self._on_ingest, name="ingest-tail")
        self.reply_states = RedisReplyStates(self.link, self.keys, settings.reply, token=self.worker_id)
        self._states: dict[str, ReplyState] = {}
        self._state_task: asyncio.Task[None] | None = None
        self._ingest_rooms: dict[str, str] = {}  # ingest stream key -> room
        self._status_task: asyncio.Task[None] | None = None
        self._boot: asyncio.Task[None] | None = None
        self._stopping = False
        self.ready = False
        self.link.on_reconnect(self._announce_reconnect)
        self.ingested = 0

    # --- start and stop -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.bus.start()
        self.http = self._http_session()  # sized from the rooms, as in one process
        # the rest waits for Redis; /healthz and /metrics answer meanwhile
        self._boot = asyncio.create_task(self._boot_up(), name="worker-boot")

    async def _boot_up(self) -> None:
        mirrored = self.shared.mirrored_rooms(self.settings.rooms)
        await self.shared.start()
        self.room_settings = {r.name: r for r in mirrored}
        # every room's rules and FAQ now, off the event loop: a room taken over starts at once
        await asyncio.to_thread(self._preload, mirrored)
        if self._stopping:
            return  # stopped while the files were loading (the thread cannot be cancelled)
        self._watcher = asyncio.create_task(self._watch_files(), name="reload-watcher")
        self.ingest_tail.start()
        self.leases.start()
        self._status_task = asyncio.create_task(self._publish_status(), name="room-status")
        self._state_task = asyncio.create_task(self.reply_states.run(self._running_states), name="reply-states")
        self.ready = True
        log.info("worker %s started: %d configured room(s)", self.worker_id, len(self.room_settings))

    def _preload(self, rooms: tuple[RoomSettings, ...]) -> None:
        for room in rooms:
            self._rule_set(room.packs)
            if room.faq:
                self._faq_store(room.faq)

    async def stop(self) -> None:
        # the start-up first: one cancelled half-way must not go on to start the lease heartbeat
        # after the leases were closed (the worker would look alive to the others for a lease period)
        self._stopping = True
        if self._boot is not None:
            await cancel_and_wait(self._boot)
        await self.leases.close()  # stops every room gracefully and hands its lease back
        for task in (self._status_task, self._state_task):
            await cancel_and_wait(task)
        await self.ingest_tail.close()
        await self.shared.close()
        await super().stop()

    # --- rooms come and go with their leases ----------------------------------------------------

    async def _start_room(self, name: str, token: str) -> None:
        room = self.room_settings[name]
        await self.redis_bus.open_writer(name, token=token, on_fenced=self.leases.reclaim)
        position = await self.link.client.get(self.keys.ingest_pos(name))
        self._states[name] = await self.reply_states.load(name)
        runner = self._build_room(room)
        self.runners[name] = runner
        runner.start()
        key = self.keys.ingest(name)
        self._ingest_rooms[key] = name
        self.ingest_tail.add(key, position.decode() if position else "0-0")
        log.info("worker %s: room %s running", self.worker_id, name)

    async def _stop_room(self, name: str, why: str) -> None:
        key = self.keys.ingest(name)
        self.ingest_tail.remove(key)
        self._ingest_rooms.pop(key, None)
        runner = self.runners.pop(name, None)
        if runner is not None:
            # what was accepted goes through the pipeline; a lost room's writer drops it (fenced)
            await runner.stop()
        state = self._states.pop(name, None)
        if state is not None and self.link.up:
            with contextlib.suppress(*OUTAGE_ERRORS):
                await self.reply_states.save(name, state)  # fenced: refused if the room moved on
        self.reply_states.forget(name)
        await self.redis_bus.close_writer(name, wait=2.0)
        with contextlib.suppress(*OUTAGE_ERRORS):
            if self.link.up:
                await self.link.client.hdel(self.keys.room_status, name)
        log.info("worker %s: room %s stopped (%s)", self.worker_id, name, why)

    def _reply_state(self, room: str) -> ReplyState | None:
        return self._states.get(room)

    def _running_states(self) -> dict[str, ReplyState]:
        return {name: state for name, state in self._states.items() if name in self.runners}

    def _fence_room(self, name: str) -> None:
        # the lease can no longer be vouched for: nothing more goes to Redis or the chat from here
        writer = self.redis_bus.writer(name)
        if writer is not None and not writer.lost:
            writer.lost = True
            writer._drop(list(writer.pending), "lease lost")

    def _sender(self, adapter: Adapter | None):  # type: ignore[no-untyped-def]
        send = super()._sender(adapter)
        if send is None or adapter is None:
            return send
        room = adapter.room

        async def send_while_owner(text: str, reply_to: User | None) -> None:
            if not self.leases.owns(room):
                raise SendError("this worker no longer holds the room's lease")
            await send(text, reply_to)

        return send_while_owner

    # --- speech from the web nodes --------------------------------------------------------------

    def _on_ingest(self, key: str, entries: Entries) -> None:
        name = self._ingest_rooms.get(key)
        runner = self.runners.get(name) if name else None
        if name is None or runner is None:
            return
        room = self.room_settings[name]
        for entry_id, fields in entries:
            try:
                speech = speech_from_entry(room, fields)
            except (KeyError, ValueError, EventFormatError) as exc:
                log.warning("room %s: skipping unreadable ingest entry %s: %s", name, entry_id, exc)
                continue
            assert isinstance(runner.pipeline, IngestPipeline)
            runner.pipeline.tag(speech, entry_id)
            runner.submit(speech)
            self.ingested += 1

    # --- what web nodes and the console see -----------------------------------------------------

    async def _publish_status(self) -> None:
        """Each running room's status, for web nodes' /healthz and console (a hash in Redis)."""
        while True:
            await asyncio.sleep(max(0.2, self.leases.tick))
            if not self.link.up or not self.runners:
                continue
            now = time.time()
            mapping = {
                name: json.dumps({**runner.status(), "worker": self.worker_id, "at": now}, ensure_ascii=False)
                for name, runner in self.runners.items()
            }
            try:
                await self.link.client.hset(self.keys.room_status, mapping=mapping)  # type: ignore[arg-type]
            except OUTAGE_ERRORS as exc:
                self.link.mark_down(exc)
            except Exception:
                log.exception("publishing room status failed")

    def _announce_reconnect(self, outage: float) -> None:
        for name, runner in list(self.runners.items()):
            writer = self.redis_bus.writer(name)
            buffered = writer.pending_events if writer is not None else 0
            runner.submit(
                RoomStatus(
                    room=name,
                    platform=runner.room.platform,
                    state=runner.state,
                    detail=f"redis was unreachable for {outage:.1f} s; {buffered} buffered event(s) delivered",
                )
            )

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["role"] = "worker"
        out["ready"] = self.ready
        out["cluster"] = self.leases.status()
        out["shared_files"] = self.shared.status()
        return out
