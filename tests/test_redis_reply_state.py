"""FAQ reply cooldowns shared through Redis: a room's next worker does not answer again too soon."""

from __future__ import annotations

import pytest

from bot.bus.redis_keys import Keys
from bot.bus.redis_link import RedisLink
from bot.config import ReplySettings
from bot.events import ChatMessage, Event, FaqReply, User
from bot.faq import FaqResponder, FaqStore
from bot.faq.redis_state import RedisReplyStates
from bot.faq.state import ReplyState
from tests.redis_support import RedisServer, needs_redis, redis_server  # noqa: F401 - fixture
from tests.support import DEMO_FAQ

REPLY = ReplySettings(faq_cooldown=60.0, user_cooldown=30.0, room_rate=1, room_window=3.0)


class Clock:
    """A monotonic clock of one process: each worker's starts somewhere else."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Room:
    """One worker's FAQ responder for room "a", with what it published and sent."""

    def __init__(self, store: FaqStore, clock: Clock, state: ReplyState) -> None:
        self.events: list[Event] = []
        self.sent: list[str] = []

        async def emit(event: Event) -> None:
            self.events.append(event)

        async def send(text: str, reply_to: User | None) -> None:
            self.sent.append(text)

        self.responder = FaqResponder("a", "replay", store, REPLY, emit, send, max_length=40, clock=clock, state=state)

    def replies(self) -> list[FaqReply]:
        return [e for e in self.events if isinstance(e, FaqReply)]


def ask(user: str, text: str) -> ChatMessage:
    return ChatMessage(room="a", platform="replay", user=User(id=user, name=user), text=text)


def test_snapshot_carries_remaining_cooldowns_across_clocks() -> None:
    link = RedisLink("redis://127.0.0.1:1/0")  # never connected: only the wire form is used
    a_clock, b_clock = Clock(1000.0), Clock(5.0)
    a = RedisReplyStates(link, Keys("t"), REPLY, clock=a_clock)
    b = RedisReplyStates(link, Keys("t"), REPLY, clock=b_clock)
    state = ReplyState(faq_last={"ship": 990.0, "old": 900.0}, user_last={"u1": 995.0}, last_text="72小时内发货")
    state.sent_times.append(999.0)
    restored = b.restore(a.snapshot(state))
    # 10 s into a 60 s cooldown on A's clock is 10 s into it on B's
    assert restored.faq_last.keys() == {"ship"}  # "old" is over: not carried
    assert abs((b_clock() - restored.faq_last["ship"]) - 10.0) < 0.1
    assert abs((b_clock() - restored.user_last["u1"]) - 5.0) < 0.1
    assert len(restored.sent_times) == 1 and restored.last_text == "72小时内发货"


@pytest.mark.asyncio
@needs_redis[0]
@needs_redis[1]
async def test_the_next_worker_continues_the_cooldowns(redis_server: RedisServer) -> None:  # noqa: F811
    keys = Keys("livebot")
    link = RedisLink(redis_server.url)
    await link.start()
    store = FaqStore.load(str(DEMO_FAQ))
    try:
        await link.client.set(keys.lease("a"), "worker-a", px=60_000)
        a_states = RedisReplyStates(link, keys, REPLY, token="worker-a", clock=Clock(1000.0))
        a_clock = a_states.clock
        a = Room(store, a_clock, await a_states.load("a"))  # type: ignore[arg-type]
        await a.responder.handle(ask("u1", "几天发货"))
        assert [r.action for r in a.replies()] == ["sent"] and len(a.sent) == 1
        assert await a_states.save("a", a.responder.state)
        # worker A dies; B takes the room 5 s later (by the wall clock) and loads what A saved
        await link.client.set(keys.lease("a"), "worker-b", px=60_000)
        b_states = RedisReplyStates(link, keys, REPLY, token="worker-b", clock=Clock(7.0))
        b = Room(store, b_states.clock, await b_states.load("a"))  # type: ignore[arg-type]
        await b.responder.handle(ask("u2", "几天发货啊"))
        await b.responder.handle(ask("u1", "怎么退货"))
        held = [(r.faq_id, r.action, r.reason) for r in b.replies()]
        assert held == [("ship_time", "held", "faq_cooldown"), ("return_policy", "held", "user_cooldown")]
        assert b.sent == []
        # A, stalled rather than dead, cannot overwrite B's state: the lease fences the save
        a.responder.state.faq_last.clear()
        assert not await a_states.save("a", a.responder.state)
        assert await b_states.save("a", b.responder.state)
        assert "ship_time" in (await link.client.get(keys.reply_state("a"))).decode()
        await a.responder.close()
        await b.responder.close()
    finally:
        await link.close()
