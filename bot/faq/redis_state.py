"""FAQ reply cooldowns shared through Redis: a room that moves to another worker keeps them.

The responder decides from its in-memory ``ReplyState`` (no network wait on the reply path); the
room's worker saves a snapshot to Redis whenever it changed (checked every ``interval`` seconds,
and once more when the room stops), and a worker that takes the room over loads it before the
room's first message. A crash loses at most the last ``interval`` of changes.

Saving is fenced by the room's lease like every other write of the room: a worker that lost the
room cannot overwrite its new owner's cooldowns. Times are stored as wall-clock seconds (each
process's monotonic clock means nothing to another) and entries whose cooldown is over are left
out, so a snapshot stays small however many viewers asked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping

from bot.bus.redis_keys import Keys
from bot.bus.redis_link import OUTAGE_ERRORS, RedisLink
from bot.config import ReplySettings
from bot.faq.state import ReplyState

log = logging.getLogger(__name__)

# KEYS: 1 the room's lease, 2 the state. ARGV: lease holder, JSON, ttl ms
SAVE_LUA = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""


class RedisReplyStates:
    def __init__(
        self,
        link: RedisLink,
        keys: Keys,
        reply: ReplySettings,
        *,
        token: str = "",
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.keys = keys
        self.reply = reply
        self.token = token
        self.interval = interval
        self.clock = clock
        self._saved: dict[str, str] = {}
        self._save = link.client.register_script(SAVE_LUA)
        # a snapshot outlives the longest cooldown it can carry, then Redis forgets it
        self._ttl_ms = int(1000 * max(60.0, 2 * max(reply.faq_cooldown, reply.user_cooldown, reply.room_window)))

    # --- the wire form --------------------------------------------------------------------------

    def snapshot(self, state: ReplyState) -> str:
        now_mono, now_wall = self.clock(), time.time()

        def wall(t: float) -> float:
            return round(now_wall - (now_mono - t), 3)

        faq = {k: wall(t) for k, t in state.faq_last.items() if now_mono - t < self.reply.faq_cooldown}
        users = {k: wall(t) for k, t in state.user_last.items() if now_mono - t < self.reply.user_cooldown}
        sent = [wall(t) for t in state.sent_times if now_mono - t < self.reply.room_window]
        blocked = wall(state.blocked_until) if state.blocked_until > now_mono else 0.0
        record = {"faq": faq, "users": users, "sent": sent, "blocked_until": blocked, "last_text": state.last_text}
        return json.dumps(record, ensure_ascii=False, sort_keys=True)

    def restore(self, raw: str | bytes) -> ReplyState:
        record = json.loads(raw)
        now_mono, now_wall = self.clock(), time.time()

        def mono(t: float) -> float:
            return now_mono - (now_wall - float(t))

        last_text = record.get("last_text")
        return ReplyState(
            faq_last={str(k): mono(v) for k, v in dict(record.get("faq", {})).items()},
            user_last={str(k): mono(v) for k, v in dict(record.get("users", {})).items()},
            sent_times=deque(sorted(mono(t) for t in record.get("sent", []))),
            blocked_until=mono(record["blocked_until"]) if record.get("blocked_until") else 0.0,
            last_text=last_text if isinstance(last_text, str) else None,
        )

    # --- load and save --------------------------------------------------------------------------

    async def load(self, room: str) -> ReplyState:
        """The room's saved state, or a fresh one (nothing saved, or unreadable)."""
        raw = await self.link.client.get(self.keys.reply_state(room))
        if raw is None:
            return ReplyState()
        try:
            state = self.restore(raw)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("room %s: ignoring unreadable saved reply state: %s", room, exc)
            return ReplyState()
        self._saved[room] = self.snapshot(state)
        return state

    async def save(self, room: str, state: ReplyState) -> bool:
        """Save if it changed since the last save; False when the lease says the room moved on."""
        text = self.snapshot(state)
        if self._saved.get(room) == text:
            return True
        keys = [self.keys.lease(room), self.keys.reply_state(room)]
        ok = int(await self._save(keys=keys, args=[self.token, text, self._ttl_ms]))
        if ok:
            self._saved[room] = text
        return bool(ok)

    def forget(self, room: str) -> None:
        self._saved.pop(room, None)

    async def run(self, states: Callable[[], Mapping[str, ReplyState]]) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self.link.up:
                continue
            for room, state in list(states().items()):
                try:
                    await self.save(room, state)
                except OUTAGE_ERRORS as exc:
                    self.link.mark_down(exc)
                    break
                except Exception:
                    log.exception("room %s: saving reply state failed", room)
