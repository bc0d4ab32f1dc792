"""Bilibili decode throughput, and the whole room pipeline per message next to it, in one run.

Frames are built like the real server's: one op-5 packet of proto 3 (brotli) per websocket
message, holding 1-20 commands (real DANMU_MSG layout, with the demo show's viewer lines and
names, plus the INTERACT_WORD / SEND_GIFT / WATCHED_CHANGE traffic that comes between them).

Stages, each timed over the same frames:
  decode   reassemble + decompress + JSON          (bot.adapters.bilibili.frames)
  events   decode + command -> Event               (bot.adapters.bilibili.commands)
  pipeline events + RoomPipeline.handle: bus publish, audit log line, compliance check of anchor
           lines, FAQ matching of viewer lines (when bot.faq is present)

Run: python bench/bench_decode.py [--frames N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.adapters.bilibili.commands import CommandParser  # noqa: E402
from bot.adapters.bilibili.frames import decode, json_body  # noqa: E402
from bot.events import Event  # noqa: E402
from tests.loopback.bilibili import brotli_frame, danmu, send_gift  # noqa: E402

ANCHOR = 1001


def demo_lines() -> tuple[list[tuple[str, str]], list[str]]:
    viewers: list[tuple[str, str]] = []
    anchor: list[str] = []
    for line in (ROOT / "bot" / "demo" / "recording.jsonl").read_text("utf-8").splitlines():
        obj = json.loads(line)
        if obj.get("type") == "chat" and obj.get("text"):
            viewers.append((obj["user"]["name"], obj["text"]))
        elif obj.get("type") == "speech" and obj.get("text"):
            anchor.append(obj["text"])
    return viewers, anchor


def build_frames(n: int, rng: random.Random) -> tuple[list[bytes], int]:
    viewers, anchor = demo_lines()
    frames: list[bytes] = []
    commands = 0
    for _ in range(n):
        batch = []
        for _ in range(rng.randint(1, 20)):
            r = rng.random()
            if r < 0.70:
                name, text = rng.choice(viewers)
                batch.append(
                    danmu(
                        rng.randint(10_000, 99_999_999),
                        name,
                        text,
                        medal=(rng.randint(1, 30), "青禾"),
                        level=rng.randint(1, 40),
                    )
                )
            elif r < 0.75:
                batch.append(danmu(ANCHOR, "主播", rng.choice(anchor)))
            elif r < 0.88:
                uid = rng.randint(10_000, 99_999_999)
                batch.append(
                    {
                        "cmd": "INTERACT_WORD",
                        "data": {
                            "uid": uid,
                            "uname": "观众",
                            "msg_type": 1,
                            "timestamp": 1_700_000_000 + uid % 1000,
                            "fans_medal": {"medal_name": "", "medal_level": 0},
                        },
                    }
                )
            elif r < 0.95:
                batch.append(send_gift(rng.randint(10_000, 99_999), "观众", "小花花", rng.randint(1, 10)))
            else:
                batch.append({"cmd": "WATCHED_CHANGE", "data": {"num": rng.randint(1000, 90000)}})
        commands += len(batch)
        frames.append(brotli_frame(batch))
    return frames, commands


def time_stage(label: str, frames: list[bytes], commands: int, seconds: float, run_once) -> float:  # type: ignore[no-untyped-def]
    rounds = 0
    start = time.perf_counter()
    while True:
        run_once(frames)
        rounds += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    per_sec = commands * rounds / elapsed
    print(
        f"{label:<9} {per_sec:>12,.0f} msgs/s   {len(frames) * rounds / elapsed:>10,.0f} frames/s   "
        f"{1e6 / per_sec:>8.1f} us/msg"
    )
    return per_sec


def decode_only(frames: list[bytes]) -> None:
    for f in frames:
        for leaf in decode(f):
            json_body(leaf)


def to_events(frames: list[bytes], parser: CommandParser, out: list[Event] | None = None) -> None:
    for f in frames:
        for leaf in decode(f):
            evs = parser.parse(json_body(leaf))
            if out is not None:
                out.extend(evs)


async def pipeline_stage(frames: list[bytes], commands: int, seconds: float) -> tuple[float, str]:
    from bot.audit import AuditLog
    from bot.bus.memory import MemoryBus
    from bot.config import ReplySettings
    from bot.room import RoomPipeline
    from rules import RuleEngine

    engine = RuleEngine.load(("builtin",))
    with tempfile.TemporaryDirectory() as tmp:
        bus = MemoryBus(2000, 1000)
        await bus.start()
        audit = AuditLog(tmp)
        pipeline = RoomPipeline("bench", bus=bus, audit=audit, rules=lambda: engine)
        stages = "bus + audit + rules"
        try:
            from bot.faq import FaqResponder, FaqStore

            pipeline.responder = FaqResponder(
                room="bench",
                platform="bilibili",
                store=FaqStore.load(ROOT / "bot" / "demo" / "faq.toml"),
                reply=ReplySettings(),
                emit=pipeline.emit,
                send=None,
            )
            stages += " + FAQ"
        except ImportError:
            pass
        rounds = 0
        start = time.perf_counter()
        while True:
            parser = CommandParser("bench", anchor_uid=str(ANCHOR))
            events: list[Event] = []
            to_events(frames, parser, events)
            for ev in events:
                await pipeline.handle(ev)
            rounds += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        await pipeline.close()
        audit.close()
        await bus.close()
    per_sec = commands * rounds / elapsed
    print(
        f"{'pipeline':<9} {per_sec:>12,.0f} msgs/s   {len(frames) * rounds / elapsed:>10,.0f} frames/s   "
        f"{1e6 / per_sec:>8.1f} us/msg   ({stages})"
    )
    return per_sec, stages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=2000, help="distinct frames to build (default 2000)")
    ap.add_argument("--seconds", type=float, default=3.0, help="time per stage (default 3)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    frames, commands = build_frames(args.frames, random.Random(args.seed))
    wire = sum(len(f) for f in frames)
    print(
        f"{len(frames)} brotli frames, {commands} commands ({commands / len(frames):.1f}/frame), "
        f"{wire / len(frames):.0f} bytes/frame on the wire; python {sys.version.split()[0]}"
    )
    decode = time_stage("decode", frames, commands, args.seconds, decode_only)
    events = time_stage(
        "events",
        frames,
        commands,
        args.seconds,
        lambda fs: to_events(fs, CommandParser("bench", anchor_uid=str(ANCHOR))),
    )
    pipe, _ = asyncio.run(pipeline_stage(frames, commands, args.seconds))
    print(
        f"decode is {100 * pipe / decode:.1f}% of the whole pipeline's cost per message; "
        f"commands->events adds {1e6 / events - 1e6 / decode:.1f} us/msg; "
        f"the pipeline after that {1e6 / pipe - 1e6 / events:.1f} us/msg"
    )


if __name__ == "__main__":
    main()
