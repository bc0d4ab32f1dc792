"""SpeechStream: phrases split across ASR segments, revisions reported once."""

import pytest

from rules import RuleEngine, StreamHit


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    return RuleEngine.load()


def test_split_phrase_across_segments_is_caught(engine):
    stream = engine.stream()
    assert stream.feed("s1", "今天给大家的是全网", final=True) == []
    (sh,) = stream.feed("s2", "最低价拍到就是赚到", final=True)
    assert isinstance(sh, StreamHit)
    assert sh.segment == "s2"
    assert sh.hit.phrase == "全网最低价"
    assert sh.text == "今天给大家的是全网最低价拍到就是赚到"
    assert sh.text[sh.hit.start : sh.hit.end] == sh.hit.matched == "全网最低价"


def test_revisions_of_one_segment_report_once(engine):
    stream = engine.stream()
    first = stream.feed("a", "这个价格全网最低", final=False)
    assert [h.hit.phrase for h in first] == ["全网最低"]
    assert stream.feed("a", "这个价格全网最低价", final=False) == []
    assert stream.feed("a", "那这个价格全网最低价了", final=True) == []
    (again,) = stream.feed("b", "真的是全网最低价", final=True)
    assert again.segment == "b"
    assert again.text == "真的是全网最低价"
    assert again.text[again.hit.start : again.hit.end] == "全网最低价"


def test_second_occurrence_in_a_revision_is_new(engine):
    stream = engine.stream()
    assert len(stream.feed("a", "这个是顶级的", final=False)) == 1
    (new,) = stream.feed("a", "这个是顶级的那个也是顶尖的", final=True)
    assert new.hit.matched == "顶尖"


def test_negation_in_previous_segment_still_applies(engine):
    stream = engine.stream()
    assert stream.feed("1", "这个只是普通食品不能", final=True) == []
    assert stream.feed("2", "治疗任何疾病", final=True) == []
