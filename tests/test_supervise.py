"""An adapter task that dies is restarted with backoff and reported, never left dead."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.adapters.base import Adapter, Backoff, CpuBudget
from bot.adapters.bilibili import BilibiliAdapter
from bot.events import ChatMessage, Event, RoomStatus, User
from bot.supervise import AdapterSupervisor
from tests.loopback.bilibili import BilibiliLoopback, cmd_packet, danmu
from tests.loopback.collect import until
from tests.support import Running, make_settings, running_service


def chats(run: Running) -> list[str]:
    path = Path(run.settings.audit.dir) / "bili" / f"{dt.date.today().isoformat()}.jsonl"
    lines = path.read_text("utf-8").splitlines() if path.exists() else []
    return [r["text"] for r in map(json.loads, lines) if r["type"] == "chat"]


class Flaky(Adapter):
    """Crashes on its first ``crashes`` runs (after a line each), then yields one line and ends."""

    platform = "test"

    def __init__(self, crashes: int) -> None:
        super().__init__("room")
        self.crashes = crashes
        self.runs = 0

    async def events(self) -> AsyncIterator[Event]:
        self.runs += 1
        st = self.status("connected")
        if st:
            yield st
        yield ChatMessage(room=self.room, platform=self.platform, user=User(id="1", name="a"), text=f"run {self.runs}")
        if self.runs <= self.crashes:
            raise ValueError("invalid literal for int() with base 10: '--1'")

    async def send(self, text: str, *, reply_to: User | None = None) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        pass


@pytest.mark.asyncio
async def test_a_crashed_adapter_is_restarted_and_each_crash_reported() -> None:
    got: list[Event] = []
    adapter = Flaky(crashes=3)
    supervisor = AdapterSupervisor(adapter, got.append, backoff=Backoff(base=0.01, cap=0.05))
    await supervisor.run()  # returns once the adapter ends by itself
    assert [e.text for e in got if isinstance(e, ChatMessage)] == ["run 1", "run 2", "run 3", "run 4"]
    states = [(e.state, e.detail) for e in got if isinstance(e, RoomStatus)]
    # each restart is told, and the adapter's own "connected" after it is told again
    assert [s for s, _ in states] == ["connected", "reconnecting"] * 3 + ["connected"]
    assert all("ValueError" in d and "adapter crashed" in d for s, d in states if s == "reconnecting")
    assert supervisor.status()["adapter_restarts"] == 3 and "--1" in supervisor.status()["adapter_crash"]


@pytest.mark.asyncio
async def test_a_room_whose_adapter_crashes_keeps_its_later_lines(
    tmp_path: Path, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = BilibiliAdapter._connection
    crashed: list[str] = []

    async def crash_once(self: BilibiliAdapter, url: str) -> AsyncIterator[Event]:
        async for ev in real(self, url):
            yield ev
            if isinstance(ev, ChatMessage) and not crashed:
                crashed.append(ev.text)
                raise RuntimeError("a bug in the adapter")

    monkeypatch.setattr(BilibiliAdapter, "_connection", crash_once)
    async with BilibiliLoopback() as server:
        settings = make_settings(
            tmp_path,
            [{"name": "bili", "platform": "bilibili", "room_id": str(server.room_id)}],
            platforms={"bilibili": server.settings_table(reconnect_base_seconds=0.05, reconnect_cap_seconds=0.2)},
        )
        async with running_service(settings) as run:
            runner = run.service.runners["bili"]
            assert runner.supervisor is not None
            runner.supervisor.backoff = Backoff(base=0.05, cap=0.2)
            await server.wait_authed(1)
            await server.send(cmd_packet(danmu(1, "a", "before the crash")))
            await until(lambda: runner.supervisor.restarts == 1, 10)  # type: ignore[union-attr]
            conn = await server.wait_authed(2, within=20)
            await server.send(cmd_packet(danmu(2, "b", "after the crash")), conn)
            await until(lambda: chats(run) == ["before the crash", "after the crash"], 10)
            async with http.get(f"{run.base_url}/healthz") as resp:
                health = await resp.json()
            room = health["rooms"]["bili"]
            assert room["state"] == "connected" and room["adapter_restarts"] == 1
            assert "RuntimeError" in room["adapter_crash"]


@pytest.mark.asyncio
async def test_a_room_over_its_cpu_budget_pauses_its_own_reading() -> None:
    budget = CpuBudget(share=0.1, window=0.5)
    loop = asyncio.get_running_loop()
    await budget.spend(0.01)  # within the budget: no pause
    assert budget.throttled == 0
    started = loop.time()
    await budget.spend(0.06)  # over 10 % of the window: wait for the window to end
    assert budget.throttled == 1 and loop.time() - started > 0.2  # it did wait (most of the window)
    await budget.spend(0.01)  # a fresh window
    assert budget.throttled == 1
