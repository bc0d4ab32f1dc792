"""The reply policy of one room: which FAQ answers go to the platform chat, when, and to whom.

Every answered question produces a ``FaqReply`` event (the overlay shows the full answer on its FAQ
card whatever happens to the chat line); only the chat line is rate-limited:

- ``sending_disabled``: replies are off in the config, or this room cannot send (no login).
- ``user_cooldown``: this viewer got a reply less than ``user_cooldown`` seconds ago.
- ``faq_cooldown``: this FAQ was answered in chat less than ``faq_cooldown`` seconds ago. The asker
  joins the FAQ's *pending group*; when the cooldown ends, one reply goes out addressed to every
  asker of the group (``reason="merged"`` on that ``sent`` event).
- ``room_rate``: the room already sent ``room_rate`` lines in the last ``room_window`` seconds (or
  the platform asked us to slow down). The reply waits in a pending group for the next free slot.
- ``duplicate_text``: the only text that fits is the one sent last (platforms drop repeats).
- ``stale``: a pending reply could not go out within ``max_delay`` seconds of being due; dropped.

The chat text is the entry's ``short`` (or the answer cut at a clause boundary to ``max_length``),
prefixed with ``@name`` for each asker when it still fits (Bilibili allows 20 characters in all),
and the platform adapter gets ``reply_to`` = the asker when there is exactly one.

Never answered: the bot's own account (``bot_user_ids`` or the ``bot`` role), the anchor, emoticon
danmaku. Chatter that fails the question gate produces no event at all; a question the matcher
abstains on produces an ``abstained`` event (the console and the admin page list them).

Time is ``clock()`` (monotonic by default; tests inject their own). ``handle`` awaits the platform
send, so a pipeline that must never wait on the network runs it in its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import unicodedata
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.adapters.base import SendError
from bot.config import ReplySettings
from bot.events import ChatMessage, Event, FaqReply, User
from bot.faq.demand import MatchAllowance
from bot.faq.faqfile import FaqEntry
from bot.faq.matcher import FaqMatch
from bot.faq.state import ReplyState
from bot.faq.store import MAX_MESSAGE_CHARS, FaqStore
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

SENT, HELD, FAILED, ABSTAINED = "sent", "held", "failed", "abstained"
_CLAUSE_END_RE = re.compile(r"[，。；！？,;!?、]")
NAME_MAX = 16

Emit = Callable[[Event], Awaitable[None]]
Send = Callable[[str, User | None], Awaitable[None]]


def clean_name(name: str) -> str:
    """A viewer name made safe to put in our chat line: no controls, spaces or @, bounded length."""
    out = "".join(
        ch
        for ch in unicodedata.normalize("NFC", name)
        if not unicodedata.category(ch).startswith(("C", "Z")) and ch != "@"
    )
    return out if 0 < len(out) <= NAME_MAX else ""


def cut_answer(answer: str, limit: int) -> str:
    """The answer within ``limit`` characters: whole clauses when possible, else cut with '…'."""
    answer = answer.strip()
    if len(answer) <= limit:
        return answer
    head = answer[:limit]
    ends = [m.start() for m in _CLAUSE_END_RE.finditer(head)]
    if ends and ends[-1] >= min(6, limit // 3):  # a whole first clause beats a cut sentence
        return head[: ends[-1]]
    return head[: max(1, limit - 1)] + "…"


@dataclass
class _Group:
    """Askers of one FAQ waiting for a chat reply."""

    entry: FaqEntry
    score: float
    due: float
    askers: list[tuple[User | None, ChatMessage]] = field(default_factory=list)
    ready_at: float | None = None  # when it first became due (for max_delay)

    def add(self, user: User | None, msg: ChatMessage) -> None:
        if user is not None and any(u is not None and u.id == user.id for u, _ in self.askers):
            return
        self.askers.append((user, msg))


class FaqResponder:
    def __init__(
        self,
        room: str,
        platform: str,
        store: FaqStore,
        reply: ReplySettings,
        emit: Emit,
        send: Send | None,
        max_length: int = 20,
        bot_user_ids: frozenset[str] = frozenset(),
        *,
        clock: Callable[[], float] = time.monotonic,
        state: ReplyState | None = None,
    ) -> None:
        self.room, self.platform, self.store, self.reply = room, platform, store, reply
        self._emit, self._send = emit, send
        self.max_length = max(1, max_length)
        self.bot_user_ids = frozenset(bot_user_ids)
        self.clock = clock
        # cooldowns and recent sends live in a ReplyState, which a Redis worker saves for the
        # room's next worker (bot/faq/redis_state.py); the policy below reads and writes it as before
        self.state = state if state is not None else ReplyState()
        self._faq_last: dict[str, float] = self.state.faq_last
        self._user_last: dict[str, float] = self.state.user_last
        self._sent_times: deque[float] = self.state.sent_times
        self._pending: dict[str, _Group] = {}
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self._closed = False
        #: how many viewer lines this room may still have matched (``bot.faq.demand``)
        self.allowance = MatchAllowance.for_reply(reply.room_rate, reply.room_window, clock=clock)

    @property
    def _blocked_until(self) -> float:
        return self.state.blocked_until

    @_blocked_until.setter
    def _blocked_until(self, value: float) -> None:
        self.state.blocked_until = value

    @property
    def _last_text(self) -> str | None:
        return self.state.last_text

    @_last_text.setter
    def _last_text(self, value: str | None) -> None:
        self.state.last_text = value

    # --- who is never answered ------------------------------------------------------------------

    def _ignored(self, msg: ChatMessage) -> str:
        user = msg.user
        if user is not None:
            if user.id in self.bot_user_ids or "bot" in user.roles:
                return "bot"
            if user.is_anchor:
                return "anchor"
        if msg.emoticon:
            return "emoticon"
        return ""

    # --- the rules ------------------------------------------------------------------------------

    def _user_cooling(self, user: User | None, now: float) -> bool:
        if user is None:
            return False
        last = self._user_last.get(user.id)
        return last is not None and now - last < self.reply.user_cooldown

    def _faq_cooling(self, faq_id: str, now: float) -> bool:
        last = self._faq_last.get(faq_id)
        return last is not None and now - last < self.reply.faq_cooldown

    def _rate_free_at(self, now: float) -> float:
        """When the room may send its next line (``now`` if it may send now)."""
        window = self.reply.room_window
        while self._sent_times and now - self._sent_times[0] >= window:
            self._sent_times.popleft()
        at = max(now, self._blocked_until)
        if self.reply.room_rate <= 0:
            return float("inf")
        if len(self._sent_times) >= self.reply.room_rate:
            at = max(at, self._sent_times[len(self._sent_times) - self.reply.room_rate] + window)
        return at

    def compose(self, entry: FaqEntry, askers: list[User | None]) -> str | None:
        """The chat line for these askers, or None when every form equals the last line sent."""
        names = [n for n in (clean_name(u.name) for u in askers if u is not None) if n]
        prefix = "".join(f"@{n} " for n in names)
        # a short that fits is its own cut; a longer one could never be sent uncut
        bases = [b for b in (cut_answer(entry.short, self.max_length), cut_answer(entry.answer, self.max_length)) if b]
        candidates = []
        for base in bases:
            if prefix and len(prefix) + len(base) <= self.max_length:
                candidates.append(prefix + base)
            if len(base) <= self.max_length:
                candidates.append(base)
        # a different form of the same answer when the preferred one was just sent
        for text in dict.fromkeys(candidates):
            if text != self._last_text:
                return text
        return None

    # --- entry points ---------------------------------------------------------------------------

    def admits(self, msg: ChatMessage) -> bool:
        """Whether this viewer line is to be matched (the pipeline sheds and counts the others).

        Lines decided without matching (ours, the anchor's, emoticons, empty ones) and lines whose
        verdict is memoized cost nothing and always pass; any other line spends one match of the
        room's allowance: a flooded room has the sample matched that its reply policy can use."""
        text = msg.text
        if not isinstance(text, str) or not text.strip() or self._ignored(msg):
            return True
        if self.store.matcher.cached(text[:MAX_MESSAGE_CHARS]):
            return True
        return self.allowance.take()

    async def handle(self, msg: ChatMessage) -> None:
        """Decide on one viewer chat line. Never raises (a room loop must not die on a message)."""
        if self._closed:
            return
        try:
            await self._handle(msg)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("room %s: FAQ responder failed on %r", self.room, (msg.text or "")[:80])

    async def _handle(self, msg: ChatMessage) -> None:
        ignored = self._ignored(msg)
        if ignored or not (msg.text or "").strip():
            if ignored:
                log.debug("room %s: not answering %s message", self.room, ignored)
            return
        m = await self.store.match_async(msg.text, rationed=True)
        if not m.answered or m.entry is None:
            if m.question_like:
                self.store.record_unanswered(self.room, msg.user.name if msg.user else "", msg.text, m)
                await self._publish(msg, None, m, ABSTAINED, m.reason, askers=[msg.user])
            return
        entry, now, user = m.entry, self.clock(), msg.user
        if not self.reply.enabled or self._send is None:
            await self._publish(msg, entry, m, HELD, "sending_disabled", askers=[user])
            return
        if self._user_cooling(user, now):
            await self._publish(msg, entry, m, HELD, "user_cooldown", askers=[user])
            return
        group = self._pending.get(entry.id)
        if group is not None or self._faq_cooling(entry.id, now):
            if group is None:
                group = self._pending[entry.id] = _Group(
                    entry, m.score, due=self._faq_last[entry.id] + self.reply.faq_cooldown
                )
            group.add(user, msg)
            self._arm()
            reason = "faq_cooldown" if self._faq_cooling(entry.id, now) else "room_rate"
            await self._publish(msg, entry, m, HELD, reason, askers=[user])
            return
        free_at = self._rate_free_at(now)
        if free_at > now:
            group = self._pending[entry.id] = _Group(entry, m.score, due=free_at)
            group.add(user, msg)
            self._arm()
            await self._publish(msg, entry, m, HELD, "room_rate", askers=[user])
            return
        await self._deliver(entry, m.score, [(user, msg)], reason="")

    async def run_due(self) -> None:
        """Send the pending groups whose time has come (the timer calls this; so can tests)."""
        now = self.clock()
        for faq_id, group in sorted(self._pending.items(), key=lambda kv: kv[1].due):
            if group.due > now:
                continue
            if group.ready_at is None:
                group.ready_at = group.due
            group.askers = [(u, m) for u, m in group.askers if not self._user_cooling(u, now)]
            if not group.askers:
                del self._pending[faq_id]
                continue
            if now - group.ready_at > self.reply.max_delay:
                del self._pending[faq_id]
                log.info("room %s: dropped a stale %s reply to %d asker(s)", self.room, faq_id, len(group.askers))
                msg = group.askers[0][1]
                await self._publish(
                    msg,
                    group.entry,
                    None,
                    HELD,
                    "stale",
                    askers=[u for u, _ in group.askers],
                    score=group.score,
                )
                continue
            if self._faq_cooling(faq_id, now):
                group.due = self._faq_last[faq_id] + self.reply.faq_cooldown
                continue
            free_at = self._rate_free_at(now)
            if free_at > now:
                group.due = free_at
                continue
            del self._pending[faq_id]
            await self._deliver(
                group.entry,
                group.score,
                group.askers,
                reason="merged" if len(group.askers) > 1 else "delayed",
            )
        self._arm()

    async def close(self) -> None:
        """Stop the timer and flush pending replies the room rate still allows; drop the rest."""
        self._closed = True
        if self._timer is not None:
            await cancel_and_wait(self._timer)
            self._timer = None
        now = self.clock()
        for faq_id, group in sorted(self._pending.items(), key=lambda kv: kv[1].due):
            askers = [(u, m) for u, m in group.askers if not self._user_cooling(u, now)]
            if askers and self._send is not None and self._rate_free_at(now) <= now:
                await self._deliver(group.entry, group.score, askers, reason="flushed")
            elif askers:
                log.info("room %s: closing, dropped a pending %s reply", self.room, faq_id)
        self._pending.clear()

    # --- sending --------------------------------------------------------------------------------

    async def _deliver(
        self, entry: FaqEntry, score: float, askers: list[tuple[User | None, ChatMessage]], reason: str
    ) -> None:
        users = [u for u, _ in askers]
        first_msg = askers[0][1]
        text = self.compose(entry, users)
        if text is None:
            await self._publish(first_msg, entry, None, HELD, "duplicate_text", askers=users, score=score)
            return
        reply_to = users[0] if len(users) == 1 else None
        now = self.clock()
        # the state changes before the await: a second message handled meanwhile sees the slot taken
        self._sent_times.append(now)
        self._last_text = text
        prev_faq = self._faq_last.get(entry.id)
        self._faq_last[entry.id] = now
        prev_users = {u.id: self._user_last.get(u.id) for u in users if u is not None}
        for u in users:
            if u is not None:
                self._user_last[u.id] = now
        assert self._send is not None
        try:
            await self._send(text, reply_to)
        except SendError as exc:
            self._undo(entry.id, prev_faq, prev_users, text)
            if exc.retry_after:
                self._blocked_until = max(self._blocked_until, self.clock() + exc.retry_after)
            log.warning("room %s: platform refused the %s reply: %s", self.room, entry.id, exc.reason)
            await self._publish(first_msg, entry, None, FAILED, exc.reason, askers=users, score=score, chat_text=text)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an adapter bug is a failed send, not a dead room
            self._undo(entry.id, prev_faq, prev_users, text)
            log.exception("room %s: sending the %s reply failed", self.room, entry.id)
            await self._publish(
                first_msg,
                entry,
                None,
                FAILED,
                f"error: {exc}"[:200],
                askers=users,
                score=score,
                chat_text=text,
            )
            return
        await self._publish(first_msg, entry, None, SENT, reason, askers=users, score=score, chat_text=text)

    def _undo(self, faq_id: str, prev_faq: float | None, prev_users: dict[str, float | None], text: str) -> None:
        """A refused line answered nobody: the FAQ and the askers are not cooling down because of it.
        (The rate slot stays used: the platform saw the attempt.)"""
        if prev_faq is None:
            self._faq_last.pop(faq_id, None)
        else:
            self._faq_last[faq_id] = prev_faq
        for uid, prev in prev_users.items():
            if prev is None:
                self._user_last.pop(uid, None)
            else:
                self._user_last[uid] = prev
        if self._last_text == text:
            self._last_text = None

    # --- timer ----------------------------------------------------------------------------------

    def _arm(self) -> None:
        if self._closed:
            return
        if self._timer is None or self._timer.done():
            if not self._pending:
                return
            self._timer = asyncio.create_task(self._timer_loop(), name=f"faq-replies:{self.room}")
        self._wake.set()

    async def _timer_loop(self) -> None:
        while self._pending and not self._closed:
            self._wake.clear()
            delay = max(0.0, min(g.due for g in self._pending.values()) - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay + 0.01)
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("room %s: pending FAQ replies failed", self.room)

    # --- events ---------------------------------------------------------------------------------

    async def _publish(
        self,
        msg: ChatMessage,
        entry: FaqEntry | None,
        m: FaqMatch | None,
        action: str,
        reason: str,
        *,
        askers: list[User | None],
        score: float | None = None,
        chat_text: str = "",
    ) -> None:
        event = FaqReply(
            room=self.room,
            platform=self.platform,
            user=msg.user,
            text=msg.text,
            faq_id=entry.id if entry else "",
            question=entry.question if entry else "",
            answer=entry.answer if entry else "",
            chat_text=chat_text,
            score=round(float(score if score is not None else (m.score if m else 0.0)), 4),
            action=action,
            reason=reason,
            askers=tuple(u for u in askers if u is not None),
        )
        # every decision is in the audit log; the process log keeps what went out (or failed to) at
        # INFO, so a busy room's chatter does not cost a log line a message
        log.log(
            logging.INFO if action in ("sent", "failed") else logging.DEBUG,
            "room %s: faq %s%s %s%s for %r",
            self.room,
            action,
            f"({reason})" if reason else "",
            entry.id if entry else (m.best_id if m else ""),
            f" {chat_text!r}" if chat_text else "",
            (msg.text or "")[:60],
        )
        try:
            await self._emit(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("room %s: publishing a FaqReply failed", self.room)
