"""The room pipeline: anchor text to the compliance engine, viewer chat to the FAQ, all to bus and audit."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from bot.audit import AuditLog
from bot.bus.memory import MemoryBus
from bot.config import ReplySettings
from bot.events import AnchorSpeech, ChatMessage, Event, FaqReply, Gift, User, Warning
from bot.faq import FaqResponder, FaqStore
from bot.room import RoomPipeline
from rules import RuleEngine
from tests.support import DEMO_FAQ

ANCHOR = User(id="1", name="店铺主播", roles=("anchor",))
VIEWER = User(id="77", name="<img src=x onerror=alert(1)>")
BOT = User(id="livebot", name="livebot", roles=("bot",))

ENGINE = RuleEngine.load(("builtin",))


class Room:
    def __init__(self, tmp_path: Path, *, with_faq: bool = True) -> None:
        self.bus = MemoryBus()
        self.audit = AuditLog(tmp_path)
        self.sub = self.bus.subscribe("r", after_seq=0)
        self.sent: list[tuple[str, User | None]] = []
        self.pipeline = RoomPipeline("r", bus=self.bus, audit=self.audit, rules=lambda: ENGINE)
        if with_faq:

            async def send(text: str, reply_to: User | None) -> None:
                self.sent.append((text, reply_to))

            self.pipeline.responder = FaqResponder(
                room="r",
                platform="replay",
                store=FaqStore.load(DEMO_FAQ),
                reply=ReplySettings(),
                emit=self.pipeline.emit,
                send=send,
                max_length=40,
            )
        self.tmp = tmp_path

    async def events(self) -> list[Event]:
        out: list[Event] = []
        while True:
            try:
                out.append(await asyncio.wait_for(self.sub.__aiter__().__anext__(), 0.5))
            except TimeoutError:
                return out

    def audit_lines(self) -> list[dict]:  # type: ignore[type-arg]
        path = self.tmp / "r" / f"{dt.date.today().isoformat()}.jsonl"
        return [json.loads(x) for x in path.read_text("utf-8").splitlines()]


@pytest.mark.asyncio
async def test_anchor_speech_is_checked_and_warned(tmp_path: Path) -> None:
    room = Room(tmp_path, with_faq=False)
    await room.pipeline.handle(AnchorSpeech(room="r", text="这款面霜全网最低价了家人们", segment="s1", final=True))
    events = await room.events()
    assert [e.type for e in events] == ["speech", "warning"]
    warning = events[1]
    assert isinstance(warning, Warning)
    assert warning.text == "这款面霜全网最低价了家人们"
    assert warning.text[warning.start : warning.end] == warning.matched
    assert "最低价" in warning.matched
    assert warning.basis and warning.suggestion
    assert warning.source_seq == events[0].seq
    assert [x["type"] for x in room.audit_lines()] == ["speech", "warning"]


@pytest.mark.asyncio
async def test_split_phrase_and_revisions_warn_once(tmp_path: Path) -> None:
    room = Room(tmp_path, with_faq=False)
    await room.pipeline.handle(AnchorSpeech(room="r", text="今天给大家的价格是全网", segment="a", final=True))
    await room.pipeline.handle(AnchorSpeech(room="r", text="最低", segment="b", final=False))
    await room.pipeline.handle(AnchorSpeech(room="r", text="最低价", segment="b", final=False))
    await room.pipeline.handle(AnchorSpeech(room="r", text="最低价大家放心拍", segment="b", final=True))
    warnings = [e for e in await room.events() if isinstance(e, Warning)]
    assert len(warnings) == 1, [w.matched for w in warnings]


@pytest.mark.asyncio
async def test_anchor_chat_is_checked_viewer_chat_goes_to_faq(tmp_path: Path) -> None:
    room = Room(tmp_path)
    await room.pipeline.handle(ChatMessage(room="r", user=ANCHOR, text="有问题加我微信私聊"))
    await room.pipeline.handle(ChatMessage(room="r", user=VIEWER, text="请问怎么退货呀"))
    events = await room.events()
    types = [e.type for e in events]
    assert types.count("warning") == 1
    warning = next(e for e in events if isinstance(e, Warning))
    assert warning.scope == "chat" and warning.category
    replies = [e for e in events if isinstance(e, FaqReply)]
    assert len(replies) == 1 and replies[0].faq_id
    assert replies[0].user == VIEWER  # the asker, verbatim
    assert room.sent and room.sent[0][1] == VIEWER


@pytest.mark.asyncio
async def test_viewer_chat_is_never_checked_and_bot_lines_are_ignored(tmp_path: Path) -> None:
    room = Room(tmp_path)
    # a viewer may say anything; the rules bind what the anchor says
    await room.pipeline.handle(ChatMessage(room="r", user=VIEWER, text="全网最低价吗"))
    await room.pipeline.handle(ChatMessage(room="r", user=BOT, text="怎么退货：订单页申请售后"))
    events = await room.events()
    assert not [e for e in events if isinstance(e, Warning)]
    assert [e.type for e in events if e.user == BOT] == ["chat"]
    assert not room.sent or all(r is not BOT for _t, r in room.sent)


@pytest.mark.asyncio
async def test_other_events_reach_bus_and_audit(tmp_path: Path) -> None:
    room = Room(tmp_path, with_faq=False)
    await room.pipeline.handle(Gift(room="r", user=VIEWER, gift_name="小心心", count=2, price=0.2))
    assert [e.type for e in await room.events()] == ["gift"]
    assert room.audit_lines()[0]["gift_name"] == "小心心"


@pytest.mark.asyncio
async def test_a_failing_event_does_not_stop_the_room(tmp_path: Path) -> None:
    room = Room(tmp_path, with_faq=False)

    def broken() -> RuleEngine:
        raise RuntimeError("rules exploded")

    room.pipeline._rules = broken
    await room.pipeline.handle(AnchorSpeech(room="r", text="最好的", segment="1"))
    assert room.pipeline.counters["errors"] == 1
    room.pipeline._rules = lambda: ENGINE
    await room.pipeline.handle(AnchorSpeech(room="r", text="史上最低价", segment="2"))
    assert any(isinstance(e, Warning) for e in await room.events())


@pytest.mark.asyncio
async def test_a_slow_chat_send_never_delays_a_warning(tmp_path: Path) -> None:
    room = Room(tmp_path)
    release = asyncio.Event()

    async def stuck_send(text: str, reply_to: User | None) -> None:
        await release.wait()  # the platform's send API hangs

    assert room.pipeline.responder is not None
    room.pipeline.responder._send = stuck_send  # type: ignore[attr-defined]
    await asyncio.wait_for(room.pipeline.handle(ChatMessage(room="r", user=VIEWER, text="请问怎么退货呀")), 1.0)
    await asyncio.sleep(0.05)
    await asyncio.wait_for(
        room.pipeline.handle(AnchorSpeech(room="r", text="我们家是销量冠军", segment="1")), timeout=1.0
    )
    assert any(isinstance(e, Warning) for e in await room.events())
    release.set()
    await room.pipeline.drain()
    await room.pipeline.close()
