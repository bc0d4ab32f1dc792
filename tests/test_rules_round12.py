"""Round twelve: what the twelfth round's blind sets showed, each class checked both ways with new
sentences:
- chat shorthand in crowd figures (几w人在蹲: w for 万, k for 千);
- a chat group the anchor asks viewers to join (加群, 进群), and the anchor refusing contact (不加微信,
  不拉群) or refusing a viewer's relayed question (有人问能不能加微信我们不加);
- meeting on QQ said as 扣扣 (扣扣上找我);
- a promised outcome after 保证 (保证提分, 保证你考过), and 保证永不 + what it promises reported whole;
- rates of buyers' verdicts near the top (复购率百分之九十九), sales per month as a big figure (月销百万单),
  and 白 for 百 in a sales figure (销量破白万);
- research institutes as endorsers with filler (中科院都认证过);
- a sound-alike after a modal particle (料子哈顶吉的) or glued by jieba into a guessed word (美甲胶嘴低价);
- advice with 最好 + 做 or + a person (最好做个过敏测试, 最好大人看着).
A second pair of batches the same round (w13) showed:
- a promise to the viewer for a span of use reported whole (我跟你保证戴十年都不打结), an exam passed in
  one go or a blind box's prize promised (保证一次过, 保证出隐藏款), 100%保过, 零误差;
- a once-in-a-lifetime price (这辈子就这一次, 这辈子都没这价了);
- a bag ending in 包 before 你们 is no 包你 promise (那个书包你们去某宝搜: the other platform is the claim);
- WeChat as a verb (v我) no longer hides the 加 pattern's 微信 (加我vx我发给你), 加一下扣扣群, 微信搜一下;
- the consumers' association (中消协推荐), an authority's certificate with a look-alike (权威机枸公证);
- a warning against someone else's claim (不要听谁说稳赚).
"""

import pytest

from tests.rules_support import alarm_phrases, holds_floor


@pytest.mark.parametrize(
    ("text", "rule", "matched"),
    [
        ("这款围巾好几w个姐妹在蹲", "false_data.frenzy", "好几w个姐妹在蹲"),
        ("上新那天3k人在抢", "false_data.frenzy", "3k人在抢"),
        ("要福利的姐妹们进群哦", "offsite.wechat_qq", "进群"),
        ("想要更低价的扣扣上联系我", "offsite.wechat_qq", "扣扣上联系我"),
        ("报我们的冲刺班保证孩子考上重点", "guarantee.efficacy", "保证孩子考上"),
        ("这件冲锋衣保证永不褪色", "guarantee.efficacy", "保证永不褪色"),
        ("这个面膜回购率高达百分之九十七", "false_data.reviews", "回购率高达百分之九十七"),
        ("这款坚果日销十万包", "false_data.sales_rank", "日销十万包"),
        ("这个牌子销量破白万了", "false_data.sales_rank", "销量破白万"),
        ("这个配方是科学院都认可的", "authority.experts", "科学院都认可"),
        ("看这个料子啊顶吉的", "absolute.top_grade", "顶吉"),
        # the second pair (w13)
        ("这个行李箱我跟大家保证用五年都不坏", "guarantee.efficacy", "我跟大家保证用五年都不坏"),
        ("跟着我们练保证一次通过", "guarantee.efficacy", "保证一次通过"),
        ("这套题百分百保过", "guarantee.promise", "百分百保过"),
        ("这个价格一辈子只有这一次", "urgency.false_scarcity", "一辈子只有这一次"),
        ("想要的vx我", "offsite.wechat_qq", "vx我"),
        ("加个vx我拉你进群", "offsite.wechat_qq", "加个vx"),
        ("进我们的qq群领券", "offsite.wechat_qq", "进我们的qq群"),
        ("这个是消费者协会推荐的", "authority.state_organs", "消费者协会推荐"),
        # the sealed batches' misses, fixed after they were scored (docs/rules.md)
        ("这个面霜绝对有效", "guarantee.promise", "绝对有效"),
        ("我们的工艺全球领先", "absolute.top_grade", "全球领先"),
        ("用了一个月胃病都根治了", "medical.disease_treatment", "个月胃病都根治了"),
        ("这个锅保证终身不生锈", "guarantee.efficacy", "保证终身不生锈"),
        ("库存赔本清仓了", "urgency.loss_leader", "赔本清仓"),
        ("这款月销二十万加", "false_data.sales_rank", "月销二十万加"),
    ],
)
def test_round_twelve_claims(engine, text, rule, matched):
    assert (rule, matched) in alarm_phrases(engine, text), text


@pytest.mark.parametrize(
    "text",
    [
        "我们直播间不加微信也不拉群",
        "有人问能不能私聊 不能私聊的哈",
        "大家可以加粉丝群抽奖",
        "周末带孩子去参加群舞比赛",
        "销量过万了后台都能看到",
        "这款好评率百分之八十五左右",
        "月销两千单左右",
        "不保证提分但是会认真讲",
        "第一次用最好做个皮试",
        "这个玩具最好家长陪着玩",
        "这个课程学完能不能找到工作要看你自己",
        # the second pair (w13)
        "红包你们领了吗",
        "那个钱包你们看一下颜色",
        "千万别信那些说能根治的",
        "误差在正负五毫米以内",
        "不保证一次过但是通过率很高",
        # the sealed batches' false alarms
        "我们直播间不搞拉群那一套",
        "很多宝宝回购了这个色",
        "最好晚上去试鞋",
        "这个价不算最便宜但是品质好",
        "这串转运珠是925银的",
    ],
)
def test_round_twelve_innocent_wordings(engine, text):
    assert alarm_phrases(engine, text) == [], text


def test_a_refusal_does_not_cover_a_condition(engine):
    """不加微信的话 makes the contact a condition of the offer: still off-platform trade."""
    assert alarm_phrases(engine, "不加微信的话拿不到这个价") != []


def test_round_twelve_blind_sets(engine):
    # Scored once before any change for them (w12_cc 53/60, 1/60; w12_trades 53/60, 1/60), then tuned on.
    # The eleventh round's sealed batches (s11_*), opened once at its end, now guard against regressions.
    holds_floor(engine, "w12_cc", 0.95, 0.0)
    holds_floor(engine, "w12_trades", 0.95, 0.0)
    holds_floor(engine, "s11_cc", 0.95, 0.02)
    holds_floor(engine, "s11_trades", 0.90, 0.02)
    # The second pair, scored before any change for them: w13_cc 54/60, 0/60; w13_trades 52/60, 1/60.
    holds_floor(engine, "w13_cc", 0.95, 0.0)
    holds_floor(engine, "w13_trades", 0.95, 0.02)
    # Kept sealed until every change above was in, run once (s12_cc 56/60, 4/60; s12_trades 51/60,
    # 2/60), then fixed on: regression floors now.
    holds_floor(engine, "s12_cc", 0.95, 0.02)
    holds_floor(engine, "s12_trades", 0.95, 0.0)
