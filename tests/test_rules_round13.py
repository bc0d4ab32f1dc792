"""Round thirteen: what the thirteenth round's blind sets showed, each class checked both ways with new
sentences:
- a negator stays in its own finished clause: 没货了 / 不用了 + a new subject (你们, 大家) does not deny
  what that subject is told to do next (这个色没货了你们去某宝搜);
- a term inside its own A-not-A question (开不开光, 治不治病) asks, it claims nothing;
- 价 written without its person radical (涨介了);
- more state organs as endorsers (文旅部指定, 银保监会力荐, 体育总局推荐), an authority's 认定;
- prevention of more diseases (预防蛀牙, 预防自闭症);
- sales per month in chat shorthand (月销破百w, 日销十w+);
- the last few units chanted twice in one breath (最后5单最后5单);
- taste at its best when used a certain way (冰到五度左右喝口感最好) is advice.
A second pair of batches the same round (w15) showed:
- a modal particle inside a fixed claim (全网啊就我们家最低), maternal and child hospitals as endorsers;
- more conditions an ordinary product is said to treat (扁平足, 脂溢性脱发), sales in pairs (卖出去一千万双);
- a deadline no one could keep (下一秒就恢复原价);
- a denial of a rating (不敢说好评率百分百), a viewer's request relayed and declined (有人说要私聊我 不用哈),
  advice to bring something (最好带个手套).
The round's sealed batches, run once at its end, showed (fixed after):
- a sound-alike whose slip jieba glues to the next characters (顶吉皮料 cuts 顶|吉皮料);
- a pause before a new subject ends a negator's clause (没挂链接 你们去某宝搜);
- a viewer's question relayed and answered no (有人问开光没有 我们不搞那些);
- telling viewers not to expect it (别想着什么保值升值);
- the space agency as endorser, 这辈子就这一回, 十年都遇不到一回, 抢完就永久下架, 再也不生产了.
A third pair (w16), scored before any change for it, showed:
- a key that is only a pattern's trigger word (都保 of 什么病都保) hid a phrase starting inside it
  (洗一百次都保证不褪色);
- a claim word naming the product it is part of (这个祛斑霜有国妆特字批号), what was never said (我们没说过
  它能治什么病), advice to switch something on (最好开低档);
- a negator that is part of who is addressed (尺码不会选的加我weixin: those who cannot choose).
"""

import pytest

from tests.rules_support import alarm_phrases, holds_floor


@pytest.mark.parametrize(
    ("text", "rule", "matched"),
    [
        ("这个码数没货了大家去某宝搜一下同款", "offsite.other_platform", "去某宝搜"),
        ("链接拍不了了你们加个微信我私发", "offsite.wechat_qq", "加个微信"),
        ("这双鞋明天就涨介了", "urgency.free_scarcity", "就涨介"),
        ("这个旅游套餐是文化和旅游部推荐的", "authority.state_organs", "文化和旅游部推荐"),
        ("这款跑步机体育总局都认可", "authority.state_organs", "体育总局都认可"),
        ("这个理财是证监会力荐的", "authority.state_organs", "证监会力荐"),
        ("这个蜂蜜经过权威机构认定的", "authority.experts", "权威机构认定"),
        ("小朋友天天用这个牙膏能预防蛀牙", "medical.disease_treatment", "预防蛀牙"),
        ("这款洗发水月销破千w", "false_data.sales_rank", "月销破千w"),
        ("这个面膜日销十w+", "false_data.sales_rank", "日销十w+"),
        ("最后5单了最后5单赶紧拍", "urgency.free_scarcity", "最后5单"),
        # the second pair (w15)
        ("这个价全网呀就我们家最低", "absolute.lowest_price", "全网呀就我们家最低"),
        ("这款奶粉是儿童医院推荐的", "authority.experts", "儿童医院推荐的"),
        ("这个矫正带能治好驼背", "medical.disease_treatment", "治好驼背"),
        ("这款袜子一年卖了三百万双", "false_data.sales_rank", "卖了三百万双"),
        ("下一分钟就涨价了赶紧拍", "urgency.free_scarcity", "下一分钟就涨价"),
        # the sealed batches' classes, after their one run
        ("这件大衣用的是顶吉羊绒", "absolute.top_grade", "顶吉"),
        ("这款没开链接 大家去某宝搜店名", "offsite.other_platform", "去某宝搜"),
        ("这个面料是国家航天局指定的", "authority.state_organs", "国家航天局指定"),
        ("这个价一辈子就这一回", "urgency.false_scarcity", "一辈子就这一回"),
        ("这个价格好几年都碰不到一次", "urgency.false_scarcity", "好几年都碰不到一次"),
        ("这个口味以后再也不生产了", "urgency.false_scarcity", "再也不生产了"),
        # the third pair (w16)
        ("这个床单你机洗五十次都保证不起球", "guarantee.efficacy", "保证不起球"),
        ("这个美白精华能祛斑", "medical.cosmetic_claims", "祛斑"),
        ("鞋码不会挑的加个微信我帮你看", "offsite.wechat_qq", "加个微信"),  # those who cannot choose
    ],
)
def test_round_thirteen_claims(engine, text, rule, matched):
    assert (rule, matched) in alarm_phrases(engine, text), text


