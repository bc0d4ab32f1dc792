"""Round six: trigger words hidden by longer keys or heard as sound-alikes, and the classes the sixth
round's blind sets showed (denials of saying it, category names, scopes with 里, refunds, figures).

Each class is checked with new sentences (in no set and no pack comment), both ways: the claim is caught,
and the nearby innocent wording is left alone.
"""

import pytest

from rules import RuleEngine
from tests.rules_support import alarms, holds_floor


def alarm_rules(engine: RuleEngine, text: str) -> list[str]:
    return [h.rule for h in alarms(engine, text)]


def test_a_longer_key_no_longer_hides_a_patterns_trigger(engine):
    # 100%能 is a phrase of its own; the 100% + verb template still sees what comes after it.
    hits = alarms(engine, "这款除味剂百分之百能清除异味")
    assert [(h.rule, h.matched) for h in hits] == [("guarantee.efficacy", "百分之百能清除")]
    hits = alarms(engine, "这个除湿机100%能解决回南天")
    assert [h.matched for h in hits] == ["100%能解决"]
    # A one-character trigger inside a listed phrase does not take it over: the cancel word 还能 before
    # 治胃病 still ends the denial, and 全网最低 stays the lowest-price claim.
    assert alarm_rules(engine, "这个没有防腐剂还能治胃病") == ["medical.disease_treatment"]
    assert [h.phrase for h in alarms(engine, "这个价格全网最低你们去比")] == ["全网最低"]


@pytest.mark.parametrize(
    "text",
    ["想要试用装的加我胃信", "家我微信给你发资料", "嘉个微信我拉你", "加一下主播的扣扣"],
)
def test_sound_alikes_of_a_templates_words(engine, text):
    assert "offsite.wechat_qq" in alarm_rules(engine, text), text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("这款在行业里就是标杆", "absolute.top_grade"),
        ("没效果的话直接全额退", "guarantee.efficacy"),
        ("我保证见效", "guarantee.efficacy"),
        ("这款牙刷卖了两个亿多支", "false_data.sales_rank"),
        ("已经有三百万车主在用了", "false_data.frenzy"),
        # the newly negatable rules still catch the claim itself
        ("这双鞋永不磨损", "guarantee.durability"),
        ("这是今年最后一次机会", "urgency.false_scarcity"),
        ("这个洗面奶销量第一", "false_data.sales_rank"),
        ("保证没有副作用", "guarantee.safety"),
        ("这个精华能淡斑", "medical.cosmetic_claims"),
    ],
)
def test_round_six_claims(engine, text, rule):
    assert rule in alarm_rules(engine, text), text


@pytest.mark.parametrize(
    "text",
    [
        # denials of saying it, for rules that had no negation
        "广告法不让说销量冠军我们就不提了",
        "我没法说它绝对安全",
        "这双鞋不会永不磨损的正常穿会旧",
        "今晚不是最后一次直播福利明天还有",
        "我们不做什么全网最低的宣传",
        # disclaimers before 保证, a product named by its function, a button sewn on
        "我们不敢保证有效",
        "这个淡斑的不是药品",
        "那款美白的不属于药品",
        "这件衬衫加个扣子就更好看",
        "回家记得加件外套",
        # modest figures and plain compositions
        "已经有三百个车主在用了",
        "百分之百的羊毛",
    ],
)
def test_round_six_innocent_wordings(engine, text):
    assert alarm_rules(engine, text) == [], text


def test_round_six_blind_sets(engine):
    # Scored once before any change of this round, then tuned on (see docs/rules.md).
    holds_floor(engine, "w6_cc", 0.95, 0.0)
    holds_floor(engine, "w6_trades", 0.95, 0.0)
