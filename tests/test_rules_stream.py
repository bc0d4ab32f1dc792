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


def test_segment_without_final_still_joins_the_next(engine):
    stream = engine.stream()
    assert stream.feed("a", "家人们这个价格是全", final=False) == []
    # the ASR dropped a's final: its last revision is what the next segment joins to
    (sh,) = stream.feed("b", "网最低价", final=True)
    assert sh.hit.phrase == "全网最低价"
    assert sh.text.endswith("全网最低价") and sh.text[sh.hit.start : sh.hit.end] == "全网最低价"


def test_hit_in_previous_segment_is_not_reported_again(engine):
    stream = engine.stream()
    assert [h.hit.phrase for h in stream.feed("1", "今天全网最低价", final=True)] == ["全网最低价"]
    assert stream.feed("2", "大家拍起来", final=True) == []
    assert stream.feed("3", "拍完记得关注", final=True) == []


def test_revision_that_rewrites_earlier_words_does_not_repeat(engine):
    stream = engine.stream()
    (first,) = stream.feed("s", "这个是顶级的", final=False)
    assert first.text == "这个是顶级的" and (first.hit.start, first.hit.end) == (3, 5)
    assert stream.feed("s", "那这个真的是顶级的", final=True) == []


def test_streams_are_independent(engine):
    one, two = engine.stream(), engine.stream()
    one.feed("x", "今天全网", final=True)
    assert two.feed("y", "最低价", final=True)[0].hit.phrase == "最低价"
    assert one.feed("z", "最低价", final=True)[0].hit.phrase == "全网最低价"


def test_stream_scope_is_checked(engine):
    with pytest.raises(ValueError):
        engine.stream(scope="radio")


def test_hostile_segments(engine):
    stream = engine.stream()
    assert stream.feed("1", "\ud800\x00" * 1000, final=False) == []
    big = "啊" * 200_000 + "全网最低价"
    (sh,) = stream.feed("2", big, final=True)
    assert sh.text[sh.hit.start : sh.hit.end] == "全网最低价"
