"""The bot service: every configured room's adapter, sources and pipeline, in one process.

Per room, a ``RoomRunner`` pumps the adapter's events (and any speech source's) into one queue,
and a single consumer feeds the pipeline in order: the receive loops never wait for rule checks
or chat replies, and a slow pipeline never drops what a connection already received.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.adapters import create_adapter
from bot.adapters.base import Adapter
from bot.audit import AuditLog, encode_raw
from bot.bus.base import Bus
from bot.bus.memory import MemoryBus
from bot.config import RoomSettings, Settings
from bot.events import (
    AnchorSpeech,
    ChatMessage,
    EncodedRaw,
    Event,
    LiveStatus,
    PlatformNotice,
    RoomStatus,
    User,
)
from bot.faq import FaqResponder, FaqStore
from bot.faq.state import ReplyState
from bot.faq.store import MATCH_CPU
from bot.loop_budget import FAQ_BUDGET, RECEIVE_BUDGET, VIEWER_BUDGET, LoopLag
from bot.room import RoomPipeline
from bot.supervise import AdapterSupervisor
from bot.tasks import cancel_and_wait
from rules import RuleEngine

log = logging.getLogger(__name__)

RELOAD_INTERVAL = 2.0
#: rooms that start joining per second (set-up requests paced on a restart of many rooms)
JOINS_PER_SECOND = 40.0
#: how long the ingest waits for a segment to reach the audit log before it refuses to acknowledge
INGEST_ACK_SECONDS = 10.0
#: allocations between young collections once the heap is settled (the default is 700)
GC_YOUNG_THRESHOLD = 20_000


class GcPauses:
    """Garbage-collection pauses of this process, per generation (for /healthz and the load bench)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self.longest_cpu = [0.0, 0.0, 0.0]  # the collector's own work, without time the OS took away
        self.total = 0.0
        self._started = 0.0
        self._started_cpu = 0.0

    def reset(self) -> None:
        self.count = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self.longest_cpu = [0.0, 0.0, 0.0]
        self.total = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            self._started_cpu = time.thread_time()
            return
        pause = time.perf_counter() - self._started
        gen = info.get("generation", 0)
        self.longest_cpu[gen] = max(self.longest_cpu[gen], time.thread_time() - self._started_cpu)
        self.count[gen] += 1
        self.total += pause
        if pause > self.longest[gen]:
            self.longest[gen] = pause

    def status(self) -> dict[str, Any]:
        return {
            "collections": list(self.count),
            "longest_ms": [round(1000 * x, 1) for x in self.longest],
            "longest_cpu_ms": [round(1000 * x, 1) for x in self.longest_cpu],
            "total_ms": round(1000 * self.total, 1),
            "frozen": gc.get_freeze_count(),
        }


GC_PAUSES = GcPauses()
LOOP_LAG = LoopLag()


def settle_heap() -> None:
    """After start-up: move what start-up built (dictionaries of jieba, pypinyin and OpenCC, automata,
    FAQ tables: hundreds of thousands of long-lived objects) out of the collector's sight, and collect
    the young generation less often. Full collections then scan only what the running rooms made,
    which took them from hundreds of milliseconds to a few (see docs/benchmarks.md)."""
    gc.collect()
    _trim_malloc()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
    GC_PAUSES.reset()  # from here on the figures are the running rooms' own
    LOOP_LAG.reset()


