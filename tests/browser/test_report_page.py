"""The report's HTML in real headless Chromium from ``file://``: no console error, no request beyond
the file itself, no script run by viewer markup, and the timeline and category charts drawn."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from bot.cli import main
from tests.chromium import launch_chromium
from tests.report_support import ROOM, count_log, log_files, produce_show

pytestmark = pytest.mark.browser


@pytest.mark.asyncio
async def test_report_page_offline_in_chromium(tmp_path: Path) -> None:
    settings = await produce_show(tmp_path)
    files = log_files(settings)
    out = tmp_path / "report.html"
    assert main(["report", "--audit", settings.audit.dir, "--room", ROOM, "--date", files[0].stem,
                 "--out", str(out)]) == 0
    held = count_log(files)

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            problems: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("dialog", lambda d: problems.append("dialog " + d.message))
            page.on("request", lambda r: requests.append(r.url))
            await page.goto(out.as_uri())
            await page.wait_for_load_state("load")
            await asyncio.sleep(0.3)  # a late onerror/onload of injected markup would show by now

            warn_bars = await page.locator("#timeline rect.warn-bar").count()
            cat_bars = await page.locator("#categories rect.cat-bar").count()
            heights = await page.eval_on_selector_all(
                "#timeline rect.warn-bar", "els => els.map(e => e.getBBox().height)"
            )
            shown = json.loads(
                await page.eval_on_selector_all(
                    "#categories rect.cat-bar title", "els => JSON.stringify(els.map(e => e.textContent))"
                )
            )
            box = await page.locator("#timeline").bounding_box()
        finally:
            await browser.close()

    assert problems == []
    assert requests == [out.as_uri()]
    assert warn_bars > 0 and all(h > 0 for h in heights)
    assert cat_bars == len(held["category"])
    assert sum(int(t.rsplit(" ", 1)[1]) for t in shown) == held["counts"]["warning"]
    assert box is not None and box["width"] > 500 and box["height"] > 200
