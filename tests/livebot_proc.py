"""A `livebot` command as a real subprocess, the way a user starts it from a shell: started with
unbuffered output on one pipe, read line by line, and stopped with Ctrl-C (SIGINT) like a user would,
killed only if it does not exit within its grace time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
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


class LivebotProcess:
    """A `livebot ARGS... --port PORT` running in the background with its output in a log file, for
    tests that run several (workers, web nodes) and kill or stop them from synchronous code."""

    def __init__(self, name: str, args: list[str], log_path: Path, port: int) -> None:
        self.name, self.args, self.log_path, self.port = name, args, log_path, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", *self.args, "--port", str(self.port)], cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """Like kill -9: no shutdown at all."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (a graceful stop), SIGKILL if it has not exited within 15 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]
