"""CPU per danmaku through one room in one process, without the network: decode, parse, the room's
lanes, the bus and the audit log (no FAQ, no overlay), best of a few repetitions.

    python bench/bench_hot_path.py                  # this checkout
    python bench/bench_hot_path.py --root ../other  # another checkout of livebot, for a before/after

The frames are the load bench's (brotli frames of 20 DANMU_MSG each, every text unique). Being one
process on one core, the figure is steadier than the load bench's on a shared machine, which makes
it the one to compare two versions with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def build_frames(pack: Any, danmu: Any, frames: int, per_frame: int) -> tuple[list[bytes], int]:
    import brotli

    out: list[bytes] = []
    n = 0
    for _ in range(frames):
        inner = []
        for _ in range(per_frame):
            uid = 100_000 + (n % 5000)
            text = f"r0m{n} 请问这个有货吗" if n % 7 == 0 else f"r0m{n} 主播好"
            body = json.dumps(danmu(uid, f"观众{uid}", text), ensure_ascii=False, separators=(",", ":"))
            inner.append(pack(5, body.encode()))
            n += 1
        out.append(pack(5, brotli.compress(b"".join(inner), quality=4), proto=3))
    return out, n


async def run(frames: list[bytes], count: int, repeats: int) -> float:
    from bot.adapters.bilibili.commands import CommandParser
    from bot.adapters.bilibili.frames import decode, json_body
    from bot.audit import AuditLog
    from bot.bus.memory import MemoryBus
    from bot.config import RoomSettings
    from bot.room import RoomPipeline
    from bot.service import RoomRunner
    from rules import RuleEngine

    try:  # the packet's own bytes as the raw payload (older versions decode and re-encode it)
        from bot.audit import raw_json
    except ImportError:
        raw_json = None

    engine = RuleEngine.load(("builtin",))
    audit = AuditLog(tempfile.mkdtemp(prefix="bench-hot-"))
    pipeline = RoomPipeline("r0", bus=MemoryBus(replay=2000), audit=audit, rules=lambda: engine)
    runner = RoomRunner(RoomSettings(name="r0", platform="bilibili", room_id="1"), pipeline, adapter=None)
    runner.flush_audit = audit.flush
    consumer = asyncio.create_task(runner._consume())
    parser = CommandParser("r0")
    fast = getattr(parser, "danmu_bytes", None)
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for frame in frames:
            for leaf in decode(frame):
                if leaf.op != 5:
                    continue
                if fast is not None:  # the adapter's typed path of the usual danmaku (newer versions)
                    raw = raw_json(leaf.body)
                    events = fast(leaf.body, raw)
                    if events is None:
                        events = parser.parse(json_body(leaf), raw=raw)
                else:
                    payload = json_body(leaf)
                    events = parser.parse(payload, raw=raw_json(leaf.body)) if raw_json else parser.parse(payload)
                for event in events:
                    runner.submit(event)
            await asyncio.sleep(0)
            while runner.queued:  # noqa: ASYNC110 - a loop round at a time, as the adapters yield
                await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        best = min(best, time.process_time() - started)
    consumer.cancel()
    audit.close()
    return best / count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1]), help="the livebot checkout to run")
    ap.add_argument("--frames", type=int, default=400, help="frames of 20 danmaku each (default 400)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(args.root).resolve()))
    from tests.loopback.bilibili import danmu, pack

    frames, count = build_frames(pack, danmu, args.frames, 20)
    per = asyncio.run(run(frames, count, args.repeats))
    import bot

    where = Path(bot.__file__).resolve().parents[1]
    print(f"{where}: {1e6 * per:.1f} µs of CPU per danmaku (best of {args.repeats} x {count:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
