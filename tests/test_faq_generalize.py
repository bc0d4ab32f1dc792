"""General mechanisms of the FAQ matcher that carry over to merchants nobody tuned on: what a
question asks, problems the FAQ itself names, the anchor asked as a person, the shipped attribute
tables, and the sentence encoder breaking a tie. Words alone (no encoder) unless said otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.faq.faqfile import parse_faq
from bot.faq.matcher import FaqMatcher
from bot.faq.semantic import TIE_Z, Opinion, decide
from bot.faq.store import build_matcher

SHOP = """
[[faq]]
id = "ship_time"
question = "什么时候发货？"
answer = "下午4点前付款当天发，之后的第二天发。"

[[faq]]
id = "delivery"
question = "几天能到？"
answer = "上海仓发京东快递，江浙沪次日达，其他地区2-4天。"

[[faq]]
id = "heel"
question = "跟多高？"
answer = "鞋跟高5厘米，前掌有1厘米防水台。"

[[faq]]
id = "material"
question = "是真皮吗？"
answer = "鞋面是头层牛皮，内里猪皮，鞋底是橡胶的。"

[[faq]]
id = "size"
question = "尺码标准吗？"
answer = "正常码，脚背高或者脚宽的建议拍大一码。"

[[faq]]
id = "glue"
question = "开胶了怎么办？"
answer = "质量问题一年内包修，拍照联系客服寄回维修。"

[[faq]]
id = "cooling"
question = "不制冷了怎么办？"
answer = "拨打售后电话报修，师傅48小时内上门检查。"

[[faq]]
id = "mop"
question = "拖把不吸水了怎么办？"
answer = "新拖把头先用清水泡半小时再用。"

[[faq]]
id = "noise"
question = "声音大吗？"
answer = "静音模式最低18分贝，睡觉基本听不到。"

[[faq]]
id = "tummy"
question = "宝宝喝了便秘怎么办？"
answer = "先停喝并咨询儿科医生。"
"""


@pytest.fixture(scope="module")
def shop() -> FaqMatcher:
    return build_matcher(parse_faq(SHOP.encode("utf-8")), semantic=False)


@pytest.mark.parametrize(
    ("text", "faq_id"),
    [
        # 什么 asks for a thing, not a time: the answer naming a courier answers 发什么快递
        ("发什么快递", "delivery"),
        ("什么时候发货", "ship_time"),
        # a grammar character that is all an FAQ question names is content there (跟: the heel)
        ("跟有多高", "heel"),
        # units typed in Latin letters are the units the answer states
        ("后跟几cm", "heel"),
        # a material the tables know is the kind of thing a material answer names
        ("是不是pu的", "material"),
        ("鞋底什么材质", "material"),
        # 吵 asks what 声音大 asks
        ("晚上睡觉吵不吵", "noise"),
        # a problem the FAQ's own 怎么办 questions name, reported without a question word
        ("鞋子开胶了", "glue"),
        ("空调不制冷了", "cooling"),
        ("这个拖把怎么不吸水了", "mop"),
        ("拖把头不吸水了", "mop"),
    ],
)
def test_general_mechanisms_answer(shop: FaqMatcher, text: str, faq_id: str) -> None:
    assert shop.match(text).faq_id == faq_id, shop.match(text).why


@pytest.mark.parametrize(
    "text",
    [
        "主播穿多大码",  # the anchor asked as a person: what they wear, eat, run at home
        "主播吃过吗",
        "主播家开的几匹",
        "宝宝终于不便秘了",  # a problem that stopped is good news
        "上次买的那双开胶了 后来客服给修好了",  # a problem already put right
        "空调制冷好快",  # praise that names what an entry names
    ],
)
def test_chatter_that_shares_words_is_not_answered(shop: FaqMatcher, text: str) -> None:
    m = shop.match(text)
    assert m.faq_id is None, m.why


def test_learned_problems_come_from_the_faq_itself(shop: FaqMatcher) -> None:
    problems = shop._faq_problems
    assert ("开胶",) in problems and ("不", "吸水") in problems
    # a bare "…了" with no problem this FAQ or the tables know stays news
    assert shop.match("鞋子到了").faq_id is None
    assert shop.analyze("鞋子到了")[1].kind == "statement"


def test_the_encoder_breaks_a_tie_only_between_the_words_two_nearest() -> None:
    words = {"a": 0.55, "b": 0.52, "c": 0.1}
    sure = Opinion("b", TIE_Z + 0.1, 0.02, "a")
    assert decide(sure, words, tie=("a", "b"))[0] == "b"
    # not without a tie, not below its z, and never for an entry outside the two
    assert decide(sure, words)[0] is None
    assert decide(Opinion("b", TIE_Z - 0.3, 0.02, "a"), words, tie=("a", "b"))[0] is None
    assert decide(Opinion("c", TIE_Z + 0.1, 0.02, "a"), words, tie=("a", "b"))[0] is None


def test_new_merchant_sets_keep_their_share_of_chatter() -> None:
    data = Path(__file__).parent / "data"
    for name in ("formula", "shoes", "appliance", "glasses"):
        rows = [
            line.split("\t")
            for line in (data / f"questions_{name}.tsv").read_text("utf-8").splitlines()
            if line and not line.startswith("#")
        ]
        none = sum(1 for _, want in rows if want == "NONE")
        assert 0.3 <= none / len(rows) <= 0.36, name
        ids = {e.id for e in parse_faq((data / f"faq_{name}.toml").read_bytes()).entries}
        assert {want for _, want in rows if want != "NONE"} <= ids, name


def test_what_a_thing_is_is_the_condition_of_what_is_asked(shop: FaqMatcher) -> None:
    # 真皮的能水洗吗 asks about washing; 真皮的 only says which
    a, gate = shop.analyze("真皮的能水洗吗")
    weights = shop.message_weights(a, gate)
    assert weights["真皮"] < weights["水洗"]
    a, gate = shop.analyze("是真皮的吗")
    assert shop.message_weights(a, gate)["真皮"] == shop.weight("真皮")  # nothing follows: it is what is asked
    assert shop.match("真皮的能水洗吗").faq_id != "material"


def test_a_variant_holding_another_table_word_stands_for_its_variants() -> None:
    from bot.faq.vocab import build_vocabulary

    strings = build_vocabulary().strings
    assert strings["能放多久"] == "保质期" and strings["几天"] == "多久"
    assert strings["能放几天"] == "保质期"  # composed: 多久 spelt 几天 inside 能放多久
    assert "放几天" not in strings  # a three-character variant is too loose to compose (要放几天才能吃)


UMBRELLA = """
[[faq]]
id = "frame"
question = "结实吗？"
answer = "伞骨是玻璃纤维的，八根，抗风不容易翻。"

