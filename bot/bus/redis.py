"""The Redis bus: one Redis Stream per room, shared by every worker and web node.

Writing (workers). A room has one writer at a time: the worker holding the room's lease. The
writer numbers events itself (1, 2, 3, ... continuing the room's counter in Redis) and appends
them with ``XADD <stream> MAXLEN ~ <replay> <seq>-0``, so a stream entry id *is* the sequence id
and any web node can replay from ``<after>-0``. Every append goes through one Lua script that
checks, atomically, that the lease still names this worker (fencing: a worker that lost its
room can never write into it again) and that the ids continue the stream.

Publishing waits for Redis when Redis is reachable, so what the audit log records after
``publish`` returns is on the stream. When Redis is away, events wait in a bounded per-room
outbox (``[bus] replay`` events, the most a replay could show anyway) and go out in order when
it is back; a full outbox makes the room's pipeline wait instead of dropping anything.

Units. ``writer.unit(commit=ID)`` groups everything published while handling one input (one
ingested speech segment) into one Lua call that also stores ``ID`` as the room's ingest
position. A worker killed mid-way leaves nothing of that input behind, and the next owner
processes it again from the stored position: each ingested segment's results appear once.

Reading (web nodes). ``subscribe(room, after)`` replays with ``XRANGE`` and then follows the
room through one shared ``XREAD BLOCK`` per node (``StreamTail``); a subscriber whose queue
fills up is dropped exactly as on the memory bus and replays on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.adapters.base import Backoff
from bot.bus.base import CLOSED, Bus, QueuedSubscription
from bot.bus.redis_keys import Keys
from bot.bus.redis_link import OUTAGE_ERRORS, RedisLink, ScriptBatcher
from bot.bus.stream_tail import Entries, StreamTail
from bot.events import Event, EventFormatError, event_from_dict, is_bulk
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# KEYS: 1 events stream, 2 seq counter, 3 lease, 4 ingest position, 5 kept stream
# ARGV: 1 fence token ('' = unfenced), 2 MAXLEN, 3 ingest position to store ('' = none),
#       then triples of (seq, event JSON, '1' if the event also goes on the kept stream) in
#       increasing seq order
APPEND_LUA = """
if ARGV[1] ~= '' then
  local owner = redis.call('GET', KEYS[3])
  if owner ~= ARGV[1] then return {'FENCED', owner or ''} end
end
if #ARGV >= 6 then
  local last = redis.call('GET', KEYS[2])
  if last then
    last = tonumber(last)
  else
    local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
    last = 0
    if #top > 0 then last = tonumber(string.match(top[1][1], '^(%d+)')) end
  end
  if tonumber(ARGV[4]) <= last then return {'STALE', tostring(last)} end
  local top = ARGV[4]
  for i = 4, #ARGV, 3 do
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], ARGV[i] .. '-0', 'e', ARGV[i + 1])
    if ARGV[i + 2] == '1' then
      redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[2], ARGV[i] .. '-0', 'e', ARGV[i + 1])
    end
    top = ARGV[i]
  end
  redis.call('SET', KEYS[2], top)
