"""The reply policy (bot/faq/responder.py): every rule, with an injected clock (no sleeping)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.adapters.base import SendError
from bot.config import ReplySettings
from bot.events import ChatMessage, Event, FaqReply, User
from bot.faq import FaqResponder, FaqStore

FAQ = """
[[faq]]
id = "free_shipping"
question = "包邮吗？"
answer = "全场包邮；新疆、西藏等偏远地区需补运费10元。"
short = "包邮，偏远补10元"
examples = ["包邮吗", "运费多少"]

[[faq]]
id = "invoice"
question = "可以开发票吗？"
answer = "可开电子普通发票，确认收货后在订单页申请，支持个人和企业抬头。"
examples = ["能开发票吗", "有发票吗"]

[[faq]]
id = "gift"
question = "有赠品吗？"
answer = "赠品随单发出"
examples = ["有赠品吗", "送什么"]

[[faq]]
id = "warranty"
question = "保修多久？"
answer = "整机保修一年。"
short = "整机保修一年"
examples = ["保修多久"]

[[faq]]
id = "install"
question = "包安装吗？"
answer = "免费上门安装。"
short = "免费上门安装，偏远地区另收远程费，需提前三天预约"
examples = ["包安装吗", "上门装吗"]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(
        self,
        store: FaqStore,
        *,
        reply: ReplySettings | None = None,
        can_send: bool = True,
        max_length: int = 20,
        fail: list[SendError] | None = None,
    ) -> None:
        self.clock = Clock()
        self.events: list[FaqReply] = []
        self.sent: list[tuple[str, User | None]] = []
        self.fail = fail or []

        async def emit(ev: Event) -> None:
            assert isinstance(ev, FaqReply)
            self.events.append(ev)

        async def send(text: str, reply_to: User | None) -> None:
            if self.fail:
                raise self.fail.pop(0)
            self.sent.append((text, reply_to))

        self.r = FaqResponder(
            "shop",
            "bilibili",
            store,
            reply or ReplySettings(faq_cooldown=60, user_cooldown=30, room_rate=1, room_window=3, max_delay=30),
            emit,
            send if can_send else None,
            max_length=max_length,
            bot_user_ids=frozenset({"999"}),
            clock=self.clock,
        )

    async def say(self, text: str, uid: str = "1", name: str = "小鹿", roles: tuple[str, ...] = ()) -> list[FaqReply]:
        before = len(self.events)
        user = User(id=uid, name=name, roles=roles)
        await self.r.handle(ChatMessage(room="shop", platform="bilibili", user=user, text=text))
        return self.events[before:]

    def actions(self) -> list[tuple[str, str]]:
        return [(e.action, e.reason) for e in self.events]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FaqStore:
    p: Path = tmp_path_factory.mktemp("faq") / "faq.toml"
    p.write_text(FAQ, "utf-8")
    return FaqStore.load(p)


@pytest.mark.asyncio
async def test_answer_goes_to_chat_addressed_and_to_the_card(store: FaqStore) -> None:
    h = Harness(store)
    [ev] = await h.say("包邮吗主播")
    assert (ev.action, ev.faq_id, ev.reason) == ("sent", "free_shipping", "")
    assert ev.question == "包邮吗？" and ev.answer.startswith("全场包邮") and ev.text == "包邮吗主播"
    assert ev.chat_text == "@小鹿 包邮，偏远补10元" and len(ev.chat_text) <= 20
    assert [u.id for u in ev.askers] == ["1"] and ev.user is not None and ev.user.id == "1"
    assert h.sent == [("@小鹿 包邮，偏远补10元", User(id="1", name="小鹿"))]  # reply_to = the asker
    await h.r.close()


@pytest.mark.asyncio
async def test_name_prefix_only_when_it_fits(store: FaqStore) -> None:
    h = Harness(store)
    await h.say("包邮吗", name="一个名字特别特别长的观众")
    assert h.sent[0][0] == "包邮，偏远补10元"  # 20 characters in all: the answer wins over the name
    assert h.sent[0][1] is not None  # the adapter still gets reply_to (a platform reply may show it)
    await h.r.close()


@pytest.mark.asyncio
async def test_answer_without_short_is_cut_at_a_clause(store: FaqStore) -> None:
    h = Harness(store, max_length=20)
    [ev] = await h.say("能开发票吗", name="")
    assert ev.chat_text == "可开电子普通发票" and len(ev.chat_text) <= 20
    assert ev.answer.startswith("可开电子普通发票，确认收货后")  # the card still gets all of it
    await h.r.close()


