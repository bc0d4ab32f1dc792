"""The per-room pipeline: route each event to what must see it.

- anchor text (speech segments, and chat lines from the anchor's own account) -> the compliance
  engine -> ``Warning`` events;
- viewer chat -> the FAQ responder -> ``FaqReply`` events (and chat replies through the adapter);
- every event and every result -> the bus (overlays, console) and the audit log.

One pipeline handles one room's events strictly in order. A failure on one event is logged and
the pipeline goes on with the next: a room's loop never dies from bad input.

Viewer questions go to the FAQ responder through a queue of their own: answering may wait on the
platform's send API, and a warning for the anchor must never wait behind a chat reply.

FAQ matching is the first work shed under overload (counted in ``counters["shed_faq"]``, reported
through ``on_shed``): viewer chat is then published and audited but not matched, either because the
room's runner set ``shed_faq`` (its viewer lane backs up), because ``FAQ_QUEUE`` questions already
wait for the answerer, or because the line is beyond what the room's replies can use (the
responder's ``admits``: a match allowance per room, see ``bot.faq.demand``). Anchor text is never
shed. The answerer takes each question within the process's FAQ budget of the loop round
(``bot.loop_budget``): matching costs about a millisecond, and a backlog of questions must never
hold a warning.

A warning carries a bounded context window of the utterance, not the whole of it, and one segment
raises at most ``MAX_WARNINGS_PER_SEGMENT`` warnings: further hits of a rule already warned about
are merged into that warning (``repeats``), hits beyond the cap are counted on the segment's last
warning (``more``) and in ``counters["warnings_merged"]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable
from typing import Any, Protocol

from bot.audit import AuditLog
from bot.bus.base import Bus
from bot.events import AnchorSpeech, ChatMessage, Event, FaqReply, User, Warning
from bot.faq.store import MATCH_CPU
from bot.loop_budget import FAQ_BUDGET
from bot.tasks import cancel_and_wait
from rules import Hit, RuleEngine, SpeechStream

log = logging.getLogger(__name__)

# the FAQ budget's share of a core is measured in the CPU time of matching itself
FAQ_BUDGET.meter = MATCH_CPU

#: characters of the utterance kept on each side of the phrase in a warning's ``text``
CONTEXT_CHARS = 40
#: warnings one segment (or one anchor chat line) may raise; the rest are merged and counted
MAX_WARNINGS_PER_SEGMENT = 8
#: segments whose warning counts are remembered (partials of a segment arrive close together)
_SEGMENTS_REMEMBERED = 64
_SEVERITY_RANK = {"block": 0, "warn": 1, "info": 2}
#: viewer questions waiting for the FAQ answerer beyond which new ones are not matched (shed)
FAQ_QUEUE = 32


def context_window(utterance: str, start: int, end: int, around: int = CONTEXT_CHARS) -> tuple[str, int]:
    """The phrase at ``start:end`` with up to ``around`` characters each side, and where it begins."""
    lo = max(0, start - around)
    hi = min(len(utterance), end + around)
    return utterance[lo:hi], lo


class ChatResponder(Protocol):
    async def handle(self, msg: ChatMessage) -> None: ...

    async def close(self) -> None: ...


class RoomPipeline:
    def __init__(
        self,
        room: str,
        *,
        bus: Bus,
        audit: AuditLog | None,
        rules: Callable[[], RuleEngine],
        responder: ChatResponder | None = None,
        bot_user_ids: frozenset[str] = frozenset(),
    ) -> None:
        self.room = room
        self.bus = bus
        #: the bus's publish that never waits (the in-memory bus), for ``handle_viewer_now``; else None
        self._publish_now: Callable[[Event], Event] | None = getattr(bus, "publish_now", None)
        self.audit = audit
        # a callable, so a hot-reloaded rule set reaches the next utterance without a restart
        self._rules = rules
        self.responder = responder
        self.bot_user_ids = bot_user_ids
        self._engine: RuleEngine | None = None
        self._streams: dict[str, SpeechStream] = {}
        self.counters = {"events": 0, "warnings": 0, "errors": 0, "replies": 0, "warnings_merged": 0, "shed_faq": 0}
        #: set by the room's runner while the viewer lane is overloaded: viewer chat skips FAQ matching
        self.shed_faq = False
        #: told the kind of each piece of shed work (the runner logs them, rate-limited)
        self.on_shed: Callable[[str], None] | None = None
        # (source, segment) -> warnings raised so far, for the per-segment cap
        self._segment_warnings: dict[tuple[str, str], int] = {}
        self._questions: asyncio.Queue[ChatMessage] = asyncio.Queue()
        self._answerer: asyncio.Task[None] | None = None

    async def emit(self, event: Event) -> Event:
        """Publish to the bus, then audit with the sequence id the bus gave it."""
        raw = event.raw  # the bus may return its copy without it (overlays never see it)
        return self._after_publish(await self.bus.publish(event), raw)

    def _after_publish(self, published: Event, raw: Any) -> Event:
        if isinstance(published, FaqReply) and published.action == "sent":
            self.counters["replies"] += 1  # chat replies that went out (/metrics, the console)
        if self.audit is not None:
            try:
                self.audit.write(published, raw=raw)
            except OSError as exc:
                # a full disk must not silence the warnings; the log line tells ops at once
                log.error("room %s: audit write failed: %s", self.room, exc)
        return published

    async def handle(self, event: Event) -> None:
        self.counters["events"] += 1
        try:
            await self._route(event)
        except Exception:
            self.counters["errors"] += 1
            log.exception("room %s: failed to handle a %s event; going on", self.room, event.type)

    def handle_viewer_now(self, event: Event) -> bool:
        """``handle`` without a coroutine, for what never waits: a viewer's chat line (or any event
        that is not the anchor's) on a bus whose publish never waits. False: nothing was done, use
        ``handle``. A room's consumer takes a whole batch of viewer lines this way in one go."""
        publish_now = self._publish_now
        if publish_now is None or isinstance(event, AnchorSpeech) or self._anchor_line(event):
            return False  # what the rules check takes the async path
        self.counters["events"] += 1
        try:
            self._after_publish(publish_now(event), event.raw)
            if isinstance(event, ChatMessage):
                self._viewer_chat(event)
        except Exception:
            self.counters["errors"] += 1
            log.exception("room %s: failed to handle a %s event; going on", self.room, event.type)
        return True

    async def _route(self, event: Event) -> None:
        published = await self.emit(event)
        if isinstance(event, AnchorSpeech):
            assert isinstance(published, AnchorSpeech)
            await self._check_speech(published)
        elif isinstance(event, ChatMessage):
            if self._anchor_line(event):
                assert isinstance(published, ChatMessage)
                await self._check_chat(published)
            else:
                self._viewer_chat(event)

    def _anchor_line(self, event: Event) -> bool:
        """A chat line from the anchor's account (not our bot's echo): the rules check it."""
        user = event.user
        return isinstance(event, ChatMessage) and user is not None and user.is_anchor and not self._is_bot(user)

    def _is_bot(self, user: User) -> bool:
        return user.id in self.bot_user_ids or "bot" in user.roles

    def _viewer_chat(self, event: ChatMessage) -> None:
        """A viewer's line, already published and audited: a question for the FAQ, unless shed."""
        user = event.user
        if user is not None and self._is_bot(user):
            return  # our own replies echoed back by the platform
        if self.responder is not None and event.text:
            if self.shed_faq or self._questions.qsize() >= FAQ_QUEUE:
                self._shed("faq")
            elif not self._admits(event):
                # beyond what the room's replies can use (``bot.faq.demand``): counted the same way
                self._shed("faq")
            else:
                self._ask(event)

    def _admits(self, msg: ChatMessage) -> bool:
        admits = getattr(self.responder, "admits", None)
        return admits is None or bool(admits(msg))

    def _shed(self, kind: str) -> None:
        self.counters[f"shed_{kind}"] = self.counters.get(f"shed_{kind}", 0) + 1
        if self.on_shed is not None:
            self.on_shed(kind)

    def _ask(self, msg: ChatMessage) -> None:
        if self._answerer is None:
            # a fresh context: the answerer outlives whatever event (and its context) started it
            self._answerer = asyncio.create_task(
                self._answer_questions(), name=f"room:{self.room}:faq", context=contextvars.Context()
            )
        self._questions.put_nowait(msg)

    async def _answer_questions(self) -> None:
        assert self.responder is not None
        while True:
            msg = await self._questions.get()
            # matching costs about a millisecond: it waits for the round's budget and its share of a core
            await FAQ_BUDGET.turn()
            try:
                await self.responder.handle(msg)
            except Exception:
                self.counters["errors"] += 1
                log.exception("room %s: the FAQ responder failed on a message; going on", self.room)
            finally:
                self._questions.task_done()

    async def drain(self) -> None:
        """Wait until every accepted viewer question has been answered or held back."""
        if self._answerer is not None:
            await self._questions.join()

    def _engine_now(self) -> RuleEngine:
        engine = self._rules()
        if engine is not self._engine:
            # new rules: streaming state of the old engine cannot be carried over
            self._engine = engine
            self._streams.clear()
        return engine

    def _stream(self, engine: RuleEngine, key: str) -> SpeechStream:
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = engine.stream(scope="speech")
        return stream

    async def _check_speech(self, speech: AnchorSpeech) -> None:
        engine = self._engine_now()
        # one stream per speech source, so two caption feeds never splice each other's words
        source = speech.source or "default"
        stream = self._stream(engine, source)
        found = [(sh.hit, sh.text) for sh in stream.feed(speech.segment, speech.text, speech.final)]
        if found:
            await self._warn_all(found, speech, scope="speech", segment=speech.segment, key=(source, speech.segment))

    async def _check_chat(self, msg: ChatMessage) -> None:
        engine = self._engine_now()
        found = [(hit, msg.text) for hit in engine.scan(msg.text, scope="chat")]
        if found:
            await self._warn_all(found, msg, scope="chat", segment="", key=None)

    async def _warn_all(
        self, found: list[tuple[Hit, str]], source: Event, *, scope: str, segment: str, key: tuple[str, str] | None
    ) -> None:
        """Warn about one event's hits: one warning per rule, at most the segment's cap in all."""
        by_rule: dict[str, list[tuple[Hit, str]]] = {}
        for hit, text in found:
            by_rule.setdefault(hit.rule, []).append((hit, text))
        groups = list(by_rule.values())
        already = self._segment_warnings.get(key, 0) if key is not None else 0
        room_left = max(0, MAX_WARNINGS_PER_SEGMENT - already)
        if len(groups) > room_left:
            # the cap keeps the most severe rules (block before warn before info), in the order said
            ranked = sorted(groups, key=lambda g: _SEVERITY_RANK.get(g[0][0].severity, 3))
            kept_ids = {id(g) for g in ranked[:room_left]}
            kept = [g for g in groups if id(g) in kept_ids]
        else:
            kept = groups
        merged = len(found) - len(kept)
        if merged:
            self.counters["warnings_merged"] += merged
        more = sum(len(g) for g in groups) - sum(len(g) for g in kept)
        if key is not None:
            if len(self._segment_warnings) >= _SEGMENTS_REMEMBERED and key not in self._segment_warnings:
                self._segment_warnings.pop(next(iter(self._segment_warnings)))
            self._segment_warnings[key] = already + len(kept)
        if not kept and more:
            log.info("room %s: segment %r reached its warning cap; %d more hit(s) merged", self.room, segment, more)
        for i, group in enumerate(kept):
            hit, text = group[0]
            last = i == len(kept) - 1
            await self._warn(
                hit, text, source, scope=scope, segment=segment, repeats=len(group) - 1, more=more if last else 0
            )

    async def _warn(
        self, hit: Hit, utterance: str, source: Event, *, scope: str, segment: str, repeats: int = 0, more: int = 0
    ) -> None:
        self.counters["warnings"] += 1
        # %r keeps control characters in anchor chat lines from garbling the operator's terminal
        log.info("room %s: %s %s %r in %r", self.room, hit.severity, hit.rule, hit.matched, utterance[:80])
        window, offset = context_window(utterance, hit.start, hit.end)
        await self.emit(
            Warning(
                room=self.room,
                platform=source.platform,
                user=source.user,
                text=window,
                rule=hit.rule,
                phrase=hit.phrase,
                matched=hit.matched,
                category=hit.category,
                severity=hit.severity,
                basis=hit.basis,
                suggestion=hit.suggestion,
                start=hit.start - offset,
                end=hit.end - offset,
                scope=scope,
                segment=segment,
                source_seq=source.seq,
                context_start=offset,
                utterance_chars=len(utterance),
                repeats=repeats,
                more=more,
            )
        )

    async def close(self) -> None:
        if self._answerer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drain(), timeout=5.0)
            await cancel_and_wait(self._answerer)
        if self.responder is not None:
            await self.responder.close()
