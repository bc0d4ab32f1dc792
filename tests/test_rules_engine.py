"""RuleEngine.scan: hits, offsets into the original text, allow-contexts, negation, scopes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import Hit, RuleEngine
from rules import engine as engine_module


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    eng = RuleEngine.load()
    assert eng.errors == []
    return eng


def phrases(engine: RuleEngine, text: str, scope: str = "speech") -> list[str]:
    return [h.phrase for h in engine.scan(text, scope)]


def test_hit_fields_and_contract_dict(engine):
    (hit,) = engine.scan("给大家的是全网最低价拍到就是赚到")
    assert isinstance(hit, Hit)
    assert (hit.phrase, hit.category, hit.severity) == ("全网最低价", "absolute", "block")
    assert (hit.start, hit.end, hit.matched) == (5, 10, "全网最低价")
    assert "广告法" in hit.basis and hit.suggestion
    assert list(hit.to_dict()) == [
        "rule", "phrase", "category", "severity", "start", "end", "matched", "basis", "suggestion",
    ]
    with pytest.raises(AttributeError):
        hit.start = 0  # frozen


def test_clean_text_has_no_hits(engine):
    assert engine.scan("") == []
    assert engine.scan("炸篮是可以拆下来洗的") == []


def test_unknown_scope_is_an_error(engine):
    with pytest.raises(ValueError, match="scope"):
        engine.scan("全网最低价", scope="radio")


@pytest.mark.parametrize(
    "text",
    [
        "最近好多家人在问",
        "最后一件了要的抓紧拍",
        "每个账号最多限购两单",
        "第一次来直播间的宝宝可以点个关注",
        "第一个链接是原味的",
        "下单之后我们第一时间给大家安排发货",
        "首先我们看一下这个炸锅的容量",
        "这个炸锅符合国家标准大家放心用",
        "我们的工厂在国家级经济技术开发区里面",
        "大家最好提前设置好地址",
        "最后一次提醒大家拍之前看好规格",
        "他在第一人民医院上班",
        "我们有独特供应链",  # 特供 across a jieba word boundary
        "血压稳定的时候可以喝",
        "今天这个价就是保本价",
        "这是我们的直播专供款",
    ],
)
def test_allow_contexts_beat_shorter_hits(engine, text):
    assert engine.scan(text) == []


def test_allow_context_does_not_hide_a_real_claim_next_to_it(engine):
    assert phrases(engine, "第一次来的宝宝这款是全网最低价") == ["全网最低价"]
    assert phrases(engine, "这是行业第一品牌") == ["行业第一品牌"]


@pytest.mark.parametrize(
    "text",
    [
        "这个只是普通食品不能治疗任何疾病",
        "这个不是药不能代替治疗身体不舒服要去医院",
        "不要加任何微信所有售后都在平台上处理",
        "有人冒充我们让你加微信转账的千万别信",
        "售后问题请点订单页面联系官方客服不要私下转账",
        "主播不会私信你要钱大家注意防骗",
        "有人说在某宝看到一样的那不是我们的官方店铺",
    ],
)
def test_negation_and_warning_contexts_are_innocent(engine, text):
    assert engine.scan(text) == []


def test_negation_does_not_cross_a_clause_or_a_cancel(engine):
    assert phrases(engine, "喝了就能治疗失眠") == ["治疗失眠"]
    assert phrases(engine, "不用吃药就能治疗失眠") == ["不用吃药", "治疗失眠"]
    assert phrases(engine, "别犹豫了，这个茶能治疗失眠") == ["治疗失眠"]
    # a negator that governs another verb does not deny the claim after it
    assert phrases(engine, "不用犹豫这个是全网最低价") == ["全网最低价"]
    assert phrases(engine, "大家不要错过这个能治疗失眠的茶") == ["治疗失眠"]
    # absolute terms: only a negator right before them denies (没有最好只有更好)
    assert phrases(engine, "这个价格不是最低的但是品质好") == []
    assert phrases(engine, "没有最好只有更好") == []
    # 没有任何副作用 is itself the claim, not a negation of one.
    assert phrases(engine, "这个酵素喝了没有任何副作用") == ["无副作用"]


def test_scopes_filter_rules(engine, tmp_path):
    pack = tmp_path / "title.toml"
    pack.write_text(
        '[[rule]]\nid = "m.title_only"\ncategory = "absolute"\nseverity = "warn"\nbasis = "b"\n'
        'suggestion = "s"\nphrases = ["爆款直降"]\nscopes = ["title"]\n',
        encoding="utf-8",
    )
    eng = RuleEngine.load(["builtin", pack])
    assert phrases(eng, "爆款直降", "title") == ["爆款直降"]
    assert phrases(eng, "爆款直降", "speech") == []


@pytest.mark.parametrize(
    "text",
    [
        "\ud800全网最低价\udfff",
        "\x00\x01\x1b[31m全\x08网\x7f最低价",
        "全" + "\u0301" * 50 + "网最低价",
        "\U0001F600" * 1000 + "全网最低价",
        "最" * 100_000,
        "全 网 " * 50_000 + "最低价",
    ],
)
def test_hostile_text_scans_without_error(engine, text):
    hits = engine.scan(text)
    for hit in hits:
        assert hit.matched == text[hit.start : hit.end]


def test_megabyte_line(engine):
    text = "啊" * 1_000_000 + "全网最低价" + "啊" * 1000 + "加个vx"
    assert [(h.phrase, h.start) for h in engine.scan(text)] == [("全网最低价", 1_000_000), ("加微信", 1_001_005)]


def test_engine_is_shared_safely_between_scans(engine):
    # read-only after load: interleaved scans of different scopes do not affect each other
    a = engine.scan("今天全网最低价", "chat")
    b = engine.scan("第一次来的宝宝", "title")
    assert [h.phrase for h in a] == ["全网最低价"] and b == []
    assert engine.scan("今天全网最低价", "chat") == a


def test_treatment_claims_report_whole_words(engine):
    # A pattern that needs an object after 能治好 must not swallow half of it (能治好失 of 失眠).
    for text in ["我们家的枕头睡了能治好失眠", "喝了能治好你的胃病", "这个茶能治愈失眠"]:
        hits = engine.scan(text)
        assert hits and all(h.severity in ("block", "warn") for h in hits), text
        for h in hits:
            assert h.matched == text[h.start : h.end]
            assert h.matched in {"能治好", "治好失眠", "治好", "能治愈", "治愈失眠", "治好你的胃病"}, (text, h)


_JIEBA_CHARS = [*"特供专内的了是我们这个以前普通人根本喝部队好吧家酒茶米", *"ab1%._-+ ，"]
_JIEBA_TEXT = st.lists(st.sampled_from(_JIEBA_CHARS), max_size=20)


@settings(max_examples=400, deadline=None)
@given(_JIEBA_TEXT.map("".join))
def test_word_edges_are_jiebas_own(window):
    # The boundary check's tight loop must give exactly jieba's default cut (HMM on).
    expected = {0, len(window)}
    for _word, start, end in engine_module._jieba().tokenize(window):
        expected.update((start, end))
    assert engine_module._cut_bounds(window) == expected