@pytest.mark.asyncio
async def test_a_short_longer_than_the_platform_allows_is_cut_at_a_clause(store: FaqStore) -> None:
    # Merchants write shorts of 20-30 characters; the file loads, and the reply is the short's first
    # clauses that fit, not the whole short refused.
    h = Harness(store, max_length=20)
    [ev] = await h.say("包安装吗", name="")
    assert ev.chat_text == "免费上门安装，偏远地区另收远程费"
    h2 = Harness(store, max_length=40)
    [ev2] = await h2.say("包安装吗", name="")
    assert ev2.chat_text == "免费上门安装，偏远地区另收远程费，需提前三天预约"
    await h.r.close()
    await h2.r.close()


@pytest.mark.asyncio
async def test_faq_cooldown_merges_askers_into_one_reply(store: FaqStore) -> None:
    h = Harness(store, max_length=40)
    await h.say("包邮吗", uid="1", name="a")
    h.clock.now += 10
    [e2] = await h.say("包邮不", uid="2", name="b")
    h.clock.now += 5
    [e3] = await h.say("bao you ma", uid="3", name="c")
    await h.say("包油吗", uid="3", name="c")  # the same viewer twice is one asker
    assert (e2.action, e2.reason) == ("held", "faq_cooldown") and e2.faq_id == "free_shipping"
    assert (e3.action, e3.reason) == ("held", "faq_cooldown")
    assert len(h.sent) == 1
    h.clock.now = 1000 + 59
    await h.r.run_due()
    assert len(h.sent) == 1  # not before the cooldown ends
    h.clock.now = 1000 + 60
    await h.r.run_due()
    assert len(h.sent) == 2
    text, reply_to = h.sent[1]
    assert text == "@b @c 包邮，偏远补10元" and reply_to is None  # several askers: no single reply target
    merged = h.events[-1]
    assert (merged.action, merged.reason) == ("sent", "merged") and [u.id for u in merged.askers] == ["2", "3"]
    await h.r.close()


@pytest.mark.asyncio
async def test_user_cooldown(store: FaqStore) -> None:
    h = Harness(store)
    await h.say("包邮吗", uid="1")
    h.clock.now += 5
    [ev] = await h.say("保修多久", uid="1")
    assert (ev.action, ev.reason, ev.faq_id) == ("held", "user_cooldown", "warranty")
    h.clock.now += 30
    [ev] = await h.say("保修多久", uid="1")
    assert ev.action == "sent"
    await h.r.close()


@pytest.mark.asyncio
async def test_room_rate_defers_to_the_next_slot(store: FaqStore) -> None:
    h = Harness(store)
    await h.say("包邮吗", uid="1")
    h.clock.now += 1
    [ev] = await h.say("保修多久", uid="2")
    assert (ev.action, ev.reason) == ("held", "room_rate")
    assert len(h.sent) == 1
    h.clock.now += 1.5
    await h.r.run_due()
    assert len(h.sent) == 1  # 2.5 s after the first line: still inside the 3 s window
    h.clock.now += 0.5
    await h.r.run_due()
    assert [t for t, _ in h.sent] == ["@小鹿 包邮，偏远补10元", "@小鹿 整机保修一年"]
    assert (h.events[-1].action, h.events[-1].reason) == ("sent", "delayed")
    await h.r.close()


@pytest.mark.asyncio
async def test_stale_pending_reply_is_dropped(store: FaqStore) -> None:
    h = Harness(store, reply=ReplySettings(faq_cooldown=60, user_cooldown=0, room_rate=1, room_window=3, max_delay=5))
    await h.say("包邮吗", uid="1")
    h.clock.now += 1
    await h.say("包邮吗", uid="2")
    h.clock.now = 1000 + 60 + 6  # due at 1060, 6 s late
    await h.r.run_due()
    assert len(h.sent) == 1 and h.actions()[-1] == ("held", "stale")
    await h.r.close()


@pytest.mark.asyncio
async def test_never_the_same_text_twice_in_a_row(store: FaqStore) -> None:
    h = Harness(store, reply=ReplySettings(faq_cooldown=0, user_cooldown=0, room_rate=10, room_window=3))
    for uid in "123":
        await h.say("保修多久", uid=uid, name="")
        h.clock.now += 1
    texts = [t for t, _ in h.sent]
    # the short answer and the (fitting) full answer take turns: no line repeats the one before it
    assert texts == ["整机保修一年", "整机保修一年。", "整机保修一年"]
    # an entry with a single possible line: the repeat is held back
    await h.say("有赠品吗", uid="4", name="")
    h.clock.now += 1
    [ev] = await h.say("有赠品吗", uid="5", name="")
    assert (ev.action, ev.reason) == ("held", "duplicate_text")
    texts = [t for t, _ in h.sent]
    assert texts[-1] == "赠品随单发出" and all(a != b for a, b in itertools.pairwise(texts))
    await h.r.close()


