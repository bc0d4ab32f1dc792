"""The caption file source: appends, partial lines, UTF-8 splits, truncation, rewrites, rotation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.events import AnchorSpeech
from bot.sources.caption_file import CaptionFileSource
from tests.loopback.collect import Collector


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def finals(c: Collector) -> list[str]:
    return [e.text for e in c.of(AnchorSpeech) if e.final]


@pytest_asyncio.fixture
async def tail(tmp_path: Path) -> AsyncIterator[tuple[Path, Collector]]:
    path = tmp_path / "captions.txt"
    path.write_bytes("旧字幕不重播\n".encode())
    src = CaptionFileSource("shop", path, poll_interval=0.02, idle_final_seconds=0.3, max_line_bytes=60)
    c = Collector(src)
    yield path, c
    await c.close()


async def wait_finals(c: Collector, n: int) -> list[str]:
    await c.wait(lambda evs: sum(isinstance(e, AnchorSpeech) and e.final for e in evs) >= n, 5)
    return finals(c)


@pytest.mark.asyncio
async def test_appended_lines_become_final_segments(tail) -> None:
    path, c = tail
    await asyncio.sleep(0.1)  # the source has taken its first look
    append(path, "家人们今天的福利\n这款是全网最低价\n".encode())
    assert await wait_finals(c, 2) == ["家人们今天的福利", "这款是全网最低价"]
    evs = [e for e in c.of(AnchorSpeech) if e.final]
    assert len({e.segment for e in evs}) == 2
    assert all(e.room == "shop" and e.source == "caption_file" for e in evs)


@pytest.mark.asyncio
async def test_partial_line_then_completion_and_utf8_split(tail) -> None:
    path, c = tail
    await asyncio.sleep(0.1)
    data = "保证无效退款\n".encode()
    append(path, data[:4])  # "保" and one byte of "证"
    await c.wait(lambda evs: any(isinstance(e, AnchorSpeech) and not e.final for e in evs), 5)
    partial = next(e for e in c.of(AnchorSpeech) if not e.final)
    assert partial.text == "保"
    append(path, data[4:])
    assert await wait_finals(c, 1) == ["保证无效退款"]
    final = next(e for e in c.of(AnchorSpeech) if e.final)
    assert final.segment == partial.segment  # the final revises the partial


@pytest.mark.asyncio
async def test_truncation_and_same_size_rewrite(tail) -> None:
    path, c = tail
    await asyncio.sleep(0.1)
    append(path, "第一句话在这里\n".encode())
    await wait_finals(c, 1)
    path.write_bytes("短句\n".encode())  # truncated to less than we read
    assert await wait_finals(c, 2) == ["第一句话在这里", "短句"]
    await asyncio.sleep(0.05)
    path.write_bytes("长句\n".encode())  # LocalVocal "truncate" mode: same size, new sentence
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert await wait_finals(c, 3) == ["第一句话在这里", "短句", "长句"]


@pytest.mark.asyncio
async def test_rewrite_that_grows_is_detected(tail) -> None:
    path, c = tail
    await asyncio.sleep(0.1)
    path.write_bytes("甲乙丙\n".encode())  # rewritten and larger than before, starts differently
    await asyncio.sleep(0.1)
    path.write_bytes("完全不同的一句更长的话\n".encode())
    texts = await wait_finals(c, 2)
    assert texts[-1] == "完全不同的一句更长的话"


@pytest.mark.asyncio
async def test_rotation_flushes_the_old_partial_line(tail) -> None:
    path, c = tail
    await asyncio.sleep(0.1)
    append(path, "没写完的一句".encode())
    await c.wait(lambda evs: any(isinstance(e, AnchorSpeech) and not e.final for e in evs), 5)
    path.rename(path.with_suffix(".1"))
    path.write_bytes("新文件第一句\n".encode())
    assert await wait_finals(c, 2) == ["没写完的一句", "新文件第一句"]


@pytest.mark.asyncio
async def test_quiet_partial_line_becomes_final(tail) -> None:
    path, c = tail
    await asyncio.sleep(0.1)
    append(path, "没有换行符".encode())
    assert await wait_finals(c, 1) == ["没有换行符"]


@pytest.mark.asyncio
async def test_endless_line_is_cut(tail) -> None:
    path, c = tail
    await asyncio.sleep(0.1)
    append(path, ("字" * 50).encode())  # 150 bytes, limit 60: cut on character boundaries
    texts = await wait_finals(c, 2)
    assert texts[:2] == ["字" * 20, "字" * 20]


@pytest.mark.asyncio
async def test_missing_file_is_read_from_its_start_when_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "later.txt"
    c = Collector(CaptionFileSource("r", path, poll_interval=0.02))
    await asyncio.sleep(0.1)
    path.write_bytes("一\n二\n".encode())
    assert await wait_finals(c, 2) == ["一", "二"]
    path.unlink()
    await asyncio.sleep(0.1)
    path.write_bytes("三\n".encode())
    assert await wait_finals(c, 3) == ["一", "二", "三"]
    await c.close()
    assert c.error is None


@pytest.mark.asyncio
async def test_close_flushes_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(b"")
    c = Collector(CaptionFileSource("r", path, poll_interval=0.02, idle_final_seconds=60))
    await asyncio.sleep(0.1)
    append(path, "最后一句".encode())
    await c.wait(lambda evs: len(evs) >= 1, 5)
    await c.close()
    assert finals(c) == ["最后一句"] and c.task.done()
