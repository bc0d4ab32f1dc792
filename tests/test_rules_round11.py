"""Round eleven: what the eleventh round's blind sets showed. Affirmed medicinal effect and sight
restored (a medical claim for ordinary goods), and sales said to have passed a big round figure, also
in banker's numerals (佰/仟), and a product said never to be listed again. Each class is checked
with new sentences both ways.
"""

import pytest

from tests.rules_support import alarm_phrases, holds_floor


@pytest.mark.parametrize(
    ("text", "rule", "matched"),
    [
        ("这款枸杞茶是有药用功效的家人们", "medical.health_function", "药用功效"),
        ("这副防蓝光眼镜戴一个月能提高视力", "medical.health_function", "提高视力"),
        ("孩子用了这个台灯近视度数下降了", "medical.health_function", "近视度数下降"),
        ("这款保温杯销量已经突破五十万了", "false_data.sales_rank", "销量已经突破五十万"),
        ("这口锅销量破仟万了姐妹们", "false_data.sales_rank", "销量破仟万"),
        ("我们家这个牌子销售额早就过亿了", "false_data.sales_rank", "销售额早就过亿"),
        ("这个颜色下了播再也不会上架了", "urgency.free_scarcity", "再也不会上架了"),
    ],
)
def test_round_eleven_claims(engine, text, rule, matched):
    assert (rule, matched) in alarm_phrases(engine, text), text


@pytest.mark.parametrize(
    "text",
    [
        "它就是一款普通的茶没有什么药用功效",
        "眼镜只是矫正不是说能恢复视力的",
        "这个款销量过万了后台能看到",
        "销量不过几千单但是回购的人多",
        "近视了一定要去医院验光",
        "买过一次差的我再也不上当了",
    ],
)
def test_round_eleven_innocent_wordings(engine, text):
    assert alarm_phrases(engine, text) == [], text


def test_round_eleven_blind_sets(engine):
    # Scored once before any change of this round (w11_cc 55/60, 0/60; w11_trades 48/60, 1/60), then
    # tuned on (see docs/rules.md).
    holds_floor(engine, "w11_cc", 0.95, 0.0)
    holds_floor(engine, "w11_trades", 0.85, 0.02)