@pytest.mark.parametrize(
    "text",
    [
        "有人问这个手串开不开光 我们是普通饰品",
        "宝宝们问治不治病 它就是个枕头",
        "这个啤酒冰到五度左右喝口感最好",
        "还剩最后5单",
        "简介里有尺码表",
        "这个是国家体育总局的比赛用球标准尺寸",
        # the second pair (w15)
        "我可不敢说好评率百分之百",
        "有宝宝说要加微信 不用的哈 直接下单就行",
        "爬山的时候最好带件外套",
        # the sealed batches' false alarms
        "有人问这个开光没有 我们就是普通的手链 不搞那些",
        "刚有人问这个茶能不能治失眠 我说不能",
        "衣服是穿的 别想着什么保值升值",
        "这件顶吉祥的红色过年穿",
        # the third pair (w16)
        "这款祛斑霜是特证产品 批号详情页能查",
        "晚上睡觉最好开一档",
        "我们从没说过它能治病",
        "我们不会加微信的",
    ],
)
def test_round_thirteen_innocent_wordings(engine, text):
    assert alarm_phrases(engine, text) == [], text


@pytest.mark.parametrize(
    "text",
    [
        "没有任何的药用功效",  # 的 does not end a denial
        "我们从来不说用了以后就能根治",  # a clause-spanning denial is not ended by a 了 inside it
        "我不会跟你们说用了就能治病",  # a refusal to say it, 就 and all
    ],
)
def test_denials_keep_their_reach(engine, text):
    assert alarm_phrases(engine, text) == [], text


def test_a_denial_of_a_finished_clause_is_only_that(engine):
    """没货了 is denied stock, not denied contact: the contact after a new subject is still a claim, and
    without the new subject the denial still reaches the term (这个没有加微信的渠道)."""
    assert alarm_phrases(engine, "这款没货了你们加我微信") != []
    assert alarm_phrases(engine, "我们没有加微信这种渠道") == []


def test_round_thirteen_blind_sets(engine):
    # Scored once before any change for them (w14_cc 54/60, 1/60; w14_trades 55/60, 1/60), then tuned on.
    holds_floor(engine, "w14_cc", 0.95, 0.0)
    holds_floor(engine, "w14_trades", 0.95, 0.0)
    # The second pair, scored before any change for them: w15_cc 55/60, 0/60; w15_trades 56/60, 3/60.
    holds_floor(engine, "w15_cc", 0.95, 0.0)
    holds_floor(engine, "w15_trades", 0.93, 0.0)
    # Kept sealed until every change above was in, run once (s13_cc 55/60, 2/60; s13_trades 54/60, 1/60),
    # then fixed on: regression floors now.
    holds_floor(engine, "s13_cc", 0.95, 0.02)
    holds_floor(engine, "s13_trades", 0.92, 0.0)
    # A third pair, scored before any change for it: w16_cc 56/60, 3/60; w16_trades 58/60, 2/60.
    holds_floor(engine, "w16_cc", 0.93, 0.02)
    holds_floor(engine, "w16_trades", 0.95, 0.0)
