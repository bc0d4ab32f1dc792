"""The FAQ card, the chat overlay and the console in real headless Chromium; hostile viewer text."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.events import (
    ChatMessage,
    FaqReply,
    Gift,
    GuardBuy,
    Medal,
    RoomStatus,
    SuperChat,
    SuperChatDelete,
    User,
    Warning,
)
from tests.browser.conftest import quiet_room_settings, serve, wait_connected
from tests.support import DEMO_FAQ, Running, post_speech

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# A payload in every field a viewer controls; if any of it ran, window.__pwned or a dialog would say so.
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1;alert(1)">'
HOSTILE_TEXT = "<script>window.__pwned=2;alert(2)</script><b id=injected>怎么退货</b>"
NO_INJECTION = """() => ({
    pwned: window.__pwned === undefined ? null : window.__pwned,
    injected: document.querySelectorAll('#injected, main img, main script, .c-grid img, .c-grid script').length,
})"""

DEMO_ANSWERS = {entry["answer"] for entry in tomllib.loads(DEMO_FAQ.read_text("utf-8"))["faq"]}


def viewer(name: str = "小鹿乱撞", uid: str = "1001") -> User:
    return User(id=uid, name=name, level=12)


async def emit(running: Running, event: Any) -> None:
    await running.service.runners[event.room].pipeline.emit(event)



def console_url(running: Running, token: str | None = None) -> str:
    room = running.settings.rooms[0]
    return f"{running.base_url}/console/{room.name}?token={token or room.overlay_token}"


async def test_faq_card_after_a_viewer_question(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(running.overlay_url("shop", "faq"))
        await wait_connected(w.page)
        await running.service.ingest(ChatMessage(room="shop", platform="replay", user=viewer(), text="怎么退货？"))
        card = await w.page.wait_for_selector(".lb-faq", timeout=10_000)
        assert await card.eval_on_selector(".name", "n => n.textContent") == "小鹿乱撞"
        assert "怎么退货" in await card.eval_on_selector(".question", "n => n.textContent")
        assert await card.eval_on_selector(".answer-text", "n => n.textContent") in DEMO_ANSWERS


async def test_faq_card_merges_askers_and_leaves_after_faq_seconds(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path, overlay={"faq_seconds": 2.0})) as running:
        w = await open_page(running.overlay_url("shop", "faq"))
        await wait_connected(w.page)
        for i, name in enumerate(["甲", "乙", "丙"]):
            user = viewer(name, str(i))
            await emit(
                running,
                FaqReply(
                    room="shop", user=user, text="包邮吗", faq_id="free_shipping", answer="全国包邮", askers=(user,)
                ),
            )
        await w.page.wait_for_selector('.lb-faq:has-text("等 3 人问")', timeout=5_000)
        assert await w.page.locator(".lb-faq:not(.leaving)").count() == 1
        await w.page.wait_for_selector(".lb-faq", state="detached", timeout=6_000)

        # the responder reports 甲's question again when the held reply finally goes out: no second
        # card for it; the next new question is the next card
        first = viewer("甲", "0")
        await emit(
            running,
            FaqReply(
                room="shop",
                user=first,
                text="包邮吗",
                faq_id="free_shipping",
                answer="全国包邮",
                action="sent",
                reason="merged",
                askers=(first,),
            ),
        )
        new = viewer("丁", "3")
        await emit(
            running,
            FaqReply(
                room="shop",
                user=new,
                text="偏远地区包邮吗",
                faq_id="free_shipping",
                answer="全国包邮",
                action="held",
                reason="faq_cooldown",
                askers=(new,),
            ),
        )
        card = await w.page.wait_for_selector(".lb-faq:not(.leaving)", timeout=5_000)
        assert await card.eval_on_selector(".name", "n => n.textContent") == "丁"


async def test_chat_overlay_keeps_the_newest_line_fully_in_view(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(running.overlay_url("shop", "chat", max="40", position="top-left"))
        await wait_connected(w.page)
        for i in range(40):
            # short and long lines, and one wall of text taller than the box would be
            text = "长" * (600 if i == 20 else 10 + (i * 37) % 90) + f" #{i}"
            await running.service.ingest(ChatMessage(room="shop", user=viewer(f"观众{i}", str(i)), text=text))
        await w.page.wait_for_function(
            "() => (document.querySelector('.lines .line:last-child .text') || {}).textContent?.endsWith('#39')",
            timeout=10_000,
        )
        for last in (39, None):
            if last is None:  # and once more after a wall of text as the newest line
                await running.service.ingest(ChatMessage(room="shop", user=viewer("墙", "99"), text="墙" * 2000))
                await w.page.wait_for_function(
                    "() => document.querySelector('.lines .line:last-child .text').textContent.startsWith('墙')",
                    timeout=10_000,
                )
            box = await w.page.eval_on_selector(
                ".lines",
                """lines => {
                    const outer = lines.getBoundingClientRect();
                    const newest = lines.lastElementChild.getBoundingClientRect();
                    return {outer: [outer.top, outer.bottom], newest: [newest.top, newest.bottom]};
                }""",
            )
            top, bottom = box["outer"]
            newest_top, newest_bottom = box["newest"]
            # the newest line is wholly inside the box and the box inside the 1920x1080 canvas
            assert top - 0.5 <= newest_top < newest_bottom <= bottom + 0.5, box
            assert 0 <= top and bottom <= 1080, box
        assert await w.page.locator(".lines .line").count() <= 40
        assert not w.errors


async def test_chat_overlay_shows_messages_gifts_super_chats_and_guards(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(running.overlay_url("shop", "chat"))
        await wait_connected(w.page)
        fan = User(id="9", name="橘子汽水", medal=Medal(name="青禾", level=7), guard=3)
        await running.service.ingest(ChatMessage(room="shop", user=fan, text="主播晚上好"))
        await running.service.ingest(Gift(room="shop", user=fan, gift_name="小心心", count=3, price=0.3))
        await running.service.ingest(
            SuperChat(room="shop", user=fan, text="支持一下", price=50, sc_id="sc1", duration=60)
        )
        await running.service.ingest(GuardBuy(room="shop", user=fan, level=3, months=1, price=198))
        await w.page.wait_for_selector('.line[data-type="guard_buy"]', timeout=5_000)
        lines = await w.page.eval_on_selector_all(".lines .line", "ns => ns.map(n => n.textContent)")
        assert any("主播晚上好" in t and "橘子汽水" in t and "青禾 7" in t for t in lines)
        assert any("小心心" in t and "×3" in t for t in lines)
        assert any("舰长" in t for t in lines)
        sc = await w.page.wait_for_selector('.sc[data-sc="sc1"]')
        assert "支持一下" in await sc.inner_text() and "¥50" in await sc.inner_text()
        await running.service.ingest(SuperChatDelete(room="shop", sc_ids=("sc1",)))
        await w.page.wait_for_selector('.sc[data-sc="sc1"]', state="detached", timeout=5_000)


async def test_hostile_viewer_names_and_text_render_as_text_everywhere(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        pages = {
            "chat": await open_page(running.overlay_url("shop", "chat")),
            "faq": await open_page(running.overlay_url("shop", "faq")),
            "console": await open_page(console_url(running)),
        }
        for watched in pages.values():
            await wait_connected(watched.page)
        hostile = User(id="666", name=HOSTILE_NAME, medal=Medal(name="<i id=injected>", level=1))
        await running.service.ingest(ChatMessage(room="shop", user=hostile, text=HOSTILE_TEXT))
        await running.service.ingest(Gift(room="shop", user=hostile, gift_name="<img src=x onerror=alert(3)>"))
        await emit(
            running,
            FaqReply(
                room="shop",
                user=hostile,
                text=HOSTILE_TEXT,
                faq_id="return_policy",
                answer="订单页申请售后",
                action="held",
                reason="<img src=x onerror=alert(4)>",
                askers=(hostile,),
            ),
        )
        anchor = User(id="1", name=HOSTILE_NAME, roles=("anchor",))
        await running.service.ingest(ChatMessage(room="shop", user=anchor, text=HOSTILE_TEXT))

        chat = pages["chat"].page
        await chat.wait_for_selector('.line[data-type="gift"]', timeout=5_000)
        assert HOSTILE_NAME in await chat.eval_on_selector_all(".line .name", "ns => ns.map(n => n.textContent)")
        assert HOSTILE_TEXT in await chat.eval_on_selector_all(".line .text", "ns => ns.map(n => n.textContent)")

        faq = pages["faq"].page
        card = await faq.wait_for_selector(".lb-faq", timeout=5_000)
        assert await card.eval_on_selector(".name", "n => n.textContent") == HOSTILE_NAME
        assert await card.eval_on_selector(".question", "n => n.textContent") == HOSTILE_TEXT

        console = pages["console"].page
        await console.wait_for_selector(".c-faq", timeout=5_000)
        await console.wait_for_selector(".c-anchor-chat", timeout=5_000)
        assert HOSTILE_NAME in await console.inner_text(".c-faq .c-askers")
        assert HOSTILE_TEXT in await console.inner_text(".c-anchor-chat .c-text")

        for name, watched in pages.items():
            assert await watched.page.evaluate(NO_INJECTION) == {"pwned": None, "injected": 0}, name
            assert watched.dialogs == [], name
            assert watched.errors == [], name


async def test_console_transcript_partials_highlights_faq_and_status(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(console_url(running))
        page = w.page
        await wait_connected(page)

        # a partial is shown, then revised in place by its final
        await post_speech(running, "今天给大家", "c1", final=False)
        await page.wait_for_selector('.c-line.partial[data-key="s|c1"]', timeout=5_000)
        await post_speech(running, "今天给大家带来的是全网最低价", "c1")
        await page.wait_for_selector('.c-line:not(.partial)[data-key="s|c1"]', timeout=5_000)
        assert await page.locator('.c-line[data-key="s|c1"]').count() == 1
        hit = await page.wait_for_selector('.c-line[data-key="s|c1"] mark.c-hit', timeout=5_000)
        assert (await hit.inner_text()) in "今天给大家带来的是全网最低价"
        assert await page.locator(".c-warning").count() >= 1

        # a phrase split over two segments is marked in both lines
        await post_speech(running, "那我们的甲乙", "c2")
        await post_speech(running, "丙丁就来了", "c3")
        await page.wait_for_selector('.c-line[data-key="s|c3"]')
        await emit(
            running,
            Warning(
                room="shop",
                rule="test.split",
                phrase="甲乙丙丁",
                matched="甲乙丙丁",
                severity="block",
                text="甲乙丙丁就来了",
                start=0,
                end=4,
                segment="c3",
            ),
        )
        await page.wait_for_selector('.c-line[data-key="s|c3"] mark.c-hit.sev-block', timeout=5_000)
        assert await page.inner_text('.c-line[data-key="s|c2"] mark.c-hit') == "甲乙"
        assert await page.inner_text('.c-line[data-key="s|c3"] mark.c-hit') == "丙丁"

        # FAQ decisions with why a reply was held back
        await emit(
            running,
            FaqReply(
                room="shop",
                user=viewer(),
                text="多久发货",
                faq_id="ship_time",
                answer="72小时内发货",
                chat_text="72小时内发货",
                action="held",
                reason="faq_cooldown",
            ),
        )
        row = await page.wait_for_selector(".c-faq.action-held", timeout=5_000)
        assert "同一问题冷却中" in await row.inner_text() and "小鹿乱撞" in await row.inner_text()

        # room connection state and counters
        await running.service.ingest(RoomStatus(room="shop", state="reconnecting", detail="websocket closed"))
        await page.wait_for_selector('#room-state[data-state="reconnecting"]', timeout=5_000)
        blocks = await page.locator(".c-warning.sev-block").count()  # distinct phrases: one row each
        assert blocks >= 1 and await page.inner_text('dd[data-counter="block"]') == str(blocks)
        assert await page.inner_text('dd[data-counter="faq_held"]') == "1"
        await page.wait_for_selector('#health-state[data-state="ok"]', timeout=8_000)
        assert not w.errors


async def test_console_replays_the_show_so_far_and_refuses_a_wrong_token(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        await post_speech(running, "开场说一句话", "early-1")
        denied = await open_page(console_url(running, token="wrong"), expect_ok=False)
        assert "livebot-config" not in await denied.page.content()
        w = await open_page(console_url(running))
        await w.page.wait_for_selector('.c-line[data-key="s|early-1"]', timeout=5_000)
