"""Teaching the bot in Redis mode: a web node and a worker (separate processes) on a real
redis-server, a Twitch room on the loopback IRC server. Misses taught through the web node's admin
API reach the worker through the shared-files sync and are answered right without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.faq.cli import NONE, read_tsv
from bot.faq.faqfile import load_faq, parse_faq
from bot.faq.store import FaqStore, build_matcher
from tests.loopback.twitch import TwitchLoopback, privmsg
from tests.redis_support import RedisServer, free_port, needs_redis

pytestmark = needs_redis

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
ADMIN = {"Authorization": "Bearer admin"}
CHANNEL = "qinghe"
TAUGHT = 6


def write_config(path: Path, *, redis_url: str, irc_url: str, faq: Path, state: Path, port: int) -> None:
    path.write_text(
        "\n".join(
            [
                "[server]",
                'host = "127.0.0.1"',
                f"port = {port}",
                f'state_dir = "{state}"',
                'admin_token = "admin"',
                "[audit]",
                f'dir = "{state / "audit"}"',
                "[redis]",
                f'url = "{redis_url}"',
                'prefix = "teach"',
                "lease_seconds = 2.0",
                "[platforms.twitch]",
                f'irc_url = "{irc_url}"',
                "reconnect_base_seconds = 0.05",
                "reconnect_cap_seconds = 0.2",
                "[[rooms]]",
                'name = "shop"',
                'platform = "twitch"',
                f'room_id = "{CHANNEL}"',
                f'faq = "{faq}"',
                'overlay_token = "overlay-shop"',
                'ingest_token = "ingest-shop"',
            ]
        )
        + "\n",
        "utf-8",
    )


class Node:
    """One livebot process (``web`` or ``worker``) with its own config, state and log."""

    def __init__(self, role: str, tmp: Path, **config: Any) -> None:
        self.role, self.port = role, free_port()
        self.config = tmp / f"{role}.toml"
        self.log_path = tmp / f"{role}.log"
        write_config(self.config, state=tmp / role, port=self.port, **config)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", self.role, "--config", str(self.config), "--port", str(self.port)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


class Cluster:
    def __init__(self, tmp: Path, faq: Path) -> None:
        self.tmp, self.faq = tmp, faq
        self.redis = RedisServer(tmp / "redis", aof=False)
        self.irc = TwitchLoopback()
        self.nodes: list[Node] = []
        self.http: aiohttp.ClientSession | None = None
        self.replies: list[dict[str, Any]] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.redis.start()
        await self.irc.__aenter__()
        common = dict(redis_url=self.redis.url, irc_url=self.irc.url, faq=self.faq)
        self.nodes = [Node("web", self.tmp, **common), Node("worker", self.tmp, **common)]
        for node in self.nodes:
            node.start()
        self.http = aiohttp.ClientSession()
        try:
            await self.irc.wait_joined(1, within=90.0)
        except Exception as exc:
            raise AssertionError("the worker never joined the channel:\n" + self.nodes[1].log()) from exc
        self._reader = asyncio.create_task(self._read_overlay())

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.nodes[0].port}"

    async def _read_overlay(self) -> None:
        """Every faq_reply of the room, as the overlay page reads it from the web node."""
        assert self.http is not None
        after = 0
        while True:
            url = f"{self.web}/overlay/shop/ws?token=overlay-shop&types=faq_reply&after={after}"
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with self.http.ws_connect(url) as ws:
                    async for msg in ws:
                        data = json.loads(msg.data)
                        if data.get("op") == "event":
                            after = max(after, int(data["event"].get("seq", 0)))
                            self.replies.append(data["event"])
            await asyncio.sleep(0.2)

    async def say(self, text: str, user: str) -> None:
        await self.irc.send(privmsg(CHANNEL, user, text, user_id=str(abs(hash(user)) % 10**8)))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.http is not None:
            await self.http.close()
        for node in self.nodes:
            node.stop()
        await self.irc.__aexit__(None, None, None)
        self.redis.stop()


@pytest_asyncio.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    faq = tmp_path / "faq.toml"
    faq.write_text((DATA / "faq_car.toml").read_text("utf-8"), "utf-8")
    c = Cluster(tmp_path, faq)
    try:
        await c.start()
        yield c
    finally:
        await c.close()


def misses_on_words_and_encoder(faq: Path, count: int) -> list[tuple[str, str]]:
    """Answerable messages of the car set the bot gets wrong, with the sentence encoder and without
    it (the worker answers on words alone until its encoder has embedded the entries)."""
    rows, _ = read_tsv(str(DATA / "questions_car.tsv"))
    logging.getLogger("bot.faq").setLevel(logging.WARNING)
    store = FaqStore.load(faq)
    store.wait_semantic()
    words = build_matcher(load_faq(faq), semantic=False)
    out: dict[str, str] = {}  # one per entry: a taught example may teach its neighbours too
    for _, text, want in rows:
        if want != NONE and want not in out.values() and store.match(text).faq_id != want:
            if words.match(text).faq_id != want:
                out[text] = want
    return list(out.items())[:count]


@pytest.mark.asyncio
async def test_misses_taught_on_the_web_node_are_answered_by_the_worker(cluster: Cluster) -> None:
    source = cluster.faq.read_text("utf-8")
    comments = [line for line in source.splitlines() if line.lstrip().startswith("#")]
    misses = await asyncio.to_thread(misses_on_words_and_encoder, cluster.faq, TAUGHT)
    assert len(misses) == TAUGHT, "the set must have misses to teach"
    assert cluster.http is not None

    async def decision(text: str, user: str, within: float) -> dict[str, Any] | None:
        """Say ``text`` in the room; the worker's faq_reply on it (None if it reports none)."""
        seen = len(cluster.replies)
        await cluster.say(text, user)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for event in cluster.replies[seen:]:
                if event.get("text") == text and (event.get("user") or {}).get("name", "").lower() == user:
                    return event
            await asyncio.sleep(0.05)
        return None

    def answers(event: dict[str, Any] | None, faq_id: str) -> bool:
        # an abstention is a faq_reply too: its faq_id is only the entry it came closest to
        return event is not None and event.get("action") != "abstained" and event.get("faq_id") == faq_id

    # the worker is live and answers from the FAQ before anything is taught
    first = await decision("包邮吗", "warmup", 30.0)
    assert answers(first, "shipping_fee"), (first, cluster.nodes[1].log())

    took: list[float] = []
    for i, (text, want) in enumerate(misses):
        before = await decision(text, f"before{i}", 5.0)
        assert not answers(before, want), json.dumps(before, ensure_ascii=False)
        async with cluster.http.post(
            f"{cluster.web}/admin/api/rooms/shop/faq/{want}/examples", json={"text": text}, headers=ADMIN
        ) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["added"] is True
        taught_at = time.monotonic()
        # viewers keep asking; the worker answers right once the edit has reached it (no restart)
        answered = None
        for n in range(120):
            got = await decision(text, f"after{i}x{n}", 1.0)
            if answers(got, want):
                answered = got
                break
        assert answered is not None, (text, want, cluster.nodes[1].log())
        took.append(time.monotonic() - taught_at)
    print(f"Redis mode, taught -> answered by the worker: {', '.join(f'{t:.1f} s' for t in took)}")

    on_disk = cluster.faq.read_text("utf-8")
    assert all(c in on_disk.splitlines() for c in comments), "the file lost a comment"
    parsed = parse_faq(on_disk.encode("utf-8"))
    for text, want in misses:
        assert text in parsed.entry(want).examples  # type: ignore[union-attr]
    # the worker process was never restarted
    worker = cluster.nodes[1].proc
    assert worker is not None and worker.poll() is None
