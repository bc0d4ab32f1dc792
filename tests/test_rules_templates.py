"""Round four: claim templates written as pack data, and sound classes inside pattern regexes.

Each mechanism is checked with new sentences (in no set and no pack comment), both ways: the claim is
caught, and the nearby innocent wording is left alone.
"""

import re

import pytest

from rules import RuleEngine
from rules.sound_macro import expand_sound_macros, sound_class
from tests.rules_support import alarms, holds_floor


def alarm_rules(engine: RuleEngine, text: str) -> list[str]:
    return [h.rule for h in alarms(engine, text)]


# ------------------------------------------------------------------------------------ sound macros
def test_a_sound_class_holds_the_homophones_and_nothing_else():
    cls = re.compile(sound_class("证"))
    assert all(cls.fullmatch(c) for c in "证正政郑整")
    assert not any(cls.fullmatch(c) for c in "真阵认a")
    assert sound_class("a") == "a"  # no reading: literal
    regex = re.compile(expand_sound_macros("国家<~认证|推荐>"))
    assert regex.fullmatch("国家人正") and regex.fullmatch("国家推见") and not regex.fullmatch("国家认真")


def test_an_empty_sound_macro_is_a_pack_error(tmp_path):
    pack = tmp_path / "p.toml"
    pack.write_text(
        '[[rule]]\nid = "x.bad"\ncategory = "absolute"\nseverity = "warn"\nbasis = "b"\nsuggestion = "s"\n'
        'patterns = [{ regex = "<我们><~|>", phrase = "x" }]\n',
        encoding="utf-8",
    )
    engine = RuleEngine.load([str(pack)])
    assert any("x.bad" in str(e) for e in engine.errors)


# --------------------------------------------------------------- a misheard verb after fillers
@pytest.mark.parametrize(
    "text",
    [
        "这款奶粉那是政府也都人可过的",  # 认可 misheard, two fillers
        "这个净水器卫健委一直都推见",  # 推荐 misheard
        "咱们这个护膝是教授也认政过的",  # experts, 认证 misheard
        "这个米农业农村部都大力推件",
    ],
)
def test_a_misheard_endorsement_after_fillers_is_caught(engine, text):
    assert any(r.startswith("authority.") for r in alarm_rules(engine, text)), text


@pytest.mark.parametrize(
    "text",
    [
        "国家也都认真查过这一类产品的标准",  # 认真 is not 认证
        "医生都在忙你们有问题先问客服",
        "这个不是什么政府认正的东西就是普通的杯子",  # denied
        "国家都有明文规定不能这么宣传",
    ],
)
def test_ordinary_talk_near_authority_nouns_is_innocent(engine, text):
    assert alarm_rules(engine, text) == [], text


# -------------------------------------------------------------------------- free guarantees
def test_a_freely_worded_guarantee_is_caught_and_a_disclaimer_or_service_promise_is_not(engine):
    assert "guarantee.efficacy" in alarm_rules(engine, "这个防水胶保证刷完以后永远不漏")
    assert "guarantee.efficacy" in alarm_rules(engine, "这个去渍笔保证一次就干净")
    for text in ("我们没法保证一次就能去掉要看污渍", "保证金是平台收的和商品没关系", "保证不会让你们拆快递拆到手软"):
        assert alarm_rules(engine, text) == [], text


# ---------------------------------------------------------------- exclusivity and crowd counts
def test_exclusivity_templates(engine):
    assert "absolute.exclusive" in alarm_rules(engine, "唯独咱们家有这种老工艺")
    assert "absolute.exclusive" in alarm_rules(engine, "这款也就只有我们这有卖")
    assert alarm_rules(engine, "只有我们能看到你的收货地址放心") == []


def test_crowd_counts_said_as_figures(engine):
    assert "false_data.frenzy" in alarm_rules(engine, "两千多个姐妹在蹲这个颜色")
    assert "false_data.frenzy" in alarm_rules(engine, "现在有8千多人在抢")
    assert alarm_rules(engine, "直播间现在有两千多人在看") == []


# --------------------------------------------------------------------------- urgency templates
def test_once_a_year_with_the_occasion_inside(engine):
    assert "urgency.false_scarcity" in alarm_rules(engine, "这个折扣全年也就周年庆这一回")
    assert "urgency.false_scarcity" in alarm_rules(engine, "一年就双12这一次了姐妹们")
    assert alarm_rules(engine, "我们主播一年也就回老家这一次") == []