[[faq]]
id = "uv"
question = "防晒效果好吗？"
answer = "涂了黑胶，UPF50+，能挡紫外线。"

[[faq]]
id = "open_size"
question = "打开有多大？"
answer = "打开直径105厘米，两个人也能打。"

[[faq]]
id = "shade"
question = "有几种可选？"
answer = "有黑色、藏青和浅粉三种。"

[[faq]]
id = "post"
question = "走哪家？"
answer = "默认中通，偏远地区走邮政。"

[[faq]]
id = "ship"
question = "多久发出？"
answer = "付款后48小时内发出。"

[[faq]]
id = "refund"
question = "能退吗？"
answer = "七天无理由，没拆封的都能退。"

[[faq]]
id = "auto"
question = "是一键开收的吗？"
answer = "是的，按伞柄上的按钮就能开和收。"
"""


@pytest.fixture(scope="module")
def umbrella() -> FaqMatcher:
    return build_matcher(parse_faq(UMBRELLA.encode("utf-8")), semantic=False)


def _bag(m: FaqMatcher, entry_id: str):
    """The entry's whole text (question and answer) as the matcher compares it."""
    return m.bags[m._entry_at[entry_id]]


def test_an_unknown_word_is_credited_by_characters_few_entries_write(umbrella: FaqMatcher) -> None:
    from bot.faq.matcher import CHAR_CREDIT

    # 骨头 is in no entry, but 骨 is written by one entry only (伞骨): evidence for that entry
    assert "骨头" not in umbrella._df and "骨头" not in umbrella._answer_df
    assert umbrella._credit("骨头", _bag(umbrella, "frame")) == pytest.approx(CHAR_CREDIT)
    assert umbrella._credit("骨头", _bag(umbrella, "uv")) == 0.0
    # a character the FAQ never writes makes it something else: only the plain shared-character credit
    assert umbrella._credit("骨折", _bag(umbrella, "frame")) < CHAR_CREDIT / 2
    # the characters must meet in one word of the entry, not be scattered over several
    assert umbrella._credit("黑伞", _bag(umbrella, "uv")) < CHAR_CREDIT


