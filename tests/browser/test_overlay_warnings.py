"""The warnings overlay in real headless Chromium, fed by a real service through the speech ingest."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bot.events import PlatformNotice, Warning
from tests.browser.conftest import quiet_room_settings, serve, wait_connected
from tests.support import Running, post_speech

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# Violations the demo show labels (see bot/demo/README.md), one per category.
VIOLATING = "这款面霜是全网最低价"
OTHER_VIOLATIONS = [
    "我们的精华是国家级的配方",
    "用了能祛斑",
    "吃了能根治",
    "零风险放心拍",
    "专家推荐的好东西",
    "加我微信私下交易",
]



async def emit(running: Running, event: Any) -> None:
    """Publish through the room pipeline, as the rules engine's warnings are."""
    await running.service.runners[event.room].pipeline.emit(event)


def warning(room: str, rule: str, phrase: str, severity: str = "warn", text: str = "") -> Warning:
    text = text or f"我说了{phrase}"
    start = text.index(phrase)
    return Warning(
        room=room,
        rule=rule,
        phrase=phrase,
        matched=phrase,
        category="absolute",
        severity=severity,
        basis="《广告法》第九条",
        suggestion="说具体的事实",
        text=text,
        start=start,
        end=start + len(phrase),
        segment="x",
    )


