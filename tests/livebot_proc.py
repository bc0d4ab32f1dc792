"""A `livebot` command as a real subprocess, the way a user starts it from a shell: started with
unbuffered output on one pipe, read line by line, and stopped with Ctrl-C (SIGINT) like a user would,
killed only if it does not exit within its grace time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def livebot_command() -> list[str]:
    """The `livebot` console script of this environment, or `python -m bot` where it is not installed."""
    script = Path(sys.executable).parent / "livebot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


async def spawn_livebot(*args: str, cwd: Path = ROOT) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *livebot_command(), *args, cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def interrupt(proc: asyncio.subprocess.Process, grace: float = 20.0) -> None:
    """Ctrl-C, then SIGKILL if it is still running after ``grace`` seconds."""
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def livebot(*args: str, grace: float = 20.0) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run `livebot ARGS...` for the body of the block; interrupted (then killed) on the way out."""
    proc = await spawn_livebot(*args)
    try:
        yield proc
    finally:
        await interrupt(proc, grace)


async def read_until(
    proc: asyncio.subprocess.Process, pattern: str, within: float = 60.0
) -> tuple[re.Match[str], list[str]]:
    """Read output lines until one matches ``pattern``; returns the match and every line read."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no line matching {pattern!r} within {within} s:\n" + "\n".join(lines))
        raw = await asyncio.wait_for(proc.stdout.readline(), left)
        if not raw:
            raise AssertionError("livebot exited:\n" + "\n".join(lines))
        line = raw.decode("utf-8", "replace").rstrip("\n")
        lines.append(line)
        found = re.search(pattern, line)
        if found:
            return found, lines
