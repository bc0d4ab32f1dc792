"""Round fourteen: what the fourteenth round's blind sets (w17) showed, each class checked both ways with
new sentences:
- a cure with a time span and no illness in the clause (两周就能治好), a use verb and a span between an
  illness and its cure (腰肌 贴一个星期就好了), more everyday ailments (痱子, 冻疮, 红屁屁);
- promises that never wear off said of make-up (永不脱妆), 绝对 + none of something (绝对无甲醛),
  zero-residue food claims (零农残, 零添加), exam money-back said short (不过全额退), pass certainty
  said as 百分百拿证;
- exclusivity in a whole trade (全行业独一家), an endorsement adverb inside a media claim (央视都多次报道);
- contact numbers collected in public chat (公屏留个手机号), a code shown off the shop's links (扫背景板
  二维码), sales in chat shorthand (卖了几百w单), a rating said without 百分之 (好评率九十八点五);
- denials: declining to say what it is (我不说它是最好的), nobody can promise it (没有人能保证你一定过),
  a saying reported and dismissed (有人说能转运 那是迷信); a product named by its claim word (护眼仪),
  doing it this way is best (这么泡最香), and 送完即止 (it sounds like 极致).
"""

import pytest

from tests.rules_support import alarm_phrases, holds_floor


@pytest.mark.parametrize(
    "text",
    [
        "这个祛痱子的爽身粉 宝宝用了两周就能治好",
        "腰肌劳损 贴一个星期就好了 真的",
        "冻疮一抹就好了 家人们",
        "这个眼线笔 永不晕妆 一整天都在",
        "这个板材绝对无甲醛 放心给孩子用",
        "我们的蔬菜零农残 洗都不用洗",
        "会计证的课 不过全额退费",
        "报我们这个班 百分之百上岸",
        "这个工艺全行业独一家",
        "这个品牌央视都多次报道过",
        "想要的公屏留个手机号 我让助理打给你",
        "扫一下背景板的二维码 进我们的福利群",
        "这款面霜已经卖了几百w单了",
        "好评率九十八点五 你们放心拍",
    ],
)
def test_new_wordings_are_caught(engine, text):
    assert alarm_phrases(engine, text), text


@pytest.mark.parametrize(
    "text",
    [
        "这款口红我不说它是最好的 适合你的才是最好的",
        "考证这个事 没有人能保证你一定过 我们只负责把课讲好",
        "有人说戴这个能转运 那是迷信 我们就是卖个饰品",
        "护眼仪的说明书在盒子里 充电两个小时",
        "这个茶这么泡最香 水温九十度左右",
        "赠品数量有限 送完即止",
        "下单的时候收货地址留个能打通的电话",
        "我们家的大米 农残检测报告在详情页 你们可以看",
    ],
)
def test_innocent_lines_stay_quiet(engine, text):
    assert alarm_phrases(engine, text) == [], text


def test_round_fourteen_blind_sets(engine):
    # Scored once before any change for them: w17_cc 49/60, 2/60; w17_trades 41/60, 5/60 as written; 7
    # lines of checkable mechanics (最后一件了, 倒计时最后一分钟, 仅限今晚 with the hour named) moved to the
    # innocent side as the dev set labels them: 49/57, 2/63; 41/56, 5/64. Then tuned on.
    holds_floor(engine, "w17_cc", 0.92, 0.0)
    holds_floor(engine, "w17_trades", 0.90, 0.0)
