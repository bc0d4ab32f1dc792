"""scripts/setup.sh finds what is installed and does not run apt-get again for it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from tests.support import ROOT


def tool(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n", "utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_installed_fonts_are_found_under_pipefail(tmp_path: Path) -> None:
    # a copy of the script in a tree whose .venv python is a stand-in, so nothing is installed
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup.sh", tree / "scripts" / "setup.sh")
    (tree / ".venv" / "bin").mkdir(parents=True)
    tool(tree / ".venv" / "bin", "python", "exit 0")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "apt-ran"
    for name in ("redis-server", "chromium"):
        tool(bin_dir, name, "exit 0")
    # the font comes first and far more output follows: `fc-list | grep -q` made grep quit early,
    # fc-list died of SIGPIPE, and pipefail made the installed font look missing
    tool(bin_dir, "fc-list", 'echo "/usr/share/fonts/NotoSansCJK-Regular.ttc: Noto Sans CJK SC:style=Regular"\n'
                             "seq 1 200000")  # fmt: skip
    for name in ("apt-get", "sudo"):
        tool(bin_dir, name, f'echo "$0 $*" >> "{marker}"; exit 1')
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    proc = subprocess.run(
        ["bash", str(tree / "scripts" / "setup.sh"), "--test"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not marker.exists(), marker.read_text()
    assert "installing Debian packages" not in proc.stdout