def _trim_malloc() -> None:
    """Give the C heap's free pages back to the system: loading the rule packs and FAQ tables
    frees many temporary objects whose memory the allocator would otherwise keep (glibc only)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim this way


class IngestTimeout(TimeoutError):
    """A speech segment was accepted but not written in time; it must not be acknowledged."""


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


_ANCHOR_LANE_TYPES = (AnchorSpeech, RoomStatus, LiveStatus, PlatformNotice)


class RoomRunner:
    """One room's adapter and sources feeding its pipeline through two lanes.

    The anchor's lane (speech, the anchor's own chat lines, room and live status) is taken before
    the viewers' lane (chat, gifts, entries) as soon as more than ``PRIORITY_AFTER`` viewer events
    wait: a warning never waits behind a viewer backlog. While the room keeps up, both lanes are
    handled in arrival order, so the audit log and the overlays read as the room did. The viewers'
    lanes of all rooms share one budget per event-loop round, FAQ matching another and the receive
    loops a third (``bot.loop_budget``): HTTP requests, the ingest and the overlays get the loop
    between two bursts however busy the rooms are.

    Overload is shed in this declared order, counted per room and logged (at most every
    ``SHED_LOG_EVERY`` seconds per room):

    1. ``faq``: with more than ``SHED_FAQ_AT`` viewer events waiting (or the FAQ answerer's own
       queue full, see ``bot.room.FAQ_QUEUE``), viewer chat skips FAQ matching;
    2. ``rules``: rule checks on viewer chat (today only the anchor's own lines are checked, and
       those ride the anchor's lane, so this step sheds nothing yet; it keeps its place in the order);
    3. ``feed``: with ``VIEWER_QUEUE`` viewer events waiting, a new one is written to the audit log
       at once and not queued, so it reaches neither the overlays nor the FAQ.

    Every received message is still written to the audit log, at every level.
    """

    #: viewer events waiting beyond which the anchor's lane jumps the queue (below it: arrival order,
    #: which costs the anchor at most this many viewer events of a few hundred microseconds each)
    PRIORITY_AFTER = 16
    #: viewer events waiting beyond which viewer chat is no longer matched against the FAQ
    SHED_FAQ_AT = 200
    #: the viewers' lane bound: beyond it, events go straight to the audit log
    VIEWER_QUEUE = 1000
    SHED_LOG_EVERY = 10.0

    def __init__(self, room: RoomSettings, pipeline: RoomPipeline, adapter: Adapter | None) -> None:
        self.room = room
        self.pipeline = pipeline
        self.adapter = adapter
        # (arrival number, event, acknowledgement): the number keeps arrival order while we keep up
        self._anchor: deque[tuple[int, Event, asyncio.Future[None] | None]] = deque()
        self._viewer: deque[tuple[int, Event]] = deque()
        self._arrivals = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        #: the consumer is handling an event / an ingest request is handling its segment itself
        self._consuming = False
        self._inline = False
        self._inline_over = asyncio.Event()
        self.state = "starting"
        self.state_detail = ""
        self.since = time.time()
        self._shed_feed = 0
        pipeline.on_shed = self._log_shed
        self._shed_logged = {"faq": 0, "rules": 0, "feed": 0}
        self._shed_log_at = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self.supervisor: AdapterSupervisor | None = None
        #: set by the service: writes what the audit log holds queued (before an ingest is acknowledged)
        self.flush_audit: Callable[[], None] | None = None

    @property
    def queued(self) -> int:
        return len(self._anchor) + len(self._viewer)

    @staticmethod
    def is_anchor_lane(event: Event) -> bool:
        if isinstance(event, _ANCHOR_LANE_TYPES):
            return True
        return isinstance(event, ChatMessage) and event.user is not None and event.user.is_anchor

    def submit(self, event: Event) -> None:
        """Accept an event for this room (from the adapter, a source or the ingest endpoint)."""
        self._arrivals += 1
        if self.is_anchor_lane(event):
            self._anchor.append((self._arrivals, event, None))
        elif len(self._viewer) >= self.VIEWER_QUEUE:
            self._audit_only(event)
            return
        else:
            if event.raw is not None and type(event.raw) is not EncodedRaw:
                # encoded now (the audit log needs it anyway): a queue of dict graphs made every
                # garbage collection walk millions of objects under load
                event = event.with_raw(encode_raw(event.raw))
            self._viewer.append((self._arrivals, event))
        self._idle.clear()
        self._wakeup.set()

    async def submit_and_wait(self, event: Event) -> None:
        """Accept an anchor-lane event and return once it was handled and its audit lines flushed.

        When it would go next anyway (nothing of the anchor's waits, and no viewer event that came
        first waits either, or the viewers' lane is backed up), the room's consumer is between two
        events and the bus publishes without waiting (so handling never suspends, and the ingest's
        timeout cannot cut it short), it is handled right here: the warning is out a round sooner."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._arrivals += 1
        if self._may_handle_here():
            self._inline = True
            try:
                await self._handle(event, done)
            finally:
                self._inline = False
                self._inline_over.set()
            await done
            return
        self._anchor.append((self._arrivals, event, done))
        self._idle.clear()
        self._wakeup.set()
        await asyncio.shield(done)

    def _may_handle_here(self) -> bool:
        if self._inline or self._consuming or self._anchor or not self.pipeline.bus.publish_never_waits:
            return False
        return not self._viewer or len(self._viewer) > self.PRIORITY_AFTER

    def _audit_only(self, event: Event) -> None:
        """The last shedding step: the viewers' lane is full, the message goes to the audit log only."""
        self._shed_feed += 1
        self._log_shed("feed")
        audit = self.pipeline.audit
        if audit is not None:
            try:
                audit.write(event)
            except OSError as exc:
                log.error("room %s: audit write failed: %s", self.room.name, exc)

    @property
    def shed(self) -> dict[str, int]:
        """Work shed so far, per step of the declared order."""
        counters = self.pipeline.counters
        return {"faq": counters.get("shed_faq", 0), "rules": counters.get("shed_rules", 0), "feed": self._shed_feed}

    def _log_shed(self, kind: str) -> None:
        now = time.monotonic()
        if now - self._shed_log_at >= self.SHED_LOG_EVERY:
            self._shed_log_at = now
            shed = self.shed
            news = {k: shed[k] - self._shed_logged[k] for k in shed}
            self._shed_logged = shed
            log.warning(
                "room %s: overloaded (%d viewer events waiting); shed since the last report: %s "
                "(every message is still in the audit log)",
                self.room.name,
                len(self._viewer),
                ", ".join(f"{k} {v}" for k, v in news.items()),
            )

    async def _pump(self, source: AsyncIterator[Event], name: str) -> None:
        try:
            async for event in source:
                self.submit(event)
                # a socket with a backlog never suspends its reader: receiving (decoding, and the
                # audit write of what the viewers' lane cannot take) shares a budget per loop round
                if not RECEIVE_BUDGET.ready():
                    await RECEIVE_BUDGET.turn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # adapters reconnect by themselves; reaching here is a bug in one, so say so loudly
            log.exception("room %s: %s stopped", self.room.name, name)
            self.submit(RoomStatus(room=self.room.name, platform=self.room.platform, state="failed", detail=repr(exc)))

    def _has_anchor_work(self) -> bool:
        return bool(self._anchor)

    def _anchor_next(self) -> bool:
        """Whether the anchor's lane goes next: once viewer chat backs up, or when it came first."""
        anchor, viewer = self._anchor, self._viewer
        return bool(anchor) and (not viewer or len(viewer) > self.PRIORITY_AFTER or anchor[0][0] < viewer[0][0])

    async def _consume(self) -> None:
        anchor, viewer = self._anchor, self._viewer
        while True:
            if self._inline:
                # a segment is being handled by its ingest request (see submit_and_wait): one at a time
                self._inline_over.clear()
                await self._inline_over.wait()
                continue
            if not anchor and not viewer:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self._anchor_next():
                _n, event, done = anchor.popleft()
                self._consuming = True
                try:
                    await self._handle(event, done)
                finally:
                    self._consuming = False
                continue
            # viewer work waits for the process's budget of this loop round (anchor work never does)
            if not VIEWER_BUDGET.ready(self._has_anchor_work):
                await VIEWER_BUDGET.turn(interrupt=self._has_anchor_work)
            if self._inline or not viewer or self._anchor_next():
                continue
            if self._viewer_batch():
                continue
            _n, event = viewer.popleft()
            self.pipeline.shed_faq = len(viewer) >= self.SHED_FAQ_AT
            self._consuming = True
            try:
                await self.pipeline.handle(event)
            finally:
                self.pipeline.shed_faq = False
                self._consuming = False

    def _viewer_batch(self) -> bool:
        """Handle viewer events one after another without a coroutine each, while the round's budget
        lasts and nothing of the anchor's should go first (the same order as one at a time: this
        loop never yields, and neither did awaiting a budget with time left). False when the next
        event needs the awaiting path (the bus waits, or it is the anchor's)."""
        viewer, pipeline = self._viewer, self.pipeline
        handle_now = pipeline.handle_viewer_now
        done = 0
        self._consuming = True
        try:
            while viewer:
                pipeline.shed_faq = len(viewer) > self.SHED_FAQ_AT
                if not handle_now(viewer[0][1]):
                    break
                viewer.popleft()
                done += 1
                if self._inline or self._anchor_next() or not VIEWER_BUDGET.ready(self._has_anchor_work):
                    break
        finally:
            pipeline.shed_faq = False
            self._consuming = False
        return done > 0

    async def _handle(self, event: Event, done: asyncio.Future[None] | None) -> None:
        if isinstance(event, RoomStatus):
            self.state, self.state_detail, self.since = event.state, event.detail, time.time()
        await self.pipeline.handle(event)
        if done is None or done.done():
            return
        try:
            if self.flush_audit is not None:
                self.flush_audit()
        except OSError as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)

    def start(self, *, join_after: float = 0.0) -> None:
        self._tasks.append(asyncio.create_task(self._consume(), name=f"room:{self.room.name}:pipeline"))
        if self.adapter is not None:
            # restarts the adapter if it ever dies; a socket with a backlog never suspends its reader:
            # receiving shares a budget per loop round with every room's receiving
            self.supervisor = AdapterSupervisor(
                self.adapter, self.submit, after_event=RECEIVE_BUDGET.turn, skip_after_event=RECEIVE_BUDGET.ready
            )
            run = _after(join_after, self.supervisor.run())
            self._tasks.append(asyncio.create_task(run, name=f"room:{self.room.name}:adapter"))
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
            await asyncio.wait_for(self._idle.wait(), timeout=5.0)
        await cancel_and_wait(*self._tasks)
        # whatever the consumer could not reach in time is still audited
        while self._anchor:
            _n, event, done = self._anchor.popleft()
            self._audit_only(event)
            if done is not None and not done.done():
                done.set_exception(ConnectionAbortedError("the room stopped before the segment was handled"))
        while self._viewer:
            self._audit_only(self._viewer.popleft()[1])
        await self.pipeline.close()

    def status(self) -> dict[str, Any]:
        return {
            "platform": self.room.platform,
            "state": self.state,
            "detail": self.state_detail,
            "since": self.since,
            "queued": self.queued,
            "queued_anchor": len(self._anchor),
            "queued_viewer": len(self._viewer),
            **self.pipeline.counters,
            **(self.supervisor.status() if self.supervisor else {}),
            "shed": self.shed,
        }


#: what a throwaway match at start goes through: Latin letters, pinyin, digits, ideographs, a question
_WARM_UP_TEXT = "abc kefu 123 请问这个多久发货呀？"


def _warm_up(stores: list[FaqStore]) -> None:
    """Match one throwaway message per FAQ at start, off the loop: what the matcher builds on first
    use (the table of pinyin syllables took 650 ms in the event loop on the first viewer line with
    Latin letters in it, while that room's anchor waited) is built before the first viewer asks."""
    for store in stores:
        store.match(_WARM_UP_TEXT, second_opinion=False)


async def _after(delay: float, work: Awaitable[None]) -> None:
    """Start ``work`` after ``delay`` seconds (paced joins); a cancelled wait never starts it."""
    if delay > 0:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            if isinstance(work, Coroutine):
                work.close()
            raise
    await work


class Service:
    #: the pipeline each room gets (the Redis worker's commits each ingested segment atomically)
    pipeline_class: type[RoomPipeline] = RoomPipeline

    def __init__(self, settings: Settings, *, bus: Bus | None = None) -> None:
        self.settings = settings
        self.bus = bus or MemoryBus(
            settings.bus.replay, settings.bus.subscriber_queue, viewer_replay=settings.bus.viewer_replay
        )
        self.audit = AuditLog(settings.audit.dir)
        self.rule_sets: dict[tuple[str, ...], RuleSet] = {}
        self.faq_stores: dict[str, FaqStore] = {}
        self.runners: dict[str, RoomRunner] = {}
        self.http: aiohttp.ClientSession | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.started_at = time.time()
        #: ``livebot run`` sets it: freeze the start-up heap and tune the collector (not in tests)
        self.settle_heap_after_start = False
        if GC_PAUSES not in gc.callbacks:
            gc.callbacks.append(GC_PAUSES)

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

    def _http_session(self) -> aiohttp.ClientSession:
        """The session every adapter shares, with a connection limit sized from the rooms.

        aiohttp's default of 100 connections silently kept all rooms past the 100th reconnecting:
        each room holds a websocket and now and then a set-up or send request."""
        rooms = len(self.settings.rooms)
        connector = aiohttp.TCPConnector(limit=2 * rooms + 32, limit_per_host=0)
        return aiohttp.ClientSession(connector=connector)

    def _join_delay(self, index: int) -> float:
        """When the ``index``-th room starts joining: ``JOINS_PER_SECOND`` at most, so a restart of
        hundreds of rooms does not hammer the platform's set-up API all at once."""
        return index / JOINS_PER_SECOND

    async def start(self) -> None:
        await self.bus.start()
        self.http = self._http_session()
        for index, room in enumerate(self.settings.rooms):
            if isinstance(self.bus, MemoryBus):
                # sequence ids continue after a restart, and open overlays replay what they missed
                self.bus.restore(
                    room.name, await asyncio.to_thread(self.audit.recent, room.name, self.settings.bus.replay)
                )
            runner = self._build_room(room)
            runner.flush_audit = self.audit.flush
            self.runners[room.name] = runner
            runner.start(join_after=self._join_delay(index))
        if self.faq_stores:
            await asyncio.to_thread(_warm_up, list(self.faq_stores.values()))
        self._watcher = asyncio.create_task(self._watch_files(), name="reload-watcher")
        LOOP_LAG.start()
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
        LOOP_LAG.stop()
        if self._watcher is not None:
            await cancel_and_wait(self._watcher)
        await asyncio.gather(*(r.stop() for r in self.runners.values()), return_exceptions=True)
        if self.http is not None:
            await self.http.close()
        await self.bus.close()
        self.audit.close()
        log.info("service stopped")

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        await self.start()
        if self.settle_heap_after_start:
            settle_heap()
        yield
        await self.stop()

    # --- what the web app calls ---------------------------------------------------------------

    async def ingest(self, event: Event) -> None:
        """Hand a segment to its room; returns once it is handled and in the audit log (flushed).

        Raises ``IngestTimeout`` when that took longer than ``INGEST_ACK_SECONDS``: the caller
        must not acknowledge the segment then."""
        runner = self.runners.get(event.room)
        if runner is None:
            raise KeyError(event.room)
        try:
            await asyncio.wait_for(runner.submit_and_wait(event), timeout=INGEST_ACK_SECONDS)
        except TimeoutError:
            raise IngestTimeout(
                f"room {event.room}: the segment was not in the audit log within {INGEST_ACK_SECONDS:.0f} s"
            ) from None

    def status(self) -> dict[str, Any]:
        rooms = {name: r.status() for name, r in self.runners.items()}
        bus = self.bus.health()
        states: dict[str, int] = {}
        shed = {"faq": 0, "rules": 0, "feed": 0}
        for room in rooms.values():
            states[room["state"]] = states.get(room["state"], 0) + 1
            for kind, count in room["shed"].items():
                shed[kind] = shed.get(kind, 0) + count
        return {
            "ok": bool(bus.get("ok", True)),
            "uptime": round(time.time() - self.started_at, 1),
            "rooms": rooms,
            "joining": {"rooms": len(rooms), "connected": states.get("connected", 0), "states": states},
            "shed": shed,
            "audit": {
                "lines_written": self.audit.lines_written,
                "unreadable_at_start": sum(self.audit.unreadable.values()),
            },
            "bus": bus,
            "gc": GC_PAUSES.status(),
            "loop": LOOP_LAG.status(),
            "viewer_budget_waits": VIEWER_BUDGET.exhausted,
            "faq": self._faq_status(),
        }

    def _faq_status(self) -> dict[str, Any]:
        stores = list(self.faq_stores.values())
        return {
            "files": len(stores),
            # FAQ files whose entries the sentence encoder is still embedding (start-up work)
            "encoder_loading": sum(1 for s in stores if s.semantic_loading),
            "semantic_skipped": sum(s.semantic_skipped for s in stores),
            # CPU seconds spent matching, and windows in which matching used up its share of a core
            "match_cpu_seconds": round(MATCH_CPU.seconds, 2),
            "share_waits": FAQ_BUDGET.share_exhausted,
        }
