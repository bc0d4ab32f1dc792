"""Hot reload of the FAQ file: a good edit is served, a bad edit keeps the last good version."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.faq import FaqFileError, FaqStore

V1 = """
[[faq]]
id = "free_shipping"
question = "包邮吗？"
answer = "全场包邮。"
examples = ["包邮吗", "运费多少"]

[[faq]]
id = "invoice"
question = "可以开发票吗？"
answer = "可开电子发票。"
examples = ["能开发票吗"]
"""
V2 = (
    V1
    + """
[[faq]]
id = "warranty"
question = "保修多久？"
answer = "保修一年。"
examples = ["保修多久", "坏了保修吗"]
"""
)
BAD = V2.replace('id = "warranty"', 'id = "Warranty!"')


def write(path: Path, text: str) -> None:
    path.write_text(text, "utf-8")
    st = path.stat()  # make sure the mtime moves even on coarse-timestamp filesystems
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def read(path: Path) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "faq.toml"
    p.write_text(V1, "utf-8")
    return p


@pytest.mark.asyncio
async def test_unchanged_file_is_not_reloaded(path: Path) -> None:
    store = FaqStore.load(path)
    assert await store.reload_if_changed() is False
    os.utime(path)  # touched, same bytes: not rebuilt
    assert await store.reload_if_changed() is False
    assert store.version == 1


@pytest.mark.asyncio
async def test_good_edit_is_served(path: Path) -> None:
    store = FaqStore.load(path)
    assert store.match("保修多久").faq_id is None
    write(path, V2)
    assert await store.reload_if_changed() is True
    assert store.version == 2 and [e.id for e in store.entries][-1] == "warranty"
    assert store.match("保修多久").faq_id == "warranty"
    assert store.last_error is None


@pytest.mark.asyncio
async def test_bad_edit_keeps_last_good_version(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = FaqStore.load(path)
    write(path, BAD)
    assert await store.reload_if_changed() is False
    assert store.version == 1 and store.match("包邮吗").faq_id == "free_shipping"
    assert isinstance(store.last_error, FaqFileError)
    assert store.last_error.field == "id" and "entry 3" in str(store.last_error)
    assert "FAQ edit rejected" in caplog.text
    # the same bad bytes are not re-parsed or re-logged on every poll
    caplog.clear()
    write(path, BAD)
    assert await store.reload_if_changed() is False
    assert "FAQ edit rejected" not in caplog.text
    # the fix is picked up
    write(path, V2)
    assert await store.reload_if_changed() is True
    assert store.last_error is None and store.match("保修多久").faq_id == "warranty"


@pytest.mark.asyncio
async def test_deleted_file_keeps_serving(path: Path) -> None:
    store = FaqStore.load(path)
    os.unlink(path)
    assert await store.reload_if_changed() is False
    assert store.last_error is not None and "missing" in str(store.last_error)
    assert store.match("包邮吗").faq_id == "free_shipping"
    write(path, V2)
    assert await store.reload_if_changed() is True


@pytest.mark.asyncio
async def test_watching_picks_up_an_edit(path: Path) -> None:
    store = FaqStore.load(path)
    async with store.watching(interval=0.02):
        write(path, V2)
        for _ in range(200):
            if store.version == 2:
                break
            await asyncio.sleep(0.02)
    assert store.version == 2


@pytest.mark.asyncio
async def test_save_validates_before_writing(path: Path) -> None:
    store = FaqStore.load(path)
    with pytest.raises(FaqFileError):
        await store.save(BAD)
    assert read(path) == V1 and store.version == 1
    await store.save(V2)
    assert read(path) == V2 and store.version == 2
    assert store.match("保修多久").faq_id == "warranty"
    assert await store.reload_if_changed() is False  # its own write is not a change to reload


def test_load_raises_faq_error(tmp_path: Path) -> None:
    p = tmp_path / "x.toml"
    p.write_text(BAD, "utf-8")
    with pytest.raises(FaqFileError, match="entry 3: id"):
        FaqStore.load(p)
