"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's async API.

One browser per test module (launching costs about a second); each test gets a fresh context so
pages never share storage. Every page records JavaScript dialogs and uncaught errors, so a test can
prove that a hostile payload ran nothing, and counts the oscillators the warning chime starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.config import Settings
from bot.faq import FaqStore
from bot.service import RuleSet, Service
from tests.chromium import CHROMIUM, launch_chromium
from tests.support import DEMO_FAQ, Running, make_settings, running_service

# Counts what the warning chime does without needing a sound card: every oscillator started.
COUNT_OSCILLATORS = """
window.__oscillators = 0;
if (window.AudioContext) {
  const create = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () { window.__oscillators += 1; return create.call(this); };
}
"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@dataclass
class Watched:
    """A page and what it did that it should not have."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await launch_chromium(pw)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def open_page(browser: Any) -> AsyncIterator[Any]:
    """open_page(url) -> Watched, in a fresh 1920x1080 context; closed after the test."""
    contexts: list[Any] = []

    async def open_(url: str | None = None, *, expect_ok: bool = True) -> Watched:
        context = await browser.new_context(viewport={"width": 1920, "height": 1080})
        contexts.append(context)
        await context.add_init_script(COUNT_OSCILLATORS)
        page = await context.new_page()
        watched = Watched(page)

        async def on_dialog(dialog: Any) -> None:
            watched.dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
        if url is not None:
            response = await page.goto(url)
            if expect_ok:
                assert response is not None and response.status == 200, url
        return watched

    yield open_
    for context in contexts:
        await context.close()


async def wait_connected(page: Any) -> None:
    await page.wait_for_selector('html[data-feed="connected"]', timeout=10_000)


def quiet_room_settings(tmp_path: Path, name: str = "shop", **sections: Any) -> Settings:
    """A replay room with an empty recording: nothing happens in it unless a test says so."""
    recording = tmp_path / f"{name}-empty.jsonl"
    recording.write_text("", "utf-8")
    room = {"name": name, "platform": "replay", "recording": str(recording), "faq": str(DEMO_FAQ)}
    return make_settings(tmp_path, [room], **sections)


# Loading the built-in rule packs takes a second or two; the browser tests start a dozen services,
# so they share one loaded rule set and FAQ store (both are read-only while serving).
_RULE_SETS: dict[tuple[str, ...], RuleSet] = {}
_FAQ_STORES: dict[str, FaqStore] = {}


def serve(settings: Settings) -> contextlib.AbstractAsyncContextManager[Running]:
    """running_service() with the shared rule set and FAQ store."""
    service = Service(settings)
    for room in settings.rooms:
        if room.packs not in _RULE_SETS:
            _RULE_SETS[room.packs] = RuleSet(room.packs)
        service.rule_sets[room.packs] = _RULE_SETS[room.packs]
        if room.faq and room.faq not in _FAQ_STORES:
            _FAQ_STORES[room.faq] = FaqStore.load(room.faq)
        if room.faq:
            service.faq_stores[room.faq] = _FAQ_STORES[room.faq]
    return running_service(settings, service)
