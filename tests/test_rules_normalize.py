"""Normalization defeats evasions, and every hit's offsets point at the evasion in the original text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import RuleEngine
from rules.normalize import Normalizer, OffsetMap


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    return RuleEngine.load()


@pytest.fixture(scope="module")
def norm() -> Normalizer:
    return Normalizer()


def only_hit(engine: RuleEngine, text: str):
    hits = engine.scan(text)
    assert len(hits) == 1, (text, hits)
    hit = hits[0]
    assert hit.matched == text[hit.start : hit.end]
    return hit


@pytest.mark.parametrize(
    ("text", "phrase", "matched"),
    [
        # full width and case
        ("今天ＴＯＰ１的炸锅", "第一", "ＴＯＰ１"),
        ("加个VX私发你", "加微信", "加个VX"),
        # traditional -> simplified
        ("今天直播間就是最低價", "最低价", "最低價"),
        ("這是國家級的工藝", "国家级", "國家級"),
        # spaces, punctuation, symbols, emoji and invisible characters inserted between characters
        ("今天全 网 最 低", "全网最低", "全 网 最 低"),
        ("这个价格全网，最，低", "全网最低", "全网，最，低"),
        ("这个是第*一梯队", "第一梯队", "第*一梯队"),
        ("全😀网😀最😀低价", "全网最低价", "全😀网😀最😀低价"),
        ("全\u200b网\u200d最低价", "全网最低价", "全\u200b网\u200d最低价"),
        ("零-风-险放心拍", "零风险", "零-风-险"),
        # repeated characters
        ("真的是全网最最最低", "全网最低", "全网最最最低"),
        ("零风风风险", "零风险", "零风风风险"),
        # numeral styles
        ("全网第1", "全网第一", "全网第1"),
        ("仅此壹次", "仅此一次", "仅此壹次"),
        ("全网第①", "全网第一", "全网第①"),
        ("去水垢百分之百有效", "100%有效", "百分之百有效"),
        ("效果100％有效", "100%有效", "100％有效"),
        ("错过再等1年", "错过再等一年", "错过再等1年"),
        # letters and pinyin for characters
        ("这个价格是zui低价了", "最低价", "zui低价"),
        ("全网di一好吃", "全网第一", "全网di一"),
        ("喝了可以zhi疗咽炎", "治疗", "zhi疗"),
        ("想要的加wx", "加微信", "加wx"),
        ("想要的加V信", "加微信", "加V信"),
        ("同价位里它就是top1", "第一", "top1"),
        ("全网销量NO.1的炸锅", "全网销量第一", "全网销量NO.1"),
        ("这个是CCTV推荐的", "央视推荐", "CCTV推荐"),
        # homophones
        ("给大家的是全网蕞低价", "全网最低价", "全网蕞低价"),
        ("全网醉低价", "全网最低价", "全网醉低价"),
        ("全网弟一", "全网第一", "全网弟一"),
        ("宝宝们加威信给你优惠", "加微信", "加威信"),
        ("想要的＋薇信", "加微信", "＋薇信"),
        ("扣1我加你卫星", "加微信", "加你卫星"),
        ("这个锅身永不退色", "永不褪色", "永不退色"),
        # euphemisms
        ("想要的加我绿泡泡", "加微信", "加我绿泡泡"),
        ("有便宜的去某宝搜", "淘宝", "去某宝搜"),
        ("去拼夕夕同款更便宜", "拼多多", "去拼夕夕"),
    ],
)
def test_evasions_are_caught_with_offsets_into_the_original(engine, text, phrase, matched):
    hit = only_hit(engine, text)
    assert hit.phrase == phrase
    assert hit.matched == matched


def test_rare_homophone_stands_in_everywhere(engine):
    assert [(h.phrase, h.matched) for h in engine.scan("这是我用过蕞好的")] == [("最好", "蕞好")]


def test_single_character_homophones_need_a_longer_phrase(engine):
    # 醉 and 弟 are ordinary words: in two-character spellings they are not treated as 最 / 第.
    assert engine.scan("昨天喝醉好难受") == []
    assert engine.scan("我弟一直在用这个锅") == []


def test_latin_spellings_must_stand_alone(engine):
    assert engine.scan("这是top10的榜单") == []
    assert engine.scan("大家加入vip会员") == []
    assert [h.phrase for h in engine.scan("top 1 的品质")] == ["第一"]


def test_fold_and_map(norm):
    assert norm.fold("國家級ＡＢ，最最最低") == "国家级ab最低"
    text = "全 网，最最最低"
    folded, starts, ends = norm.fold_with_map(text)
    assert folded == "全网最低"
    assert [text[s:e] for s, e in zip(starts, ends, strict=True)] == ["全", "网", "最最最", "低"]


def test_clean_line_has_identity_offsets(norm):
    folded, starts, ends = norm.fold_with_map("今天最低价")
    assert folded == "今天最低价"
    assert list(starts) == [0, 1, 2, 3, 4] and list(ends) == [1, 2, 3, 4, 5]


alphabet = st.sampled_from(
    [*"全网最低价第一加微信治疗零风险 ，,。!！*-_ 　😀\u200b\u0301國級ＡＢab1①壹%％+＋\x00\n\t", "\ud800", "\U0001F600"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(alphabet, max_size=40).map("".join))
def test_map_is_consistent_with_fold(text):
    n = Normalizer()
    folded, starts, ends = n.fold_with_map(text)
    assert folded == n.fold(text)
    assert (folded, list(starts), list(ends)) == n._offsets_slow(text)
    assert len(starts) == len(ends) == len(folded)
    for s, e in zip(starts, ends, strict=True):
        assert 0 <= s < e <= len(text)
    assert list(starts) == sorted(starts)


@settings(max_examples=300, deadline=None)
@given(st.lists(alphabet, max_size=50).map("".join), st.integers(0, 3))
def test_lazy_offset_map_agrees_with_the_full_lists(text, walk):
    n = Normalizer()
    norm, marked = n.fold_marked(text)
    folded, starts, ends = n.offsets(text, marked)
    assert folded == norm
    OffsetMap.MAX_WALK = walk  # also the fallback to the full lists when a line has many deletions
    try:
        offs = n.offset_map(text, marked, norm)
        for s in range(len(norm)):
            for e in range(s + 1, len(norm) + 1):
                assert offs.span(s, e) == (starts[s], ends[e - 1])
        assert offs.lists() == (starts, ends)
    finally:
        OffsetMap.MAX_WALK = 32


@settings(max_examples=300, deadline=None)
@given(st.lists(alphabet, max_size=60).map("".join))
def test_scan_offsets_always_point_into_the_original(text):
    for hit in _ENGINE.scan(text):
        assert 0 <= hit.start < hit.end <= len(text)
        assert hit.matched == text[hit.start : hit.end]


_ENGINE = RuleEngine.load()


_S2T = None


def _trad(p: str) -> str:
    global _S2T
    if _S2T is None:
        import opencc

        _S2T = opencc.OpenCC("s2t")
    return _S2T.convert(p)


def _pinyin(ch: str) -> str:
    from pypinyin import lazy_pinyin

    return lazy_pinyin(ch)[0]


EVASIONS = {
    "spaces": lambda p: " ".join(p),
    "asterisks": lambda p: "*".join(p),
    "asr commas": lambda p: "，".join(p),
    "emoji": lambda p: "😊".join(p),
    "zero-width": lambda p: "\u200b".join(p),
    "traditional": _trad,
    "pinyin first": lambda p: _pinyin(p[0]) + p[1:],
    "pinyin last": lambda p: p[:-1] + _pinyin(p[-1]),
    "repeated": lambda p: p[0] * 3 + p[1:],
    "repeated inside": lambda p: p[:2] + p[1] * 2 + p[2:],
}


@pytest.mark.parametrize("form", sorted(EVASIONS))
@pytest.mark.parametrize(
    "phrase", ["全网最低价", "国家级", "药到病除", "零风险", "私下交易", "万人疯抢", "仅此一次", "最先进"]
)
def test_each_evasion_form_of_each_phrase(engine, form, phrase):
    evaded = EVASIONS[form](phrase)
    text = f"家人们这个{evaded}哦"
    hits = engine.scan(text)
    assert [h.phrase for h in hits] == [phrase], (text, hits)
    assert hits[0].matched == evaded