def test_a_deadline_price_rise_said_as_going_up(engine):
    assert "urgency.free_scarcity" in alarm_rules(engine, "下播以后价格立马就上去了")
    assert alarm_rules(engine, "下播以后我们会把链接挂上去") == []


# ------------------------------------------------------------------- advice, tags and negators
@pytest.mark.parametrize(
    "text",
    [
        "这个地垫最好刷一下再铺",
        "砂锅最好泡一晚上再用",
        "这个葡萄冰一下再吃最爽",
        "我个人觉得米色最耐看你们觉得呢",
        "我们这边不谈收益也不讲升值",
    ],
)
def test_advice_opinions_and_denials_are_innocent(engine, text):
    assert alarm_rules(engine, text) == [], text


def test_a_claim_with_a_tag_question_still_alarms(engine):
    assert alarm_rules(engine, "这双鞋是最舒服的了大家觉得呢") != []
    assert alarm_rules(engine, "这个色号最显白你们说是不是") != []


def test_100_percent_of_what_no_one_can_vouch_for(engine):
    assert alarm_rules(engine, "我们这个蜂蜜百分之百纯天然") != []
    assert alarm_rules(engine, "这件T恤是百分之百棉的") == []


# ------------------------------------------------------------------- more templates as pack data
@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("这款蓝牙耳机全国就这一家了", "absolute."),  # the only one in a whole market
        ("这个洗脸巾比美容院的还干净", "absolute."),  # superiority over a clinic or salon
        ("这个窗帘能阻挡100%的阳光", "guarantee."),  # a verb measured as 100%
        ("这个祛疤膏能让老疤完全淡化", "medical."),  # any scar (疤)
        ("涂了以后妊娠纹会彻底消失", "medical."),  # a mark made to vanish for good
        ("这双滑雪板国家滑雪队都在用", "authority."),  # a national team as the endorser
        ("这个配方是科学家团队亲自研发的", "authority."),  # experts as a team
        ("全年下来也就年中大促这一回", "urgency."),  # once a year, the occasion inside
        ("明早价格就翻一番了", "urgency."),  # a deadline price rise
    ],
)
def test_more_claim_templates(engine, text, family):
    assert any(r.startswith(family) for r in alarm_rules(engine, text)), text


@pytest.mark.parametrize(
    "text",
    [
        "这款是我们店里卖得最久的",  # time: exempt like 最近 / 最早
        "这个窗帘是百分之百涤纶的",  # a composition
        "全国各地都能发货就是偏远地区慢一点",
        "比上一批的颜色深一点点",
    ],
)
def test_nearby_innocent_wordings(engine, text):
    assert alarm_rules(engine, text) == [], text


# --------------------------------------------------------- after the sealed run (new sentences)
@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("这个去屑洗发水效果就是百分之百", "guarantee."),  # an effect said to be 100%
        ("这个眼贴保证一周黑眼圈都没了", "guarantee."),  # a promise that a mark is gone
        ("这个不粘锅永远不掉涂层也永不生锈", "guarantee."),  # 永不 + a durability outcome
        ("这个精油绝对零副作用", "guarantee."),
        ("这个理疗仪能治疗跖筋膜炎", "medical."),  # an unlisted inflammation
        ("明天开始不但恢复原价后面还要再涨", "urgency."),  # a rise on top of the old price
        ("这个唇膏好几万人都在抢", "false_data."),
    ],
)
def test_templates_added_after_the_sealed_run(engine, text, family):
    assert any(r.startswith(family) for r in alarm_rules(engine, text)), text


@pytest.mark.parametrize(
    "text",
    [
        "这个祛痘凝胶是日常护理用的不是药",  # a product category name
        "我们没有找什么网红带货就是自己播",  # 没找什么: the noun phrase is denied
        "治疗方案要听医生的我们只卖护理用品",
    ],
)
def test_innocent_after_the_sealed_run(engine, text):
    assert alarm_rules(engine, text) == [], text


# ------------------------------------------------------------------------------ round-four batch
def test_round_four_tuned_batch(engine):
    # Tuned on: a target a little under the figures after tuning (see docs/rules.md).
    holds_floor(engine, "r4_trades", 0.95, 0.03)


def test_round_four_sealed_batch_holds_its_first_run_figures(engine):
    # Scored once after the round's tuning (34/44, 3/46 false alarms, see docs/rules.md), then tuned on:
    # the floor is the first run, so later changes cannot quietly lose ground.
    holds_floor(engine, "r4_sealed", 0.77, 0.066)
