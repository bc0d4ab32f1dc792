"""A real show's audit log for the report tests: the demo recording (plus hostile lines) replayed
through the real service, and an independent count of what the log holds."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.config import Settings
from tests.support import DEMO_FAQ, DEMO_RECORDING, make_settings, running_service

ROOM = "show"
# Markup in every place a viewer or the anchor controls: the report must show it as text.
HOSTILE_NAME = '<img src=x onerror="alert(1)">'
HOSTILE = [
    {"type": "chat", "user": {"id": "666", "name": HOSTILE_NAME}, "text": "<script>alert(2)</script>能用花呗吗"},
    {"type": "speech", "segment": "x1", "final": True, "text": '全网最低价<b onmouseover="alert(3)">点我</b>'},
    {"type": "gift", "user": {"id": "667", "name": HOSTILE_NAME}, "gift_name": "<svg onload=alert(4)>",
     "count": 1, "price": 1.0},
    {"type": "chat", "user": {"id": "668", "name": "x"}, "text": "</td></tr></table><h1>问一下怎么开发票呀</h1>"},
]


def show_recording(path: Path) -> Path:
    # first, so each is the first example of its phrase or question the page shows
    lines = [json.dumps({"t": 0.1 + i * 0.1, **event}, ensure_ascii=False) for i, event in enumerate(HOSTILE)]
    lines += DEMO_RECORDING.read_text("utf-8").splitlines()
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def show_settings(tmp_path: Path, speed: float = 40.0) -> Settings:
    recording = show_recording(tmp_path / "show.jsonl")
    room = {"name": ROOM, "platform": "replay", "recording": str(recording), "faq": str(DEMO_FAQ),
            "speed": speed, "loop": False}
    return make_settings(tmp_path, [room])


def log_files(settings: Settings, room: str = ROOM) -> list[Path]:
    return sorted((Path(settings.audit.dir) / room).glob("*.jsonl"))


async def wait_for_show_end(settings: Settings, finished: int = 1, timeout: float = 180.0, room: str = ROOM) -> None:
    """Until the replay said "recording finished" ``finished`` times and the log stopped growing
    (the FAQ answerer's last decisions land after the recording's last line)."""
    deadline = time.monotonic() + timeout
    last_size, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        files = log_files(settings, room)
        text = "".join(p.read_text("utf-8") for p in files)
        size = len(text)
        if size != last_size:
            last_size, still_since = size, time.monotonic()
        elif text.count("recording finished") >= finished and time.monotonic() - still_since > 1.5:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the replayed show did not finish in time")


async def produce_show(tmp_path: Path) -> Settings:
    settings = show_settings(tmp_path)
    async with running_service(settings):
        await wait_for_show_end(settings)
    return settings


def count_log(paths: list[Path]) -> dict[str, Any]:
    """What the log holds, counted here without the report's code: every line is one event."""
    counts: Counter[str] = Counter()
    severity: Counter[str] = Counter()
    category: Counter[str] = Counter()
    rule: Counter[str] = Counter()
    action: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text("utf-8").splitlines():
            event = json.loads(line)
            counts[event["type"]] += 1
            if event["type"] == "warning":
                severity[event["severity"]] += 1
                category[event["category"]] += 1
                rule[event["rule"]] += 1
            elif event["type"] == "faq_reply":
                action[event["action"]] += 1
    return {"counts": counts, "severity": severity, "category": category, "rule": rule, "action": action}