end
if ARGV[3] ~= '' then redis.call('SET', KEYS[4], ARGV[3]) end
return {'OK', ''}
"""

# the newest seq of a room: the counter, or the top of the stream if the counter is missing
SEQ_LUA = """
local last = redis.call('GET', KEYS[1])
if last then return tonumber(last) end
local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #top > 0 then return tonumber(string.match(top[1][1], '^(%d+)')) end
return 0
"""

#: events per Lua call when an outbox drains
FLUSH_BATCH = 200
#: events per XRANGE page when a subscriber replays
REPLAY_PAGE = 500


def event_payload(event: Event) -> str:
    """The JSON kept on the stream: the event without its seq (the entry id) and raw payload."""
    record = event.to_dict()
    record.pop("seq", None)
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        text.encode("utf-8")
    except UnicodeEncodeError:
        # a lone surrogate from a hostile payload: keep it, escaped, rather than fail the room
        text = json.dumps(record, ensure_ascii=True, separators=(",", ":"))
    return text


def seq_of(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def event_from_entry(entry_id: str, fields: dict[bytes, bytes]) -> Event:
    payload = fields.get(b"e")
    if payload is None:
        raise EventFormatError("stream entry without an e field")
    return event_from_dict(json.loads(payload)).with_seq(seq_of(entry_id))


# --- writing ------------------------------------------------------------------------------------


@dataclass
class _Batch:
    events: list[Event]
    commit: str | None = None
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)
    state: str = "pending"  # pending | done | dropped

    def __post_init__(self) -> None:
        self.payloads = [event_payload(e) for e in self.events]


class Unit:
    """What one input produced, published to Redis in one atomic step with ``commit``."""

    def __init__(self, writer: RoomWriter, commit: str | None) -> None:
        self.writer = writer
        self.commit = commit
        self.events: list[Event] = []
        self.after_commit: list[Callable[[], None]] = []
        #: set when the unit ended: a task that inherited the context (created inside the unit)
        #: publishes normally from then on instead of into a unit nobody will commit
        self.closed = False


_UNIT: contextvars.ContextVar[Unit | None] = contextvars.ContextVar("livebot_bus_unit", default=None)


def current_unit(room: str) -> Unit | None:
    """The unit open for ``room`` in this task, if any (the audit log defers its lines to it)."""
    unit = _UNIT.get()
    return unit if unit is not None and unit.writer.room == room and not unit.closed else None


class RoomWriter:
    """The one writer of a room's stream on this node (see the module docstring)."""

    def __init__(
        self,
        bus: RedisBus,
        room: str,
        *,
        token: str = "",
        on_fenced: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.bus = bus
        self.room = room
        self.token = token
        self.on_fenced = on_fenced
        self.limit = bus.outbox_limit
        self.last_seq = 0
        self.lost = False
        self.pending: deque[_Batch] = deque()
        self.pending_events = 0
        self.oldest_pending: float | None = None
        self.published = 0
        self._order = asyncio.Lock()
        self._flush_lock = asyncio.Lock()
        self._space = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        k = bus.keys
        self._keys = [k.events(room), k.seq(room), k.lease(room), k.ingest_pos(room), k.kept(room)]

    async def open(self) -> None:
        """Continue the room's numbering (waits for Redis if it is away)."""
        while True:
            await self.bus.link.wait_up()
            try:
                self.last_seq = await self.bus.fetch_seq(self.room)
                return
            except OUTAGE_ERRORS as exc:
                self.bus.link.mark_down(exc)

    # --- publishing -----------------------------------------------------------------------------

    async def publish(self, event: Event) -> Event:
        unit = _UNIT.get()
        if unit is not None and unit.writer is self and not unit.closed:
            self.last_seq += 1
            published = event.with_seq(self.last_seq)
            unit.events.append(published)
            return published
        async with self._order:
            self.last_seq += 1
            published = event.with_seq(self.last_seq)
            batch = _Batch([published])
            await self._enqueue(batch)
        await self._settle(batch)
        return published

    @contextlib.asynccontextmanager
    async def unit(self, commit: str | None = None) -> AsyncIterator[Unit]:
        """Hold the room's numbering while one input is handled, then publish its results at once.

        Cancelled half-way (the room is stopping), nothing of it is published or committed: the
        next owner handles the input again from the stored ingest position.
        """
        await self._order.acquire()
        unit = Unit(self, commit)
        token = _UNIT.set(unit)
        batch: _Batch | None = None
        try:
            yield unit
            if unit.events or commit:
                ready = _Batch(unit.events, commit, unit.after_commit)
                await self._enqueue(ready)
                batch = ready
            else:
                for callback in unit.after_commit:
                    callback()
        except BaseException:
            if batch is None and unit.events:
                # numbering continues from what was really published
                self.last_seq = unit.events[0].seq - 1
            raise
        finally:
            unit.closed = True
            _UNIT.reset(token)
            self._order.release()
        if batch is not None:
            await self._settle(batch)

    async def _enqueue(self, batch: _Batch) -> None:
        while self.pending_events >= self.limit and not self.lost:
            if self.pending_events == self.limit:
                log.warning("room %s: outbox full (%d events); the pipeline waits for redis", self.room, self.limit)
            self._space.clear()
            await self._space.wait()
        if self.lost:
            self._drop([batch], "the room was lost")
            return
        if not self.pending:
            self.oldest_pending = time.monotonic()
        self.pending.append(batch)
        self.pending_events += len(batch.events)

    async def _settle(self, batch: _Batch) -> None:
        """Wait until the batch is on Redis, unless Redis is away (then it waits in the outbox)."""
        if batch.state != "pending":
            return
        if self.bus.link.up:
            await self.flush()
        if batch.state == "pending":
            self._ensure_drainer()

    # --- the outbox -----------------------------------------------------------------------------

    async def flush(self) -> None:
        async with self._flush_lock:
            while self.pending and not self.lost:
                if not self.bus.link.up:
                    return
                group: list[_Batch] = []
                size = 0
                for batch in self.pending:
                    if group and size + len(batch.events) > FLUSH_BATCH:
                        break
                    group.append(batch)
                    size += len(batch.events)
                try:
                    await self._send(group)
                except OUTAGE_ERRORS as exc:
                    self.bus.link.mark_down(exc)
                    return
                except Exception as exc:
                    # e.g. OOM refusals from a full Redis: keep the events, retry with backoff
                    log.error("room %s: redis refused %d event(s): %s; retrying", self.room, size, exc)
                    return

    async def _send(self, group: list[_Batch]) -> None:
        args: list[Any] = [self.token, self.bus.replay, ""]
        for batch in group:
            if batch.commit:
                args[2] = batch.commit
            for event, payload in zip(batch.events, batch.payloads, strict=True):
                args += [event.seq, payload, "0" if is_bulk(event) else "1"]
        owner = ""
        for _attempt in range(3):
            result = await self.bus._append(keys=self._keys, args=args)
            status = _text(result[0])
            if status == "OK":
                self._done(group)
                return
            if status == "STALE":
                if await self._already_there(group):
                    self._done(group)  # a retry after a lost reply found its own entries
                    return
                last = int(_text(result[1]))
                log.error(
                    "room %s: another process wrote seq %d into this room; renumbering %d waiting event(s)",
                    self.room,
                    last,
                    self.pending_events,
                )
                self._renumber(last)
                return
            # FENCED: the lease does not name us. The owner may still hold the room (Redis lost
            # the lease in a restart without persistence): ask it to renew, then try again.
            owner = _text(result[1]) if len(result) > 1 else ""
            if self.on_fenced is None or not await self.on_fenced(self.room):
                break
        self.lost = True
        # An earlier attempt may have been applied with its reply lost (Redis restarting): those
        # batches are on the stream and their ingest position is stored, so no other worker will
        # handle their input again. Their deferred steps (the audit lines of a unit) must run here.
        landed = await self._landed_prefix()
        if landed:
            self._done(landed)
        log.error(
            "room %s: lease lost (held by %s); dropping %d unpublished event(s) (they are in the audit log,"
            " or their input is handled again by the room's next owner)",
            self.room,
            owner or "nobody",
            self.pending_events,
        )
        self._drop(list(self.pending), "lease lost")
        self._space.set()

    async def _landed_prefix(self) -> list[_Batch]:
        """The waiting batches, oldest first, that are already on the stream (as far as Redis says)."""
        landed: list[_Batch] = []
        with contextlib.suppress(*OUTAGE_ERRORS):
            for batch in self.pending:
                if not await self._already_there([batch]):
                    break
                landed.append(batch)
        return landed

    async def _already_there(self, group: list[_Batch]) -> bool:
        """After a lost reply, a retry finds its own entries: that is success, not a conflict."""
        batch = next((b for b in group if b.events), None)
        if batch is None:
            return False
        seq = batch.events[0].seq
        entry = await self.bus.link.client.xrange(self._keys[0], f"{seq}-0", f"{seq}-0")
        return bool(entry) and entry[0][1].get(b"e", b"").decode() == batch.payloads[0]

    def _renumber(self, last: int) -> None:
        seq = last
        for batch in self.pending:
            batch.events = [e.with_seq(seq := seq + 1) for e in batch.events]
        self.last_seq = max(self.last_seq, seq)

    def _done(self, group: list[_Batch]) -> None:
        for batch in group:
            if batch.state == "done":
                continue  # its steps ran already
            if self.pending and self.pending[0] is batch:
                self.pending.popleft()
                self.pending_events -= len(batch.events)
            # else the room stopped (and dropped what waited) while this batch's reply was on the
            # way: it is on the stream all the same, with its ingest position, so its deferred steps
            # (a unit's audit lines) must still run; nobody will handle its input again
            self.published += len(batch.events)
            batch.state = "done"
            for callback in batch.after_commit:
                try:
                    callback()
                except Exception:
                    log.exception("room %s: an after-publish step failed", self.room)
        self.bus._note_published(self.room, group)
        self.oldest_pending = time.monotonic() if self.pending else None
        self._space.set()

    def _drop(self, batches: Iterable[_Batch], why: str) -> None:
        for batch in batches:
            batch.state = "dropped"
        self.pending.clear()
        self.pending_events = 0
        self.oldest_pending = None
        log.debug("room %s: dropped waiting events: %s", self.room, why)

    def _ensure_drainer(self) -> None:
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(self._drain(), name=f"outbox:{self.room}")

    async def _drain(self) -> None:
        backoff = Backoff(base=0.2, cap=5.0)
        while self.pending and not self.lost:
            await self.bus.link.wait_up()
            await self.flush()
            if self.pending and not self.lost:
                await asyncio.sleep(backoff.delay())

    async def close(self, wait: float = 5.0) -> None:
        """Flush what waits (up to ``wait`` seconds), then stop."""
        if self.pending and not self.lost:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drain(), wait)
        if self.pending:
            log.warning(
                "room %s: %d event(s) never reached redis (they are in the audit log)", self.room, self.pending_events
            )
        if self._drainer is not None:
            await cancel_and_wait(self._drainer)

    def lag(self) -> float:
        """Seconds the oldest waiting event has waited (0 when the outbox is empty)."""
        return 0.0 if self.oldest_pending is None else time.monotonic() - self.oldest_pending


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- reading ------------------------------------------------------------------------------------