def test_a_class_name_is_credited_by_a_member_of_the_class(umbrella: FaqMatcher) -> None:
    from bot.faq.matcher import NAME_CREDIT

    # 快递 names the class of couriers; an answer naming 中通 answers it, one naming none does not
    assert umbrella._credit("快递", _bag(umbrella, "post")) >= NAME_CREDIT
    assert umbrella._credit("快递", _bag(umbrella, "refund")) == 0.0
    assert umbrella._credit("颜色", _bag(umbrella, "shade")) >= NAME_CREDIT
    for text, want in (("快递是哪家", "post"), ("什么颜色的", "shade")):
        assert umbrella.match(text).faq_id == want, umbrella.match(text).why
    # naming the class in a statement is still no question
    assert umbrella.match("颜色好好看").faq_id is None


def test_the_encoder_as_a_ranking_needs_the_words_support_a_lead_and_the_thing_asked() -> None:
    from bot.faq.semantic import RANK_LEAD, RANK_WORDS, SURE_Z

    words = {"a": RANK_WORDS + 0.05, "b": RANK_WORDS + 0.02, "c": 0.2}
    low_z = SURE_Z - 1.5  # far from sure on its own: only the ranking can answer
    assert decide(Opinion("b", low_z, RANK_LEAD + 0.01, "a"), words)[0] == "b"
    # too small a lead over the encoder's runner-up
    assert decide(Opinion("b", low_z, RANK_LEAD - 0.01, "a"), words)[0] is None
    # not one of the words' two best
    assert decide(Opinion("c", low_z, RANK_LEAD + 0.05, "a"), words)[0] is None
    # the words gave it too little
    weak = {"a": RANK_WORDS - 0.1, "b": RANK_WORDS - 0.15}
    assert decide(Opinion("a", low_z, RANK_LEAD + 0.05, "b"), weak)[0] is None
    # the entry never states what is asked (a time, an amount, a price)
    assert decide(Opinion("b", low_z, RANK_LEAD + 0.01, "a"), words, unstated={"b"})[0] is None
    assert decide(None, words) == (None, "")


def test_both_voices_naming_the_same_entry_first_answer_without_a_lead() -> None:
    from bot.faq.semantic import AGREE_WORDS, AGREE_Z, RANK_LEAD

    words = {"a": AGREE_WORDS + 0.02, "b": AGREE_WORDS - 0.05}
    small_lead = RANK_LEAD - 0.02  # the ranking rule would not answer on this lead
    assert decide(Opinion("a", AGREE_Z + 0.1, small_lead, "b"), words)[0] == "a"
    # the encoder does not stand out enough
    assert decide(Opinion("a", AGREE_Z - 0.1, small_lead, "b"), words)[0] is None
    # the encoder's nearest is only the words' second
    assert decide(Opinion("b", AGREE_Z + 0.1, small_lead, "a"), words)[0] is None
    # the words gave it too little
    assert decide(Opinion("a", AGREE_Z + 0.1, small_lead, "b"), {"a": AGREE_WORDS - 0.05})[0] is None
    # the entry never states what is asked
    assert decide(Opinion("a", AGREE_Z + 0.1, small_lead, "b"), words, unstated={"a"})[0] is None


@pytest.mark.parametrize("text", ["主播家娃多大了", "主播家狗狗叫什么", "主播家的猫几岁了"])
def test_the_anchors_home_with_or_without_de_is_the_anchor_as_a_person(shop: FaqMatcher, text: str) -> None:
    # 主播家孩子 asks about the anchor as 主播家的孩子 does: never a question to the shop
    assert shop.analyze(text)[1].cue == "personal"
    assert shop.match(text).faq_id is None


@pytest.mark.parametrize("text", ["主播是哪里人", "主播吃饭了吗", "主播今晚几点下播", "主播累不累"])
def test_the_anchors_day_and_origin_are_the_anchor_as_a_person(shop: FaqMatcher, text: str) -> None:
    # 主播是哪里人 once matched a "how many people" entry on 人 alone; 吃饭 a feeder's entry
    assert shop.analyze(text)[1].cue == "personal"
    assert shop.match(text).faq_id is None


def test_the_anchors_home_before_the_shops_goods_is_still_a_question(shop: FaqMatcher) -> None:
    assert shop.analyze("主播家猫粮怎么卖")[1].cue != "personal"
