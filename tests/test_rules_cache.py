"""The disk cache of the engine's tables: a second load reads them instead of building, a bad or foreign
file is rebuilt, a changed pack gets its own file, and the cached engine decides exactly like a built one."""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest

from rules import RuleEngine, cache
from rules import engine as engine_module
from tests import rules_golden

PACK = """
[variants]
"微信" = ["威信", "vx"]

[[rule]]
id = "t.lowest"
category = "absolute"
severity = "block"
basis = "《广告法》第九条"
suggestion = "说具体价格"
phrases = ["全网最低价", "{国家|政府}推荐"]
negation = true
gap = 2

[[rule]]
id = "t.offsite"
category = "offsite"
severity = "block"
basis = "平台规则"
suggestion = "在平台内交易"
phrases = ["加微信"]
patterns = [{ regex = "加.{0,3}<微信>", phrase = "加微信" }]
phonetic = 2
"""

LINES = ["今天全 网 最 低 价", "全网醉低价", "这个不是全网最低价", "加我威信", "加个vx", "国家都推荐", "普通的一句话"]


@pytest.fixture
def cache_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LIVEBOT_RULES_CACHE", raising=False)
    return tmp_path / "xdg" / "livebot"


def pack(tmp_path: Path, text: str = PACK) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def hits(engine: RuleEngine) -> list[list[tuple]]:
    return [[(h.rule, h.phrase, h.start, h.end) for h in engine.scan(line)] for line in LINES]


def no_building(monkeypatch) -> None:
    def refuse(*_a, **_k):
        raise AssertionError("tables were built although the cache holds them")

    monkeypatch.setattr(engine_module, "build_tables", refuse)


def test_second_load_reads_the_cache_and_decides_the_same(tmp_path, cache_home, monkeypatch):
    built = RuleEngine.load([pack(tmp_path)])
    assert built.errors == []
    files = list(cache_home.glob("rules-*.marshal"))
    assert len(files) == 1
    no_building(monkeypatch)
    cached = RuleEngine.load([pack(tmp_path)])
    assert hits(cached) == hits(built)
    assert hits(built)[0] and hits(built)[1] and not hits(built)[2]  # the lines do exercise the rules
    assert cached.phrase_count == built.phrase_count
    assert cached.spellings("微信") == built.spellings("微信")


def test_an_unreadable_cache_file_is_ignored_and_rewritten(tmp_path, cache_home, monkeypatch):
    want = hits(RuleEngine.load([pack(tmp_path)]))
    (path,) = cache_home.glob("rules-*.marshal")
    for junk in (b"", b"\x00garbage", marshal.dumps({"format": cache.FORMAT, "key": "other", "tables": {}}),
                 marshal.dumps({"format": cache.FORMAT, "key": path.stem[6:], "tables": {"keys": 1}})):
        path.write_bytes(junk)
        assert hits(RuleEngine.load([pack(tmp_path)])) == want
        assert cache.read(path.stem[6:]) is not None  # rebuilt and written again
    no_building(monkeypatch)
    assert hits(RuleEngine.load([pack(tmp_path)])) == want


def test_a_changed_pack_gets_its_own_tables(tmp_path, cache_home):
    before = RuleEngine.load([pack(tmp_path)])
    after = RuleEngine.load([pack(tmp_path, PACK.replace('"全网最低价", ', '"全网最低价", "史上最低价", '))])
    assert len(list(cache_home.glob("rules-*.marshal"))) == 2
    assert after.scan("史上最低价") and not before.scan("史上最低价")


def test_cache_can_be_switched_off(tmp_path, cache_home, monkeypatch):
    monkeypatch.setenv("LIVEBOT_RULES_CACHE", "off")
    assert hits(RuleEngine.load([pack(tmp_path)]))[0]
    assert not cache_home.exists()


def test_old_files_are_pruned(tmp_path, cache_home, monkeypatch):
    monkeypatch.setattr(cache, "MAX_FILES", 2)
    for word in ("甲", "乙", "丙"):
        RuleEngine.load([pack(tmp_path, PACK.replace("全网最低价", f"全网最低价{word}"))])
    assert len(list(cache_home.glob("rules-*.marshal"))) == 2
    assert not list(cache_home.glob(".rules-*"))  # no temporary files left behind


def test_cached_builtin_engine_matches_the_golden_file(cache_home):
    """The full golden corpus, scanned by an engine whose tables came from the cache (the golden test
    proper, tests/test_rules_golden.py, covers the engine that built them)."""
    RuleEngine.load([rules_golden.PACKS])
    assert list(cache_home.glob("rules-*.marshal"))
    engine = RuleEngine.load([rules_golden.PACKS])
    checked, diffs = rules_golden.differences(engine)
    assert checked > 30_000
    assert diffs == []


def test_no_cache_when_the_engine_source_cannot_be_read(tmp_path, cache_home, monkeypatch):
    """Without the source nothing tells an old cache file from a current one: build, read nothing."""
    monkeypatch.setattr(cache, "_SOURCES", (*cache._SOURCES, "missing.py"))
    cache._code_version.cache_clear()
    try:
        assert hits(RuleEngine.load([pack(tmp_path)]))[0]
        assert not list(cache_home.glob("rules-*.marshal"))
    finally:
        cache._code_version.cache_clear()