_RESET = object()


class RedisSubscription(QueuedSubscription):
    def __init__(
        self, bus: RedisBus, room: str, after_seq: int | None, queue_size: int, *, skip_bulk: bool = False
    ) -> None:
        self._bus = bus
        self.room = room
        self.skip_bulk = skip_bulk
        self._from_start = after_seq is not None
        # live only: start after what this node believes is the newest (what the hello reports)
        self._known = after_seq is not None or room in bus._last or room in bus._writers
        self.pos = after_seq if after_seq is not None else bus.last_seq(room)
        self._init_queue(queue_size)
        self.attached = False

    async def _page(self, after: int, upto: int | None = None) -> list[Event]:
        while True:
            try:
                return await self._bus.read_range(self.room, after, upto, REPLAY_PAGE)
            except OUTAGE_ERRORS as exc:
                self._bus.link.mark_down(exc)
                await self._bus.link.wait_up()

    async def _iterate(self) -> AsyncIterator[Event]:
        # a second iteration (after the first was abandoned) goes on where the first stopped
        if not self.attached and not self.closed:
            if self._from_start or not self._known:
                while True:
                    try:
                        current = await self._bus.fetch_seq(self.room)
                        break
                    except OUTAGE_ERRORS as exc:
                        self._bus.link.mark_down(exc)
                        await self._bus.link.wait_up()
                if not self._from_start:
                    self.pos = current  # this node knew nothing of the room: live from now
                elif self.pos > current:
                    # the page remembers a seq this room never reached (Redis lost its data and every
                    # writer restarted): give it everything there is rather than nothing
                    self.pos, self.gap = 0, True
            # replay what is on the stream, page by page, with what the kept stream still holds
            # of what MAXLEN trimmed away from it (warnings under a chat flood)
            # (read first: both are written in one step, so the stream holds all the kept one does)
            kept = await self._kept(self.pos) if self._from_start else []
            page = await self._page(self.pos)
            head = page[0].seq if page else None
            for early in kept:
                if head is None or early.seq < head:
                    yield self._replayed(early)
            while True:
                for event in page:
                    yield self._replayed(event)
                if len(page) < REPLAY_PAGE:
                    break
                page = await self._page(self.pos)
            # then live, through the node's shared tail
            self._bus._attach(self)
        while True:
            item = await self._next()
            if item is CLOSED or item is _RESET:
                return
            assert isinstance(item, Event)
            if item.seq <= self.pos:
                continue
            if item.seq > self.pos + 1:
                # attached after the tail had moved on: fetch what lies between
                for missed in await self._page(self.pos, item.seq - 1):
                    self.pos = missed.seq
                    yield missed
            self.pos = item.seq
            yield item

    def _replayed(self, event: Event) -> Event:
        if event.seq > self.pos + 1 and self._from_start:
            self.gap = True  # trimmed away by MAXLEN
        self.pos = event.seq
        return event

    async def _kept(self, after: int) -> list[Event]:
        while True:
            try:
                return await self._bus.read_kept(self.room, after)
            except OUTAGE_ERRORS as exc:
                self._bus.link.mark_down(exc)
                await self._bus.link.wait_up()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._without_bulk() if self.skip_bulk else self._iterate()

    async def _without_bulk(self) -> AsyncIterator[Event]:
        # filtered as they are read, not as they are queued: the seq order of the queue is how a
        # subscriber finds the entries the shared tail skipped
        async for event in self._iterate():
            if not is_bulk(event):
                yield event

    async def close(self) -> None:
        self._bus._detach(self)
        if not self.closed:
            self._end()


