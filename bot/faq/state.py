"""What the reply policy of one room remembers: cooldowns, recent sends, the last line sent.

Kept apart from ``FaqResponder`` so it can outlive one process: a Redis worker saves it
(``bot.faq.redis_state``) and the room's next worker continues with it, so a room that moves
does not answer an FAQ again before its cooldown is over. Times are on the responder's clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class ReplyState:
    #: FAQ id -> when it was last answered in chat
    faq_last: dict[str, float] = field(default_factory=dict)
    #: viewer id -> when they last got a chat reply
    user_last: dict[str, float] = field(default_factory=dict)
    #: when the room's recent chat lines went out (the room-rate window)
    sent_times: deque[float] = field(default_factory=deque)
    #: the platform asked us to slow down until then
    blocked_until: float = 0.0
    #: the last chat line sent (platforms drop an identical repeat)
    last_text: str | None = None