@pytest.mark.asyncio
async def test_sending_disabled_still_shows_the_card(store: FaqStore) -> None:
    for h in (Harness(store, can_send=False), Harness(store, reply=ReplySettings(enabled=False))):
        [ev] = await h.say("包邮吗")
        assert (ev.action, ev.reason, ev.faq_id) == ("held", "sending_disabled", "free_shipping")
        assert h.sent == []
        await h.r.close()


@pytest.mark.asyncio
async def test_platform_refusal_is_failed_and_slows_down(store: FaqStore) -> None:
    h = Harness(store, fail=[SendError("10031 sending too fast", retry_after=10)])
    [ev] = await h.say("包邮吗", uid="1")
    assert (ev.action, ev.reason) == ("failed", "10031 sending too fast") and ev.chat_text
    h.clock.now += 4  # past the 3 s window but inside retry_after
    [ev] = await h.say("保修多久", uid="2")
    assert (ev.action, ev.reason) == ("held", "room_rate")
    h.clock.now += 7
    await h.r.run_due()
    assert [t for t, _ in h.sent] == ["@小鹿 整机保修一年"]
    # the refused line answered nobody: the same viewer may be answered right away
    h.clock.now += 4
    [ev] = await h.say("包邮吗", uid="1")
    assert ev.action == "sent"
    await h.r.close()


@pytest.mark.asyncio
async def test_never_answers_bot_or_anchor_or_chatter(store: FaqStore) -> None:
    h = Harness(store)
    assert await h.say("包邮吗", uid="999") == []  # the bot's own account by id
    assert await h.say("包邮吗", uid="5", roles=("bot",)) == []
    assert await h.say("包邮吗", uid="6", roles=("anchor",)) == []
    assert await h.say("发货真快", uid="7") == []  # statement: nothing at all
    assert await h.say("666", uid="7") == []  # chatter: nothing at all
    assert h.sent == []
    await h.r.close()


@pytest.mark.asyncio
async def test_unanswerable_question_is_an_abstained_event(store: FaqStore) -> None:
    h = Harness(store)
    [ev] = await h.say("能用花呗吗", uid="8", name="<b>x</b>")
    assert ev.action == "abstained" and ev.faq_id == "" and ev.reason and ev.text == "能用花呗吗"
    assert h.sent == []
    assert store.unanswered[0].text == "能用花呗吗" and store.unanswered[0].room == "shop"
    await h.r.close()


@pytest.mark.asyncio
async def test_close_flushes_what_the_rate_allows(store: FaqStore) -> None:
    h = Harness(store)
    await h.say("包邮吗", uid="1")
    h.clock.now += 10
    await h.say("包邮吗", uid="2", name="b")  # pending: merged reply at cooldown end
    h.clock.now += 1
    await h.r.close()  # the room may send (window passed): flushed now
    assert [t for t, _ in h.sent][-1] == "@b 包邮，偏远补10元"
    assert h.actions()[-1] == ("sent", "flushed")
    assert await h.say("包邮吗", uid="3") == []  # closed: nothing more


@pytest.mark.asyncio
async def test_hostile_names_are_cleaned(store: FaqStore) -> None:
    h = Harness(store, max_length=40)
    await h.say("包邮吗", name="a\nb @c\u202e")
    assert h.sent[0][0] == "@abc 包邮，偏远补10元"
    await h.r.close()


@pytest.mark.asyncio
async def test_the_timer_sends_pending_replies_by_itself(store: FaqStore) -> None:
    import asyncio
    import time

    h = Harness(store, reply=ReplySettings(faq_cooldown=0.2, user_cooldown=0, room_rate=5, room_window=1))
    h.r.clock = time.monotonic
    await h.say("包邮吗", uid="1")
    await h.say("包邮吗", uid="2", name="b")
    for _ in range(100):
        if len(h.sent) == 2:
            break
        await asyncio.sleep(0.02)
    assert [t for t, _ in h.sent][1] == "@b 包邮，偏远补10元"
    await h.r.close()
