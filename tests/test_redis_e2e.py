"""Scaling out, end to end: real `livebot worker` and `livebot web` processes sharing one real
redis-server, speech posted to the web node, overlays following it over websockets.

- two workers and one web node share 6 rooms; killing a worker (SIGKILL) moves its rooms to the
  other within lease_seconds, and the audit logs and overlay feeds show every warning once;
- restarting redis-server mid-stream: every node reports the outage on /healthz, reconnects, and
  the overlays show the warnings produced after the restart;
- a rule pack edited on disk reaches the rooms of every worker through Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.bus.redis_keys import Keys
from bot.bus.redis_link import RedisLink
from tests.livebot_proc import LivebotProcess
from tests.redis_support import RedisServer, free_port, needs_redis

pytestmark = needs_redis

ROOT = Path(__file__).resolve().parents[1]

PACK = """[pack]
name = "merchant"

[[rule]]
id = "merchant.competitor"
category = "competitor"
severity = "warn"
basis = "商家直播规范"
suggestion = "不提竞品品牌"
phrases = [{phrases}]
"""


def write_config(
    path: Path, *, redis_url: str, rooms: list[str], state: Path, lease: float, port: int, pack: Path
) -> None:
    empty = path.parent / "empty.jsonl"
    empty.write_text("")
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f'state_dir = "{state}"',
        'admin_token = "admin"',
        "[audit]",
        f'dir = "{state / "audit"}"',
        "[redis]",
        f'url = "{redis_url}"',
        'prefix = "e2e"',
        f"lease_seconds = {lease}",
        "ingest_wait = 3.0",
    ]
    for room in rooms:
        lines += [
            "[[rooms]]",
            f'name = "{room}"',
            'platform = "replay"',
            f'recording = "{empty}"',
            f'packs = ["builtin", "{pack}"]',
            f'overlay_token = "overlay-{room}"',
            f'ingest_token = "ingest-{room}"',
        ]
    path.write_text("\n".join(lines) + "\n")


class Proc(LivebotProcess):
    """A worker or web node of the cluster."""


class Cluster:
    def __init__(self, tmp: Path, *, workers: int, rooms: int, lease: float) -> None:
        self.tmp = tmp
        self.redis = RedisServer(tmp / "redis", aof=True)
        self.rooms = [f"r{i}" for i in range(rooms)]
        self.lease = lease
        self.pack = tmp / "merchant.toml"
        self.pack.write_text(PACK.format(phrases='"蝌蚪牌"'))
        self.web: Proc | None = None
        self.workers: list[Proc] = []
        self.n_workers = workers
        self.http: aiohttp.ClientSession | None = None
        self.probe: RedisLink | None = None

    def config(self, name: str, port: int) -> Path:
        path = self.tmp / f"{name}.toml"
        write_config(
            path,
            redis_url=self.redis.url,
            rooms=self.rooms,
            state=self.tmp / name,
            lease=self.lease,
            port=port,
            pack=self.pack,
        )
        return path

    async def start(self) -> None:
        self.redis.start()
        web_port = free_port()
        self.web = Proc("web", ["web", "--config", str(self.config("web", web_port))], self.tmp / "web.log", web_port)
        self.web.start()
        for i in range(self.n_workers):
            name = f"worker{i}"
            port = free_port()
            proc = Proc(name, ["worker", "--config", str(self.config(name, port))], self.tmp / f"{name}.log", port)
            proc.start()
            self.workers.append(proc)
        self.http = aiohttp.ClientSession()
        self.probe = RedisLink(self.redis.url)
        await self.probe.start()

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.probe is not None:
            await self.probe.close()
        for proc in [*self.workers, self.web]:
            if proc is not None:
                proc.stop()
        self.redis.stop()

    def base(self, proc: Proc | None = None) -> str:
        return f"http://127.0.0.1:{(proc or self.web).port}"  # type: ignore[union-attr]

    async def healthz(self, proc: Proc | None = None) -> tuple[int, dict[str, Any]]:
        assert self.http is not None
        try:
            async with self.http.get(f"{self.base(proc)}/healthz") as resp:
                return resp.status, await resp.json()
        except (aiohttp.ClientError, OSError):
            return 0, {}

    async def owners(self) -> dict[str, str]:
        assert self.probe is not None
        keys = Keys("e2e")
        values = await self.probe.client.mget([keys.lease(r) for r in self.rooms])
        return {r: v.decode() for r, v in zip(self.rooms, values, strict=True) if v}

    def pid_of(self, owner: str) -> int:
        return int(owner.split(":")[1])

    async def wait_spread(self, within: float = 60.0) -> dict[str, str]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            owners = await self.owners()
            per = Counter(owners.values())
            ready = all([(await self.healthz(w))[1].get("ready") for w in self.workers])
            if ready and len(owners) == len(self.rooms) and len(per) == self.n_workers:
                if max(per.values()) - min(per.values()) <= 1:
                    status, health = await self.healthz()
                    if status == 200 and all(r["state"] != "unassigned" for r in health["rooms"].values()):
                        return owners
            await asyncio.sleep(0.2)
        raise AssertionError("rooms never spread over the workers:\n" + "\n".join(p.log() for p in self.workers))

    async def post(self, room: str, text: str, segment: str) -> None:
        """Post one final segment; on 503 (Redis away) or a lost connection, send it again."""
        assert self.http is not None
        for _ in range(100):
            try:
                async with self.http.post(
                    f"{self.base()}/api/rooms/{room}/speech",
                    json={"text": text, "segment": segment, "final": True},
                    headers={"Authorization": f"Bearer ingest-{room}"},
                ) as resp:
                    if resp.status == 202:
                        return
                    assert resp.status == 503, (resp.status, await resp.text())
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"{room} {segment}: never accepted")

    def audit(self) -> dict[str, list[dict[str, Any]]]:
        """Every audit line of every node, by room."""
        out: dict[str, list[dict[str, Any]]] = {r: [] for r in self.rooms}
        for path in sorted(self.tmp.glob("*/audit/*/*.jsonl")):
            for line in path.read_text("utf-8").splitlines():
                record = json.loads(line)
                out[record["room"]].append(record)
        return out


class Overlay:
    """One room's overlay feed, as the OBS page reads it (reconnecting with ?after=<last seq>)."""

    def __init__(self, cluster: Cluster, room: str) -> None:
        self.cluster, self.room = cluster, room
        self.events: list[dict[str, Any]] = []
        self.last_seq = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self.cluster.http is not None
        while True:
            url = f"{self.cluster.base()}/overlay/{self.room}/ws?token=overlay-{self.room}&after={self.last_seq}"
            try:
                async with self.cluster.http.ws_connect(url) as ws:
                    async for msg in ws:
                        data = json.loads(msg.data)
                        if data["op"] == "event":
                            event = data["event"]
                            assert event["seq"] > self.last_seq, (self.room, event["seq"], self.last_seq)
                            self.last_seq = event["seq"]
                            self.events.append(event)
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.2)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def warning_key(w: dict[str, Any]) -> tuple[str, str, str, int, int]:
    return (w["room"], w["segment"], w["rule"], w["start"], w["end"])


