"""Which processes a process started (its descendants), read from /proc: the Douyin tests check that
livebot runs one browser for all its rooms and leaves none behind, and the memory bench sums their RSS."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    cmdline: tuple[str, ...]
    rss_kib: int

    @property
    def command(self) -> str:
        # Chromium rewrites the command line of its child processes into one space-joined string
        return " ".join(self.cmdline)

    @property
    def is_chromium(self) -> bool:
        """Any of Chromium's processes (browser, zygotes, renderers, GPU, utilities, crash handler)."""
        exe = self.command.split(" --", 1)[0]
        return "chrom" in Path(exe).name

    @property
    def is_browser(self) -> bool:
        """Chromium's browser process (its renderers, GPU and utility processes carry --type=)."""
        return self.is_chromium and "--type=" not in self.command and "crashpad" not in self.command


def _read(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    # the command name in parentheses may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return Proc(pid, int(fields[1]), fields[0], tuple(a.decode(errors="replace") for a in cmdline if a), rss)


def processes() -> list[Proc]:
    return [p for p in (_read(int(d)) for d in os.listdir("/proc") if d.isdigit()) if p is not None]


def descendants(pid: int) -> list[Proc]:
    """Every living (not zombie) process below ``pid``."""
    procs = processes()
    children: dict[int, list[Proc]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    out: list[Proc] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child.state != "Z":
                out.append(child)
            todo.append(child.pid)
    return out


def mentioning(text: str) -> list[Proc]:
    """Every living process whose command line contains ``text`` (a profile folder: this also finds
    Chromium's crash handler, which detaches from the browser and is no descendant of ours)."""
    return [p for p in processes() if text in p.command and p.state != "Z"]


def pss_kib(pid: int) -> int:
    """Proportional set size: RSS with each shared page split among the processes sharing it, so the
    sum over Chromium's processes does not count its shared libraries once per process. 0 if unknown."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")), 0)


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` that still run (a zombie has finished running)."""
    return [pid for pid in pids if (p := _read(pid)) is not None and p.state != "Z"]
