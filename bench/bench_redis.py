"""Benchmark: events per second through the Redis bus, and rooms per worker, on this machine.

    python bench/bench_redis.py [--rooms 200] [--events 20000] [--segments 10]

Starts its own redis-server (loopback, a temp dir, AOF with fsync every second: the persistence a
deployment runs with) and measures:

1. the bus alone: one writer node publishing to N rooms at once, one reader node following every
   room (as a web node does for its overlays): events/s written, events/s delivered, and the
   delivery delay from publish to subscriber (p50/p99);
2. one `livebot worker` process (the real command, its own process) configured with N rooms:
   how fast it joins them, then how many ingested speech segments per second it turns into
   speech events and warnings on the rooms' streams (rules engine included), and its CPU time per
   segment; from that, how many rooms one worker carries at a stated speech rate per room.

The figures depend on the machine and on what else runs on it; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.bus.redis import RedisBus  # noqa: E402
from bot.bus.redis_keys import Keys  # noqa: E402
from bot.bus.redis_link import RedisLink  # noqa: E402
from bot.cluster.webnode import INGEST_LUA  # noqa: E402
from bot.events import AnchorSpeech, ChatMessage, User  # noqa: E402

PREFIX = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("bench_redis: redis-server is not installed (apt-get install redis-server)")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""]
    args += ["--appendonly", "yes", "--appendfsync", "everysec", "--logfile", str(directory / "redis.log")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    sys.exit("bench_redis: redis-server did not start")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- 1. the bus alone ---------------------------------------------------------------------------


async def bench_bus(url: str, rooms: int, events: int, paced: float) -> None:
    writer = RedisBus(url, prefix=PREFIX, replay=2000)
    reader = RedisBus(url, prefix=PREFIX, replay=2000, subscriber_queue=1_000_000)
    await writer.start()
    await reader.start()
    names = [f"bus{i}" for i in range(rooms)]
    delays: list[float] = []
    counted = 0
    target = 0
    done = asyncio.Event()

    async def follow(room: str) -> None:
        nonlocal counted
        async for event in reader.subscribe(room, after_seq=0):
            delays.append(time.time() - event.ts)
            counted += 1
            if counted >= target:
                done.set()

    followers = [asyncio.create_task(follow(r)) for r in names]
    await asyncio.sleep(0.5)
    user = User(id="42", name="观众")

    def chat(room: str, i: int) -> ChatMessage:
        return ChatMessage(room=room, platform="bench", user=user, text=f"第{i}条：几天发货呀")

    # full speed: every room publishes its share at once
    per_room = events // rooms
    target = per_room * rooms

    async def publish(room: str) -> None:
        for i in range(per_room):
            await writer.publish(chat(room, i))

    start = time.perf_counter()
    await asyncio.gather(*(publish(r) for r in names))
    written = time.perf_counter() - start
    await asyncio.wait_for(done.wait(), 120)
    delivered = time.perf_counter() - start
    print(f"bus: {target} events over {rooms} rooms, one writer node and one reader node following every room")
    print(f"  full speed: written {target / written:7.0f} events/s, delivered {target / delivered:7.0f} events/s")

    # paced: a steady load well below capacity, for the delay a page sees in normal operation
    delays.clear()
    counted, target = 0, int(paced * 3)
    done.clear()
    start = time.perf_counter()
    pending: set[asyncio.Task[object]] = set()
    for i in range(target):
        due = start + i / paced
        if due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        task = asyncio.create_task(writer.publish(chat(names[i % rooms], i)))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.wait_for(done.wait(), 60)
    delays.sort()
    print(
        f"  at a steady {paced:.0f} events/s: delay publish -> subscriber "
        f"p50 {1000 * statistics.median(delays):.1f} ms, p99 {1000 * delays[int(0.99 * (len(delays) - 1))]:.1f} ms"
    )
    for task in followers:
        task.cancel()
    await reader.close()
    await writer.close()


# --- 2. one worker process ----------------------------------------------------------------------


def write_config(path: Path, url: str, rooms: list[str], state: Path, port: int) -> None:
    empty = path.parent / "empty.jsonl"
    empty.write_text("")
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f'state_dir = "{state}"',
        "[audit]",
        f'dir = "{state / "audit"}"',
        "[redis]",
        f'url = "{url}"',
        f'prefix = "{PREFIX}"',
        "lease_seconds = 15.0",
        f"worker_port = {port}",
    ]
    for room in rooms:
        lines += ["[[rooms]]", f'name = "{room}"', 'platform = "replay"', f'recording = "{empty}"']
    path.write_text("\n".join(lines) + "\n")


def spawn_worker(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "worker", "--config", str(config)], cwd=ROOT, stdout=log, stderr=log
        )


async def bench_worker(url: str, tmp: Path, rooms: int, segments: int, rate: float) -> None:
    names = [f"room{i}" for i in range(rooms)]
    config = tmp / "worker.toml"
    write_config(config, url, names, tmp / "worker", free_port())
    link = RedisLink(url)
    await link.start()
    keys = Keys(PREFIX)
    started = time.perf_counter()
    proc = spawn_worker(config, tmp / "worker.log")
    try:
        while True:
            owners = await link.client.mget([keys.lease(r) for r in names])
            statuses = await link.client.hlen(keys.room_status)
            if all(owners) and statuses == rooms:
                break
            if proc.poll() is not None:
                sys.exit(f"bench_redis: the worker exited:\n{(tmp / 'worker.log').read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        joined = time.perf_counter() - started
        print(f"worker: one `livebot worker` process with {rooms} rooms")
        print(f"  start-up to all {rooms} rooms joined: {joined:.1f} s (process start, rule packs, leases)")

        ingest = link.client.register_script(INGEST_LUA)
        texts = [
            "这款面霜是全网最低价，买到就是赚到",
            "今天给大家介绍一下这款外套的面料",
            "加微信私聊有优惠",
            "库存不多了",
        ]
        cpu_before = cpu_seconds(proc.pid)
        start = time.perf_counter()
        total = 0
        for n in range(segments):
            async with link.client.pipeline(transaction=False) as pipe:
                for room in names:
                    speech = AnchorSpeech(room=room, platform="replay", text=texts[n % len(texts)], segment=f"s{n}")
                    payload = json.dumps(speech.to_dict(), ensure_ascii=False)
                    await ingest(
                        keys=[keys.ingest(room), keys.ingest_seen(room, f"{n}")], args=[payload, 10000], client=pipe
                    )
                    total += 1
                last_ids = await pipe.execute()
        last = dict(zip(names, [i.decode() for i in last_ids], strict=True))
        while True:
            positions = await link.client.mget([keys.ingest_pos(r) for r in names])
            if all(p is not None and p.decode() == last[r] for r, p in zip(names, positions, strict=True)):
                break
            await asyncio.sleep(0.05)
        took = time.perf_counter() - start
        cpu = cpu_seconds(proc.pid) - cpu_before
        out_events = sum(int(v) for v in await link.client.mget([keys.seq(r) for r in names]))
        per_seg_ms = 1000 * cpu / total
        print(
            f"  {total} speech segments ({segments} per room) through ingest -> rules -> bus: "
            f"{total / took:.0f} segments/s, {out_events / took:.0f} published events/s"
        )
        print(f"  worker CPU: {per_seg_ms:.2f} ms per segment (speech event + its warnings + the ingest commit)")
        per_core = 0.7 * 1000 / per_seg_ms / rate
        print(
            f"  rooms per worker at {rate:g} speech segments/s per room, 70% of one core: about {per_core:.0f}"
            " (chat traffic and FAQ matching come on top)"
        )
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        await link.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--events", type=int, default=20000, help="events through the bus alone")
    parser.add_argument("--segments", type=int, default=10, help="speech segments per room for the worker")
    parser.add_argument("--paced", type=float, default=500, help="steady events/s for the delay figure")
    parser.add_argument("--rate", type=float, default=1.0, help="speech segments/s per room, for rooms per worker")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    redis, url = start_redis(tmp)
    try:
        print(f"redis-server {url} (AOF, fsync every second); {os.cpu_count()} CPU(s)")
        await bench_bus(url, args.rooms, args.events, args.paced)
        await bench_worker(url, tmp, args.rooms, args.segments, args.rate)
    finally:
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