async def until(predicate, within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {within} s: {what}")


@pytest_asyncio.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    c = Cluster(tmp_path, workers=2, rooms=6, lease=2.0)
    try:
        await c.start()
        yield c
    finally:
        await c.close()


def check_once(cluster: Cluster, overlays: dict[str, Overlay], posted: dict[str, list[str]]) -> None:
    """Every posted segment handled once; its warnings once on the overlay and once in the audit."""
    audit = cluster.audit()
    for room, segments in posted.items():
        feed = overlays[room]
        speech = Counter(e["segment"] for e in feed.of("speech"))
        assert set(speech) == set(segments) and max(speech.values()) == 1, (room, speech)
        heard = Counter(r["segment"] for r in audit[room] if r["type"] == "speech")
        assert set(heard) == set(segments) and max(heard.values()) == 1, (room, heard)
        shown = Counter(warning_key(w) for w in feed.of("warning"))
        logged = Counter(warning_key(r) for r in audit[room] if r["type"] == "warning")
        assert shown and max(shown.values()) == 1, (room, shown.most_common(3))
        assert logged == shown, room
        # each segment says a banned phrase, so each has its warning
        assert {k[1] for k in shown} == set(segments), room
        # the overlay and the audit log agree on the numbering too
        seqs = {r["seq"] for r in audit[room] if r["type"] == "warning"}
        assert seqs == {w["seq"] for w in feed.of("warning")}, room


@pytest.mark.asyncio
async def test_killing_a_worker_moves_its_rooms_within_the_bound_and_every_warning_shows_once(
    cluster: Cluster,
) -> None:
    owners = await cluster.wait_spread()
    overlays = {room: Overlay(cluster, room) for room in cluster.rooms}
    victim = cluster.workers[0]
    survivor = cluster.workers[1]
    victim_rooms = {r for r, o in owners.items() if cluster.pid_of(o) == victim.pid}
    assert len(victim_rooms) == 3
    posted: dict[str, list[str]] = {room: [] for room in cluster.rooms}
    per_room = 24
    took = None
    try:
        for n in range(per_room):
            if n == per_room // 3:
                victim.kill()
                killed_at = time.monotonic()
            await asyncio.gather(
                *(cluster.post(room, f"第{n}款，这是全网最低价", f"{room}-{n}") for room in cluster.rooms)
            )
            for room in cluster.rooms:
                posted[room].append(f"{room}-{n}")
            if took is None and n >= per_room // 3:
                now_owners = await cluster.owners()
                if all(cluster.pid_of(now_owners.get(r, "x:0")) == survivor.pid for r in victim_rooms):
                    took = time.monotonic() - killed_at
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + 10
        while took is None and time.monotonic() < deadline:
            now_owners = await cluster.owners()
            if all(cluster.pid_of(now_owners.get(r, "x:0")) == survivor.pid for r in victim_rooms):
                took = time.monotonic() - killed_at
            await asyncio.sleep(0.05)
        assert took is not None, survivor.log()
        # the bound: a dead worker's rooms are taken over within [redis] lease_seconds
        assert took <= cluster.lease, took

        def all_shown() -> bool:
            return all(len(overlays[r].of("speech")) >= per_room for r in cluster.rooms)

        await until(all_shown, 30, "every segment on the overlays")
        await asyncio.sleep(0.5)  # anything extra (a duplicate) would show up now
        check_once(cluster, overlays, posted)
        # the web node's /healthz (what the console shows) tells the same story, a moment later
        for _ in range(50):
            status, health = await cluster.healthz()
            workers = {r.get("worker", ":").split(":")[1] for r in health.get("rooms", {}).values()}
            if health.get("cluster", {}).get("live_workers") == 1 and workers == {str(survivor.pid)}:
                break
            await asyncio.sleep(0.1)
        assert status == 200 and health["cluster"]["live_workers"] == 1, health
        assert workers == {str(survivor.pid)}, health
    finally:
        for overlay in overlays.values():
            await overlay.close()


@pytest.mark.asyncio
async def test_restarting_redis_mid_stream(cluster: Cluster) -> None:
    await cluster.wait_spread()
    overlays = {room: Overlay(cluster, room) for room in cluster.rooms}
    posted: dict[str, list[str]] = {room: [] for room in cluster.rooms}

    async def post_round(n: int) -> None:
        await asyncio.gather(*(cluster.post(room, f"第{n}款，加微信私聊", f"{room}-{n}") for room in cluster.rooms))
        for room in cluster.rooms:
            posted[room].append(f"{room}-{n}")

    try:
        for n in range(5):
            await post_round(n)
        await until(lambda: all(len(o.of("warning")) >= 5 for o in overlays.values()), 20, "warnings before")
        await asyncio.to_thread(cluster.redis.stop)
        # every node reports the outage: 503 with the reason
        for proc in [cluster.web, *cluster.workers]:
            for _ in range(50):
                status, health = await cluster.healthz(proc)
                if status == 503:
                    break
                await asyncio.sleep(0.1)
            assert status == 503, (proc.name, status, health)  # type: ignore[union-attr]
            assert "unreachable" in health["bus"]["detail"]
        # speech sent while Redis is away waits for it (or is refused and sent again by the client)
        during = asyncio.create_task(post_round(5))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(cluster.redis.start)
        await during
        for n in range(6, 12):
            await post_round(n)
        await until(lambda: all(len(o.of("speech")) >= 12 for o in overlays.values()), 30, "speech after")
        await asyncio.sleep(0.5)
        check_once(cluster, overlays, posted)
        for proc in [cluster.web, *cluster.workers]:
            status, health = await cluster.healthz(proc)
            assert status == 200 and health["bus"]["reconnects"] >= 1, (proc.name, health)  # type: ignore[union-attr]
        # the console's view: the rooms' status says Redis went away and came back
        metrics = await (await cluster.http.get(f"{cluster.base()}/metrics")).text()  # type: ignore[union-attr]
        assert "livebot_bus_reconnects_total" in metrics
    finally:
        for overlay in overlays.values():
            await overlay.close()


@pytest.mark.asyncio
async def test_a_rule_pack_edit_reaches_every_worker(cluster: Cluster) -> None:
    owners = await cluster.wait_spread()
    assert len({cluster.pid_of(o) for o in owners.values()}) == 2
    overlays = {room: Overlay(cluster, room) for room in cluster.rooms}
    try:
        await asyncio.gather(*(cluster.post(room, "我们比青蛙牌好用", f"{room}-before") for room in cluster.rooms))
        await until(lambda: all(o.of("speech") for o in overlays.values()), 20, "speech shown")
        assert not any(w["rule"] == "merchant.competitor" for o in overlays.values() for w in o.of("warning"))
        cluster.pack.write_text(PACK.format(phrases='"蝌蚪牌", "青蛙牌"'))

        async def probe_until_warned() -> None:
            for n in range(100):
                waiting = [
                    r
                    for r, o in overlays.items()
                    if not any(w["rule"] == "merchant.competitor" for w in o.of("warning"))
                ]
                if not waiting:
                    return
                await asyncio.gather(*(cluster.post(r, "我们比青蛙牌好用", f"{r}-after-{n}") for r in waiting))
                await asyncio.sleep(0.3)
            raise AssertionError("the edited pack never reached every room")

        await asyncio.wait_for(probe_until_warned(), 30)
        metrics = await (await cluster.http.get(f"{cluster.base(cluster.workers[0])}/metrics")).text()  # type: ignore[union-attr]
        assert 'livebot_warnings_total{room="' in metrics and "livebot_rooms_joined 3.0" in metrics
    finally:
        for overlay in overlays.values():
            await overlay.close()