# --- the bus ------------------------------------------------------------------------------------


class RedisBus(Bus):
    def __init__(
        self,
        link: RedisLink | str,
        *,
        prefix: str = "livebot",
        replay: int = 2000,
        subscriber_queue: int = 1000,
        watch_rooms: Iterable[str] = (),
        seq_refresh: float = 1.0,
    ) -> None:
        # a link handed in may serve other parts of the node: only close one we made
        self._owns_link = not isinstance(link, RedisLink)
        self.link = link if isinstance(link, RedisLink) else RedisLink(link)
        self.keys = Keys(prefix)
        self.replay = replay
        self.outbox_limit = replay
        self._queue_size = subscriber_queue
        self._watch = set(watch_rooms)
        self._seq_refresh = seq_refresh
        self._writers: dict[str, RoomWriter] = {}
        self._opening: dict[str, asyncio.Future[RoomWriter]] = {}
        self._subs: dict[str, set[RedisSubscription]] = {}
        self._last: dict[str, int] = {}
        self._oldest: dict[str, int] = {}
        self._tail_rooms: dict[str, str] = {}  # stream key -> room
        self._tail = StreamTail(self.link, self._on_entries, name="events-tail")
        # many rooms publishing at once share round trips (auto-pipelining)
        self._append = ScriptBatcher(self.link.client, APPEND_LUA)
        self._seq_script = self.link.client.register_script(SEQ_LUA)
        self._watcher: asyncio.Task[None] | None = None
        self._started = False
        # figures for /metrics
        self.delivered = 0
        self.delivery_lag: dict[str, float] = {}
        self.dropped_subscribers = 0

    @classmethod
    def from_settings(
        cls, settings: Any, link: RedisLink | None = None, *, watch_rooms: Iterable[str] = ()
    ) -> RedisBus:
        return cls(
            link or settings.redis.url,
            prefix=settings.redis.prefix,
            replay=settings.bus.replay,
            subscriber_queue=settings.bus.subscriber_queue,
            watch_rooms=watch_rooms,
        )

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self.link.start()
        self._tail.start()
        self._watcher = asyncio.create_task(self._watch_seqs(), name="redis-seq-watch")

    # --- writing --------------------------------------------------------------------------------

    async def open_writer(
        self, room: str, *, token: str = "", on_fenced: Callable[[str], Awaitable[bool]] | None = None
    ) -> RoomWriter:
        """Become the room's writer on this node; ``token`` (the lease holder's id) fences every append."""
        old = self._writers.pop(room, None)
        if old is not None:
            await old.close(wait=0)
        writer = RoomWriter(self, room, token=token, on_fenced=on_fenced)
        await writer.open()
        self._writers[room] = writer
        return writer

    async def close_writer(self, room: str, wait: float = 5.0) -> None:
        writer = self._writers.pop(room, None)
        if writer is not None:
            await writer.close(wait)

    def writer(self, room: str) -> RoomWriter | None:
        return self._writers.get(room)

    async def _writer_for(self, room: str) -> RoomWriter:
        writer = self._writers.get(room)
        if writer is not None:
            return writer
        # no lease-holding writer: an unfenced one (a single `livebot run`, tests, benchmarks)
        opening = self._opening.get(room)
        if opening is None:
            opening = self._opening[room] = asyncio.get_running_loop().create_future()
            try:
                writer = RoomWriter(self, room)
                await writer.open()
                self._writers[room] = writer
                opening.set_result(writer)
            except BaseException as exc:
                opening.set_exception(exc)
                raise
            finally:
                del self._opening[room]
            return writer
        return await opening

    async def publish(self, event: Event) -> Event:
        writer = await self._writer_for(event.room)
        return await writer.publish(event)

    def _note_published(self, room: str, group: list[_Batch]) -> None:
        top = group[-1].events[-1].seq if group[-1].events else 0
        if top > self._last.get(room, 0):
            self._last[room] = top

    # --- reading --------------------------------------------------------------------------------

    async def fetch_seq(self, room: str) -> int:
        seq = int(await self._seq_script(keys=[self.keys.seq(room), self.keys.events(room)]))
        self._last[room] = seq
        return seq

    async def read_range(self, room: str, after: int, upto: int | None, count: int) -> list[Event]:
        """Events with ``after < seq <= upto`` (``upto`` None: to the end), oldest first."""
        end = "+" if upto is None else f"{upto}-0"
        entries = await self.link.client.xrange(self.keys.events(room), f"({after}-0", end, count=count)
        return self._parse(room, [(_text(i), f) for i, f in entries])

    async def read_kept(self, room: str, after: int) -> list[Event]:
        """The kept stream's events with ``seq > after`` (at most one window of them), oldest first."""
        entries = await self.link.client.xrange(self.keys.kept(room), f"({after}-0", "+", count=self.replay)
        return self._parse(room, [(_text(i), f) for i, f in entries])

    def _parse(self, room: str, entries: Entries) -> list[Event]:
        out: list[Event] = []
        for entry_id, fields in entries:
            try:
                out.append(event_from_entry(entry_id, fields))
            except (ValueError, EventFormatError) as exc:
                log.warning("room %s: skipping unreadable stream entry %s: %s", room, entry_id, exc)
        return out

    def subscribe(self, room: str, after_seq: int | None = None, *, skip_bulk: bool = False) -> RedisSubscription:
        sub = RedisSubscription(self, room, after_seq, self._queue_size, skip_bulk=skip_bulk)
        if after_seq is not None and room in self._last:
            last = self._last[room]
            if after_seq > last:
                sub.gap = True
            else:
                oldest = self._oldest.get(room)
                sub.gap = oldest is not None and after_seq + 1 < oldest and after_seq < last
        self._subs.setdefault(room, set())
        self._watch.add(room)
        return sub

    def _attach(self, sub: RedisSubscription) -> None:
        if sub.closed:
            return
        subs = self._subs.setdefault(sub.room, set())
        subs.add(sub)
        sub.attached = True
        key = self.keys.events(sub.room)
        if key not in self._tail:
            self._tail_rooms[key] = sub.room
            self._tail.add(key, f"{sub.pos}-0")

    def _detach(self, sub: RedisSubscription) -> None:
        subs = self._subs.get(sub.room)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            key = self.keys.events(sub.room)
            self._tail.remove(key)
            self._tail_rooms.pop(key, None)

    def _on_entries(self, key: str, entries: Entries) -> None:
        room = self._tail_rooms.get(key)
        if room is None:
            return
        events = self._parse(room, entries)
        if not events:
            return
        if events[-1].seq > self._last.get(room, 0):
            self._last[room] = events[-1].seq
        self.delivery_lag[room] = max(0.0, time.time() - events[-1].ts)
        for sub in list(self._subs.get(room, ())):
            for event in events:
                if not sub._offer(event):
                    log.warning(
                        "room %s: dropping a slow subscriber (%d events undelivered); it will replay on reconnect",
                        room,
                        sub._limit,
                    )
                    self.dropped_subscribers += 1
                    self._detach(sub)
                    sub.dropped = True
                    sub._end()
                    break
            else:
                self.delivered += len(events)

    async def _watch_seqs(self) -> None:
        """Keep ``last_seq`` answers fresh for rooms this node serves, and notice a room whose
        numbering went back (Redis lost its data and no writer remembered): its subscribers are
        ended so their pages reconnect and start over, as after a server restart."""
        while True:
            rooms = sorted(self._watch | {r for r, s in self._subs.items() if s})
            if rooms and self.link.up:
                # where the tail stood before asking: an entry it had read existed before the GET ran,
                # so only a counter below that is a restart (a newer tail position is just a race)
                followed = {room: self._tail.position(self.keys.events(room)) for room in rooms}
                try:
                    async with self.link.client.pipeline(transaction=False) as pipe:
                        for room in rooms:
                            pipe.get(self.keys.seq(room))
                            pipe.xrange(self.keys.events(room), "-", "+", count=1)
                        replies = await pipe.execute()
                except OUTAGE_ERRORS as exc:
                    self.link.mark_down(exc)
                    replies = []
                for i, room in enumerate(rooms[: len(replies) // 2]):
                    raw_seq, first = replies[2 * i], replies[2 * i + 1]
                    oldest = seq_of(_text(first[0][0])) if first else None
                    if oldest is not None:
                        self._oldest[room] = oldest
                    if raw_seq is None and oldest is None:
                        continue  # nothing there (yet, or lost): keep what we know
                    seq = int(raw_seq) if raw_seq is not None else self._last.get(room, 0)
                    if room in self._writers:
                        continue  # this node numbers the room itself
                    if self._check_reset(room, seq, followed[room]) or followed[room] is None:
                        self._last[room] = seq  # Redis is the authority for rooms not being followed
                    else:
                        self._last[room] = max(self._last.get(room, 0), seq)
            await asyncio.sleep(self._seq_refresh)

    def _check_reset(self, room: str, seq: int, before: str | None) -> bool:
        key = self.keys.events(room)
        pos = self._tail.position(key)
        if pos is None or before is None or seq >= seq_of(before):
            return False
        log.warning("room %s: numbering restarted at %d (was %s); overlays reconnect and replay", room, seq, pos)
        self._last[room] = seq
        self._tail.remove(key)
        self._tail_rooms.pop(key, None)
        for sub in list(self._subs.get(room, ())):
            self._detach(sub)
            sub.dropped = True
            sub._end(_RESET)
        return True

    def last_seq(self, room: str) -> int:
        writer = self._writers.get(room)
        if writer is not None:
            return writer.last_seq
        return self._last.get(room, 0)

    # --- health ---------------------------------------------------------------------------------

    def buffered(self) -> int:
        return sum(w.pending_events for w in self._writers.values())

    def health(self) -> dict[str, object]:
        out = self.link.health()
        out["kind"] = "redis"
        buffered = self.buffered()
        if buffered:
            out["buffered_events"] = buffered
        return out

    async def close(self) -> None:
        for room in list(self._writers):
            await self.close_writer(room, wait=2.0 if self.link.up else 0)
        for subs in self._subs.values():
            for sub in list(subs):
                sub._end()
            subs.clear()
        if self._watcher is not None:
            await cancel_and_wait(self._watcher)
            self._watcher = None
        await self._tail.close()
        if self._owns_link:
            await self.link.close()
        self._started = False