async def test_warning_appears_after_anchor_speech_with_sound(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        loud = await open_page(running.overlay_url("shop"))
        muted = await open_page(running.overlay_url("shop", sound="0"))
        await wait_connected(loud.page)
        await wait_connected(muted.page)

        await post_speech(running, VIOLATING, "seg-1")

        card = await loud.page.wait_for_selector(".lb-warning", timeout=10_000)
        assert "最低价" in await card.inner_text()
        # everything the anchor needs is on the card: what was said, why, what to say instead
        assert await card.eval_on_selector(".context mark", "m => m.textContent") in VIOLATING
        for part in (".category", ".basis", ".suggestion"):
            assert (await card.eval_on_selector(part, "n => n.textContent")).strip(), part
        assert await loud.page.evaluate("window.__oscillators") > 0

        await muted.page.wait_for_selector(".lb-warning", timeout=10_000)
        assert await muted.page.evaluate("window.__oscillators") == 0
        assert not loud.errors and not muted.errors


async def test_repeats_merge_into_one_card_with_a_count(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(running.overlay_url("shop"))
        await wait_connected(w.page)
        for i in range(3):
            await emit(running, warning("shop", "absolute.lowest", "最低价"))
            await w.page.wait_for_selector(f'.lb-warning[data-count="{i + 1}"]', timeout=5_000)
        assert await w.page.locator(".lb-warning").count() == 1
        assert (await w.page.inner_text(".lb-warning .count")).strip() == "×3"


async def full_rules(page: Any) -> list[str]:
    """The rules of the warnings shown as full cards, top to bottom."""
    return await page.eval_on_selector_all(".lb-warning", "ns => ns.map(n => n.dataset.rule)")


async def shows_in_full(page: Any, rules: str) -> None:
    """Wait (briefly: it must be at once) until exactly these rules are the full cards, in order."""
    await page.wait_for_function(
        "rules => [...document.querySelectorAll('.lb-warning')].map(n => n.dataset.rule).join() === rules",
        arg=rules,
        timeout=3_000,
    )


async def row_rules(page: Any) -> list[str]:
    return await page.eval_on_selector_all(".lb-warning-row", "ns => ns.map(n => n.dataset.rule)")


async def in_view(page: Any, selector: str) -> bool:
    box = await (await page.wait_for_selector(selector, timeout=2_000)).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 1080 and box["width"] > 0


async def test_the_newest_warning_is_shown_at_once_however_many_came_before(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(running.overlay_url("shop", max="3", rows="6", seconds="120"))
        await wait_connected(w.page)
        for i in range(12):
            await emit(running, warning("shop", f"r{i}", f"词{i}"))
            # each one in full, on screen, the moment it arrives: nothing queues behind older cards
            await w.page.wait_for_selector(f'.lb-warning[data-rule="r{i}"]', timeout=3_000)
            assert await in_view(w.page, f'.lb-warning[data-rule="r{i}"]')
        assert await full_rules(w.page) == ["r11", "r10", "r9"]  # newest first
        assert await row_rules(w.page) == [f"r{i}" for i in range(8, 2, -1)]  # older ones compact
        assert "还有 3 条较早的提醒" in await w.page.inner_text("#warnings-more")
        assert not w.errors


async def test_block_outranks_warn_but_never_hides_a_newer_block(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(running.overlay_url("shop", max="2", rows="10", seconds="120"))
        await wait_connected(w.page)
        for i in range(3):
            await emit(running, warning("shop", f"w{i}", f"词{i}"))
        await emit(running, warning("shop", "b0", "祛斑", severity="block"))
        await w.page.wait_for_selector('.lb-warning[data-rule="b0"]', timeout=3_000)
        # later warn-level phrases are shown in full as they come, and the block stays in full
        for i in range(3, 6):
            await emit(running, warning("shop", f"w{i}", f"词{i}"))
            await shows_in_full(w.page, f"b0,w{i}")
        # a newer block: shown at once, above the older one; the older one moves down, not out
        await emit(running, warning("shop", "b1", "根治", severity="block"))
        await shows_in_full(w.page, "b1,b0")
        # the newest is always in full, even a warn when blocks fill the cards; the newer block
        # keeps its full card, the older block is the one compacted
        await emit(running, warning("shop", "w6", "词6"))
        await shows_in_full(w.page, "b1,w6")
        rows = await row_rules(w.page)
        assert rows[0] == "b0" and rows[1:] == ["w5", "w4", "w3", "w2", "w1", "w0"]
        assert await w.page.locator("#warnings-more").is_hidden()  # all of it on screen
        assert not w.errors


async def test_cards_dismiss_themselves(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(running.overlay_url("shop", seconds="1"))
        await wait_connected(w.page)
        await emit(running, warning("shop", "r1", "最好"))
        await w.page.wait_for_selector(".lb-warning", timeout=5_000)
        await w.page.wait_for_selector(".lb-warning", state="detached", timeout=5_000)


async def test_platform_notice_is_shown(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(running.overlay_url("shop"))
        await wait_connected(w.page)
        await running.service.ingest(
            PlatformNotice(room="shop", platform="replay", kind="cut_off", text="直播间因违规被切断，请整改")
        )
        card = await w.page.wait_for_selector('.lb-notice[data-kind="cut_off"]', timeout=5_000)
        text = await card.inner_text()
        assert "直播被切断" in text and "请整改" in text


async def test_theme_parameters(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(running.overlay_url("shop", theme="light", position="bottom-right", scale="0.5"))
        await wait_connected(w.page)
        await emit(running, warning("shop", "r1", "最好"))
        card = await w.page.wait_for_selector(".lb-warning", timeout=5_000)
        box = await card.bounding_box()
        assert box is not None and box["x"] > 960 and box["y"] > 540  # in the bottom-right quarter
        assert box["width"] < 600  # scaled down from the 900px column
        root = await w.page.evaluate(
            "[document.documentElement.dataset.theme, document.documentElement.dataset.position]"
        )
        assert root == ["light", "bottom-right"]
        # a bad value is ignored, not injected
        bad = await open_page(running.overlay_url("shop", position="x%22%3E%3Cb%3E", scale="abc"))
        assert await bad.page.evaluate("document.documentElement.dataset.position") == "top-left"
        assert (
            await bad.page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--lb-scale')") == "1"
        )


async def test_reconnects_after_a_server_restart_and_shows_the_missed_warning(tmp_path: Path, open_page) -> None:
    settings = quiet_room_settings(tmp_path)
    async with serve(settings) as running:
        w = await open_page(running.overlay_url("shop"))
        await wait_connected(w.page)
        await post_speech(running, VIOLATING, "before-restart")
        await w.page.wait_for_selector(".lb-warning", timeout=10_000)
        seq_before = running.service.bus.last_seq("shop")

    # the server is gone: the page says so instead of silently showing nothing
    await w.page.wait_for_selector('html[data-feed="disconnected"]', timeout=10_000)
    await w.page.wait_for_selector(".lb-status", state="visible", timeout=5_000)

    # a new process on the same port and audit log; the anchor speaks before the page is back
    async with serve(settings) as running:
        await post_speech(running, "这个配方是国家级的", "after-restart")
        assert running.service.bus.last_seq("shop") > seq_before  # sequence ids continued
        card = await w.page.wait_for_selector('.lb-warning:has-text("国家级")', timeout=20_000)
        assert int(await card.get_attribute("data-seq")) > seq_before
        await wait_connected(w.page)
        await w.page.wait_for_selector(".lb-status", state="hidden", timeout=5_000)
    assert not w.errors


async def test_missed_warnings_while_disconnected_show_their_age(tmp_path: Path, open_page) -> None:
    settings = quiet_room_settings(tmp_path)
    async with serve(settings) as running:
        w = await open_page(running.overlay_url("shop", seconds="1"))
        await wait_connected(w.page)
    await w.page.wait_for_selector('html[data-feed="disconnected"]', timeout=10_000)
    async with serve(settings) as running:
        # said while the page was away, older than the card's time on screen
        old = warning("shop", "r-missed", "顶级")
        await emit(running, dataclasses.replace(old, ts=old.ts - 30))
        card = await w.page.wait_for_selector('.lb-warning[data-rule="r-missed"]', timeout=20_000)
        assert "断线期间" in await card.inner_text()


async def test_wrong_token_sees_nothing(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        right = running.settings.rooms[0].overlay_token
        wrong = running.overlay_url("shop").replace(right, "not-the-token")
        w = await open_page(wrong, expect_ok=False)
        body = await w.page.content()
        assert "livebot-config" not in body and right not in body
        assert await w.page.evaluate("document.querySelectorAll('script').length") == 0

        # the websocket refuses a wrong token before any event is sent
        page = (await open_page(running.overlay_url("shop"))).page
        await wait_connected(page)
        result = await page.evaluate(
            """() => new Promise((resolve) => {
                const ws = new WebSocket(`ws://${location.host}/overlay/shop/ws?token=nope&after=0`);
                const got = [];
                ws.onmessage = (m) => got.push(m.data);
                ws.onclose = () => resolve({ messages: got.length, opened: ws.__opened === true });
                ws.onopen = () => { ws.__opened = true; };
                setTimeout(() => resolve({ messages: got.length, timeout: true }), 5000);
            })"""
        )
        assert result["messages"] == 0 and not result.get("opened") and not result.get("timeout")
        await post_speech(running, VIOLATING, "seg-1")
        await page.wait_for_selector(".lb-warning", timeout=10_000)  # the right token does see it
        assert await w.page.locator(".lb-warning").count() == 0


async def test_many_warnings_at_once_keep_the_page_alive(tmp_path: Path, open_page) -> None:
    async with serve(quiet_room_settings(tmp_path)) as running:
        w = await open_page(running.overlay_url("shop"))
        await wait_connected(w.page)
        for i, text in enumerate(OTHER_VIOLATIONS):
            await post_speech(running, text, f"burst-{i}")
        await w.page.wait_for_selector(".lb-warning", timeout=10_000)
        total = running.service.runners["shop"].pipeline.counters["warnings"]
        assert total >= 4

        async def shown() -> int:
            return await w.page.evaluate("document.querySelectorAll('.lb-warning, .lb-warning-row').length")

        for _ in range(50):
            if await shown() >= total:
                break
            await asyncio.sleep(0.1)
        assert await w.page.locator(".lb-warning").count() == 3  # never more than ?max= (3) in full...
        assert await shown() == total  # ...and every other one still on screen, compact
        assert not w.errors
