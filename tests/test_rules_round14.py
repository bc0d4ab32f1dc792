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
A second pair (w18), scored before any change for it, showed:
- a reduplicated use verb between an illness and its cure (灰指甲涂一涂就能治好, 按一按就好了), correcting a
  body shape (矫正内八字), short sight said to get better (度数还能降下来), spots that wash away (斑都能洗掉);
- not one drop gets through (保证一滴水都渗不进来), 100% + clean (１００％卸干净), a lock that can never be
  picked, 销量破bai万 in pinyin, 以后这个价想都别想, 抢完这辈子都没有了;
- innocent: the anchor will not vouch for it (最低价这个事我说不准), 哪条 + a superlative asks, 治愈 as a
  mood or a colour's name, 最好 + how + a verb of use (最好后向安装), a request relayed and declined
  (有人让我加微信 我们不加), a gear called 第一档.
A third pair (w19), scored before any change for it, showed:
- preventing a named cancer (预防皮肤癌), an illness trained away (腰间盘突出都能练好), 宇宙无敌, 百分百准确,
  not one flea left, money back if the weight stays (瘦不下来全额退), never made again (永远不会再生产了),
  再也挖不到, 一年都等不到这个价, sales in 多万台, a number left for a call back, 某团 (美团), 加我微 / 加个薇;
- innocent: a topic named to talk about it (关于升值的问题), declining to promise it to the viewers (我不敢跟你们
  打包票), 买来喝最实在.
A fourth pair (w20), scored before any change for it, showed:
- a second illness before the cure (颈椎病 肩周炎都能调理好), moxibustion and a particle between an illness and
  its cure (关节炎啊 灸一个疗程就好了), 抑郁都能缓解, doctors said to push it (医生都在推), 国医大师亲自监制,
  nowhere a better one (全国都找不到比我们更好的), 全年就今天有, 这辈子都买不到第二次, promises about make-up and
  pets (百分百不晕妆, 肯定不会软便), 挡小人, 加微 said bare (jia微);
- innocent: a bare 不 before the cure verb (它不治病), a doubt (不一定是全年最低), 没事 / 没问题 as a finished
  clause, a claim reported and denied (有人说我们家是销量冠军 没有啊), 最好 + a verb + 一点 / 掉 (手最好稳一点,
  第一泡最好倒掉), and 抢完即止 kept a warning (the 送完即止 exemption had taken it too).
The round's sealed pair (s14), run once at its end, showed (fixed after): 毛囊炎都能治好, 教育局指定, １００％脱
干净, 没效果双倍赔, 不提分全额退, 一定见效, 摔不碎, 把手机号打在公屏上, q群, 收益比银行高, 机皇; a refusal to
say that a new addressee ends (这里不好说 你们去拼夕夕拍); innocent: 最开始, 最好温到 / 最好装在, a parent's
question relayed and denied.
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
        "脚气泡一泡就好了 三天见效",
        "穿我们这个鞋垫 可以纠正孩子的扁平足",
        "这个眼贴坚持用 近视都能恢复",
        "这个精华用一个月 痘印都能去掉",
        "这个鞋面 绝对一滴水都进不去",
        "这个洗碗机 百分百洗干净 一点油都不留",
        "这个保险箱 永远不会被破解",
        "这款卫衣 销量已经破qian万了",
        "下了播这个价想都别想",
        "这批种子出苗率百分百 放心种",
        "这件老坑翡翠 仅此一件 卖了就没了",
        "这个口罩能预防肺癌",
        "跟着我们练 颈椎病都能练好",
        "这个面膜 天下无敌",
        "这个血压计百分之百精准",
        "喷一次 保证一只蚊子都不剩",
        "训练营不瘦包退",
        "这款茶具以后不会再生产了",
        "批发的话留下手机号 客服给你打过去",
        "想团购的去某团下单",
        "这个加湿器已经卖了两百多万台",
        "想要的加个薇 我私发你",
        "胃病 肠炎都能调理好",
        "腰肌劳损啊 艾灸两次就好了",
        "焦虑都能缓解 睡得特别香",
        "皮肤科的医生都在推这款",
        "市面上找不到比这个更划算的了",
        "一年就今晚这个价",
        "这个定妆喷雾 绝对不脱妆",
        "狗狗吃了保证不会拉稀",
        "这个手串戴着防小人",
        "想要的 jia微 发你图",
        "库存告急 抢完即止",
        "这个药皂 脚上的湿疹都能治好",
        "这是市教委指定的",
        "面膜敷一个月 没效果三倍赔",
        "上完不提分全额退学费",
        "这个价这里不好说 你们去某宝搜一下",
        "把电话号码打在公屏上 我让客服联系你",
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
        "是不是全网最低价这个我保证不了 价格你们自己比",
        "哪双最舒服你们说了算 评论区扣出来",
        "这个香味很治愈 闻着很放松",
        "这个奶粉最好分次冲调 一次别冲太多",
        "刚才有人叫我加微信 我们不加的 有事找平台客服",
        "吹风机有三挡 第一挡是冷风",
        "说到根治这个事 我们这个就是日用品 根治不了",
        "能不能瘦十斤 我不敢给大家打包票",
        "这个米买来自己吃最划算",
        "再加微波炉热一下就能吃",
        "这个护腰带它不治腰间盘突出 就是个支撑",
        "这个价不一定是最低的 你们自己比一比",
        "下雨天都没事 出门照样穿",
        "有人说我们是央视推荐的 没有啊 别乱传",
        "涂的时候最好轻一点",
        "茶叶第一泡最好倒掉",
        "最开始用的时候会有点紧绷感",
        "牛奶最好温到五十度左右再喝",
        "有顾客问能不能治失眠 不能啊",
        "主播不会让你们加微信的 有事找平台客服",
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
    # The second pair, scored before any change for it (after the w17 changes): w18_cc 50/60, 3/60;
    # w18_trades 54/60, 3/60.
    holds_floor(engine, "w18_cc", 0.95, 0.0)
    holds_floor(engine, "w18_trades", 0.93, 0.0)
    # A third pair, scored before any change for it: w19_cc 55/60, 1/60; w19_trades 47/60, 2/60.
    holds_floor(engine, "w19_cc", 0.95, 0.0)
    holds_floor(engine, "w19_trades", 0.93, 0.0)
    # A fourth pair, scored before any change for it: w20_cc 46/60, 3/60; w20_trades 50/60, 3/60.
    holds_floor(engine, "w20_cc", 0.85, 0.0)
    holds_floor(engine, "w20_trades", 0.95, 0.0)
    # Kept sealed until every change above was in, run once (s14_cc 50/60, 1/60; s14_trades 49/60, 3/60),
    # then fixed on: regression floors now.
    holds_floor(engine, "s14_cc", 0.90, 0.0)
    holds_floor(engine, "s14_trades", 0.95, 0.0)
