"""Round five: templates for claims worded freely, and denials said after the term.

Each class is checked with new sentences (in no set and no pack comment), both ways: the claim is caught,
and the nearby innocent wording is left alone.
"""

import pytest

from rules import RuleEngine
from tests.rules_support import alarms, holds_floor


def alarm_rules(engine: RuleEngine, text: str) -> list[str]:
    return [h.rule for h in alarms(engine, text)]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # medical and efficacy outcomes, adverbs and time spans between
        ("用了这个足贴以后腰椎病很快就好了", "medical.disease_treatment"),
        ("这个眼霜涂一周鱼尾纹全都抚平了", "medical.cosmetic_claims"),
        ("这款精华痘印一擦就淡了", "medical.cosmetic_claims"),
        ("这个果冻吃一周能掉五斤", "medical.weight_loss"),
        ("穿了这条裤子腰围直接小了两寸", "medical.weight_loss"),
        ("喝了它孩子记忆力直接翻倍", "medical.health_function"),
        # guarantees
        ("这个门锁百分之百防住小偷", "guarantee.efficacy"),
        ("这个洗衣粉洗一遍螨虫就全没了", "guarantee.efficacy"),
        ("用了以后再也不会长头皮屑", "guarantee.efficacy"),
        ("这个果泥宝宝吃两口也没事", "guarantee.safety"),
        ("这个驾校考不上全额退费", "guarantee.promise"),
        ("这个课保你用了就会爱上", "guarantee.promise"),
        # authority with words between
        ("这款牙膏是口腔医院的主任都点名推荐的", "authority.experts"),
        ("这个茶是以前专门给皇家专供的", "authority.special_supply"),
        # exclusivity and superiority
        ("市面上没有哪一款能比得上它", "absolute.exclusive"),
        ("这种面料外面根本买不到", "absolute.exclusive"),
        ("全城你都找不出第二家", "absolute.exclusive"),
        # urgency, fake data, investment
        ("这个福利下了播就再也没有了", "urgency.free_scarcity"),
        ("错过今天只能等明年", "urgency.free_scarcity"),
        ("这款面包一天就卖了十万多单", "false_data.sales_rank"),
        ("这个理财一点风险都没有", "investment.returns"),
    ],
)
def test_freely_worded_claims(engine, text, rule):
    assert rule in alarm_rules(engine, text), text


@pytest.mark.parametrize(
    "text",
    [
        # denials after the term, refusals to say it, denials of any such thing
        "这个乳液祛斑什么的它根本做不到大家别被骗",
        "这个茶降血糖啊降血脂啊这些它都办不到",
        "全网最低价这个我们真不敢保证只能说今天有券",
        "我们不会和大家说这个枕头能治失眠",
        "我们家没有所谓的包过班",
        # advice with its reason, questions about viewers' own families
        "这条裤子最好翻过来洗不然会掉色",
        "姐妹们你们家宝宝最怕的是不是打针",
        # nearby wordings that claim nothing
        "眼霜用完鱼尾纹也不会一下子就没了要坚持用",
        "便秘的话多喝水就行",
        "外面下雨了快递可能晚点到",
        "已经卖了三千多单后台都能看到",
        "理财都有风险大家量力而行",
        "这个面霜不是医生推荐的就是我自己用着好",
        "像史上最低价这一类的话我们都不说",
    ],
)
def test_nearby_innocent_wordings(engine, text):
    assert alarm_rules(engine, text) == [], text


def test_a_denial_after_the_term_needs_the_same_clause(engine):
    # A comma ends the clause: the denial after it is about something else.
    assert "medical.cosmetic_claims" in alarm_rules(engine, "这个乳液能祛斑，别的它都做不到")
    assert alarm_rules(engine, "这个乳液祛斑它都做不到") == []


def test_round_five_tuned_batch(engine):
    # Tuned on (see docs/rules.md): a floor a little under the figures after tuning.
    holds_floor(engine, "r5_a", 0.95, 0.0)


def test_round_five_held_out_batch(engine):
    # Never tuned on (only checked after each change): the floor is its figure at the end of the round.
    holds_floor(engine, "r5_b", 0.90, 0.015)
