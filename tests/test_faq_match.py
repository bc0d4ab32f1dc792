"""Normalization, the question gate, matching and abstention (bot/faq/normalize.py, gate.py, matcher.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.faq import FaqStore
from bot.faq.cli import evaluate, read_tsv
from bot.faq.normalize import split_pinyin

DATA = Path(__file__).parent / "data"
DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "faq"
if not DEV.exists():  # a worktree lives one level deeper than a clone
    DEV = Path("/work/shared/data/faq")

SHOP = """
[[faq]]
id = "return_policy"
question = "怎么申请退货？"
answer = "在订单页点申请售后选择退货，按页面地址寄回即可。"
short = "订单页申请售后选退货"
examples = ["怎么退货", "退货流程是什么", "退货地址在哪"]

[[faq]]
id = "free_shipping"
question = "包邮吗？偏远地区包邮吗？"
answer = "全场包邮；新疆、西藏等偏远地区补运费10元。"
examples = ["包邮吗", "新疆包邮吗", "运费多少"]

[[faq]]
id = "courier"
question = "发什么快递？"
answer = "默认中通，顺丰需补差价。"
examples = ["发什么快递", "能发顺丰吗"]

[[faq]]
id = "shipping_insurance"
question = "有运费险吗？"
answer = "下单即送运费险。"
examples = ["带运费险吗", "退货运费谁承担"]

[[faq]]
id = "shelf_life"
question = "保质期多久？"
answer = "保质期12个月。"
examples = ["保质期多久", "生产日期是什么时候"]

[[faq]]
id = "warranty"
question = "保修多久？"
answer = "整机保修一年。"
examples = ["保修多久", "坏了保修吗"]

[[faq]]
id = "delivery_time"
question = "发货后几天能到？"
answer = "江浙沪1-2天，其他3-5天。"
examples = ["几天能到", "到北京要几天"]

[[faq]]
id = "invoice"
question = "可以开发票吗？"
answer = "可开电子发票。"
examples = ["能开发票吗", "发票怎么开"]

[[faq]]
id = "coupon"
question = "优惠券怎么领？"
answer = "购物袋里领券。"
examples = ["优惠券在哪领", "领不到券"]

[[faq]]
id = "contact_service"
question = "怎么联系客服？"
answer = "点客服按钮。"
examples = ["怎么联系客服", "客服在哪"]
"""


def _store_from(tmp_path_factory: pytest.TempPathFactory, name: str, text: str) -> FaqStore:
    """An FAQ store loaded from `text` written to a fresh file (a module's fixtures share one shape)."""
    path = tmp_path_factory.mktemp("faq") / f"{name}.toml"
    path.write_text(text, "utf-8")
    return FaqStore.load(path)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FaqStore:
    return _store_from(tmp_path_factory, "shop", SHOP)


# --- each normalization: the variant reaches the same entry as the plain form ---------------------


@pytest.mark.parametrize(
    ("text", "faq_id"),
    [
        ("怎么退货", "return_policy"),
        ("怎么退货？！", "return_policy"),
        ("ｈｏｗ ｔｏ ｒｅｔｕｒｎ ｐｌｓ", "return_policy"),  # full width
        ("HOW TO RETURN PLS", "return_policy"),  # case + English
        ("退貨怎麼弄", "return_policy"),  # traditional -> simplified
        ("主播怎么退获啊啊啊啊", "return_policy"),  # address, homophone typo, repeated characters
        ("怎么退货😭😭🙏", "return_policy"),  # emoji
        ("[doge]怎么退货[笑哭]", "return_policy"),  # platform emote codes
        ("@小助手 怎么退货", "return_policy"),  # mention
        ("怎么退货 宝宝们", "return_policy"),  # trailing chatter word does not break it
        ("tui huo zen me tui", "return_policy"),  # pinyin with spaces
        ("bao you ma", "free_shipping"),  # pinyin
        ("baoyou吗", "free_shipping"),  # pinyin without spaces
        ("包油不包油", "free_shipping"),  # homophone + A-not-A
        ("西藏包邮不", "free_shipping"),
        ("发sf吗", "courier"),  # abbreviation
        ("可以发京东吗", "courier"),  # class: another courier company
        ("有yfx吗", "shipping_insurance"),  # abbreviation
        ("退货邮费谁出", "shipping_insurance"),  # synonyms 邮费=运费, 谁出=谁承担
        ("bzq多久", "shelf_life"),
        ("保質期幾個月", "shelf_life"),  # traditional + 几个月=多久
        ("保固多久", "warranty"),  # Taiwan word
        ("warranty多久", "warranty"),
        ("到广州几天", "delivery_time"),  # class: another city
        ("how long shipping to shanghai", "delivery_time"),  # English + pinyin place name
        ("fa piao zen me kai", "invoice"),
        ("領不到卷", "coupon"),  # typo 卷=券
        ("kefu在哪", "contact_service"),
    ],
)
def test_normalized_variants_match(store: FaqStore, text: str, faq_id: str) -> None:
    m = store.match(text)
    assert m.faq_id == faq_id, m.why


def test_single_char_synonym_only_as_a_word(store: FaqStore) -> None:
    a = store.matcher.analyzer
    assert "优惠券" in a.analyze("领不到卷").units
    assert "优惠券" not in a.analyze("蛋卷好吃吗").units  # 卷 inside 蛋卷 is not a coupon
    assert "破损" not in a.analyze("破壁机好用吗").units  # 破 inside 破壁机 is not damage


def test_lone_verb_before_complement_keeps_its_meaning(store: FaqStore) -> None:
    a = store.matcher.analyzer
    assert "退货" in a.analyze("能退吗").units
    assert "退货" not in a.analyze("退到哪里").units


def test_clean_steps() -> None:
    from bot.faq.normalize import Analyzer

    clean, emoji = Analyzer.clean("主播ＡＢＣ好好好好看！！！😍")
    assert clean == "abc好好看!" and emoji == ("😍",)
    assert Analyzer.clean("亲，包邮吗")[0] == ",包邮吗"  # NFKC: full-width comma -> ","
    assert Analyzer.clean("亲子装包邮吗")[0] == "亲子装包邮吗"  # 亲 only as an address on its own
    assert Analyzer.clean("1111111")[0] == "1111111"  # digits are never collapsed (prices, numbers)


def test_split_pinyin() -> None:
    assert split_pinyin("kefu") == ["ke", "fu"]
    assert split_pinyin("xian") == ["xian"]
    assert split_pinyin("sf") is None and split_pinyin("pls") is None


# --- the question gate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("包邮吗", "question"),
        ("包邮不包邮", "question"),
        ("能退不", "question"),
        ("快递到了饼干全碎了", "question"),  # a problem report
        ("客服一直不回", "question"),
        ("想换个颜色", "question"),  # a request
        ("取消订单", "keyword"),
        ("打卡", "keyword"),
        ("发货真快", "statement"),
        ("运费险真香", "statement"),
        ("已经退了", "statement"),
        ("券已领", "statement"),
        ("退货退款都很顺利 好评", "statement"),
        ("炸锅用了一年没坏 保修都没用上", "statement"),  # a negated problem is good news
        ("质量不错", "statement"),
        ("衣服不喜欢 想退", "question"),  # negated praise is no praise
        ("sf yyds", "statement"),
        ("来了来了", "statement"),
        ("发货怎么这么快", "statement"),  # praise in question form
        ("主播几岁了", "statement"),  # a question to the anchor as a person is chatter
        ("主播用的什么手机呀", "statement"),
        ("主播家的狗叫什么", "statement"),
        ("你有男朋友吗", "statement"),
        ("主播家的狗粮保质期多久", "question"),  # 主播家 is the shop: its goods are asked about
        ("主播发什么快递", "question"),
        ("你们家包邮吗", "question"),
        ("碎的那个客服已经补发了", "statement"),  # a problem already put right
        ("退款到账了 谢谢", "statement"),
        ("补发了吗", "question"),
        ("能给我发sf不", "question"),  # 不 after an English word the vocabulary rewrote (sf: 顺丰)
        ("发货 不", "question"),
        ("不", "keyword"),  # the particle alone asks nothing
        ("正品就是不一样", "statement"),  # praise
    ],
)
def test_gate(store: FaqStore, text: str, kind: str) -> None:
    _, gate = store.matcher.analyze(text)
    assert gate.kind == kind, str(gate)


def test_statements_with_faq_words_are_never_answered(store: FaqStore) -> None:
    for text in ("发货真快", "运费险真香", "包邮太良心了", "已经退了", "客服态度很好👍", "顺丰就是快"):
        m = store.match(text)
        assert m.faq_id is None and m.reason == "statement" and not m.question_like, text


# --- abstention ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["多少钱", "能用花呗吗", "孕妇能吃吗", "几号链接", "还有库存吗", "how much", "主播好美", "666", "？？？", ""],
)
def test_abstains(store: FaqStore, text: str) -> None:
    m = store.match(text)
    assert m.faq_id is None and m.entry is None, m.why


def test_abstention_carries_best_guess_and_reason(store: FaqStore) -> None:
    m = store.match("还有库存吗")
    assert m.faq_id is None and m.question_like and m.reason in ("no_content", "below_threshold", "ambiguous")
    m = store.match("？？？")
    assert m.faq_id is None and not m.question_like  # nothing to show ops
    m = store.match("打卡")
    assert m.faq_id is None and not m.question_like  # chatter: silent


def test_keyword_message_must_say_most_of_a_phrase(store: FaqStore) -> None:
    assert store.match("联系客服").faq_id == "contact_service"
    assert store.match("保修").faq_id is None or store.match("保修").faq_id == "warranty"
    m = store.match("北京")  # a place alone is not a question about delivery
    assert m.faq_id is None


def test_why_explains(store: FaqStore) -> None:
    m = store.match("发sf吗")
    assert "courier" in m.why and "顺丰" in m.why and m.runner_up != "courier"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_hostile_text_never_raises(text: str) -> None:
    m = _hostile_store().match(text)
    assert m.faq_id is None or isinstance(m.faq_id, str)
    assert 0.0 <= m.score <= 1.0 + 1e-9


_HOSTILE: list[FaqStore] = []


def _hostile_store() -> FaqStore:
    if not _HOSTILE:
        _HOSTILE.append(FaqStore.load(DATA / "faq_clothing.toml"))
    return _HOSTILE[0]


def test_long_and_odd_input(store: FaqStore) -> None:
    for text in ("包邮吗" * 10_000, "\x00\x01包邮吗\u200b\ufeff", "a" * 5000, "🙏" * 3000, "[" * 500 + "]" * 500):
        store.match(text)


# --- how a message is read -------------------------------------------------------------------------------


def test_pinyin_initials_read_as_the_faqs_own_words(store: FaqStore) -> None:
    a = store.matcher.analyzer
    assert "发票" in a.analyze("能开fp吗").units  # the shipped table
    assert "优惠券" in a.analyze("yhq怎么领").units  # initials of a word the FAQ uses
    assert "保质期" in a.analyze("bzq多久").units
    assert "可改" not in a.analyze("60kg穿多大").units  # a unit after a number is no abbreviation
    assert store.match("yhq在哪领").faq_id == "coupon"


GIFT_SHOP = """
[[faq]]
id = "gift"
question = "有赠品吗？"
answer = "满50盒送喜字贴一套。"
examples = ["送什么", "有赠品吗"]

[[faq]]
id = "moq"
question = "多少盒起订？"
answer = "10盒起订。"
"""


def test_an_initialism_reads_as_the_shops_own_word_when_it_never_uses_the_tables(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # zp is 正品 in the shipped table; a shop that sells no 正品 and gives a 赠品 means the gift
    shop = _store_from(tmp_path_factory, "gift_shop", GIFT_SHOP)
    assert "赠品" in shop.matcher.analyzer.analyze("zp有吗").units
    assert shop.match("zp有啥").faq_id == "gift"


def test_an_initialism_keeps_the_tables_reading_when_the_shop_uses_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # a shop that speaks of 正品 too reads zp as the shipped table does
    both = GIFT_SHOP + '\n[[faq]]\nid = "authentic"\nquestion = "是正品吗？"\nanswer = "品牌授权，正品保证。"\n'
    shop = _store_from(tmp_path_factory, "both_shop", both)
    assert "正品" in shop.matcher.analyzer.analyze("是zp吗").units
    assert shop.match("是zp吗").faq_id == "authentic"


def test_a_measure_only_one_entry_states_is_that_entrys_question() -> None:
    # 大的多重啊 女生拎得动吗: the words find only 多重 (a question word), but one entry alone states a
    # weight, and the encoder hears that entry too
    from bot.faq import semantic

    shop = FaqStore.load(DATA / "faq_w18a.toml")
    shop.wait_semantic()
    m = shop.matcher
    weights = m.message_weights(*m.analyze("大的多重啊 女生拎得动吗"))
    assert m._sole_measure(weights) == "weight"
    assert m._sole_measure(m.message_weights(*m.analyze("能带电磁炉吗"))) is None  # no measure asked
    if semantic.disabled_reason() is None:
        assert shop.match("大的多重啊 女生拎得动吗").faq_id == "weight"


def test_arriving_and_which_one(store: FaqStore) -> None:
    a = store.matcher.analyzer
    assert "到货" in a.analyze("到北京要几天").units  # 到 before a place: arriving there
    assert "到货" in a.analyze("几天能到").units
    assert "到账" in a.analyze("退的钱什么时候到").units  # money arrives in an account
    assert "到货" not in a.analyze("退到哪里").units
    assert "什么时候" not in a.analyze("几号链接").units  # which one, not which day
    assert "什么时候" in a.analyze("几号发货").units


def test_english_names_weigh_in_chinese_messages(store: FaqStore) -> None:
    # an English word nobody knows is what the message is about: no entry explains it
    assert store.match("python课能退货吗").faq_id is None
    assert store.match("how to return").faq_id == "return_policy"  # an English message reads as before


# --- labelled sets: the dev set (when present) and a second merchant written before tuning ------------


def _figures(faq: Path, tsv: Path):
    rows, bad = read_tsv(str(tsv))
    assert not bad
    return evaluate(FaqStore.load(faq), rows)


@pytest.mark.skipif(not (DEV / "faq.toml").exists(), reason="dev set not present")
def test_dev_set_targets() -> None:
    res = _figures(DEV / "faq.toml", DEV / "questions.tsv")
    assert res.accuracy >= 0.92, res.confusion
    assert res.false_rate <= 0.03, res.confusion


def test_second_merchant_generalizes() -> None:
    res = _figures(DATA / "faq_clothing.toml", DATA / "questions_clothing.tsv")
    assert res.accuracy >= 0.92, res.confusion
    assert res.none_answered == 0 and res.wrong <= 1, res.confusion


# Merchants unlike the dev shop, written before the matcher was changed for them (home goods after,
# as a blind check). Targets sit a little under the measured figures (README "FAQ answers"): they
# catch a regression, they are not what the matcher is tuned to.
@pytest.mark.parametrize(
    ("name", "min_right", "max_none_answered"),
    [
        ("fruit", 0.92, 0.03),  # fresh fruit: 坏果包赔, 冷链, 签收; 18 entries, several without examples
        ("gadgets", 0.94, 0.03),  # phone accessories: 保修, 换新, 兼容型号, 发票
        ("toys", 0.92, 0.06),  # children's books and toys: 年龄, 零件, 正版
        ("home", 0.77, 0.07),  # home goods: 床品, 置物架 (the blind one)
        ("pets", 0.92, 0.03),  # pet supplies: 幼猫, 换粮, 猫砂, 试吃装 (faq3 development set)
        ("course", 0.85, 0.07),  # online course, virtual goods: 激活码, 不发货, 回放 (faq3 development set)
        # jewellery: 证书, 回收, 圈口, 刻字; sealed during the faq3 work, run once when it was done:
        # 44/62 right (71.0%), 0/31 NONE answered. The target is that blind figure, not a tuned one.
        ("jewellery", 0.68, 0.04),
        # written for the faq4 work before any change; first run with the words alone: tea 42/53
        # (79.2%) 1/24, car 35/49 (71.4%) 0/25, seafood 34/46 (73.9%) 3/24. Targets a little under
        # the figures with the sentence encoder's second opinion (docs/faq.md).
        ("tea", 0.83, 0.05),  # tea: 新茶, 冲泡, 保存, 农残, 品鉴装
        ("car", 0.73, 0.03),  # car accessories: 车型, 安装, 记录仪, 停车监控
        ("seafood", 0.76, 0.09),  # frozen and live seafood: 冷链, 净重, 活蟹, 保水剂
        # flowers and plants: 醒花, 花苞, 带盆, 对猫有毒; sealed during the faq4 work, run once when it
        # was done: 34/46 right (73.9%), 0/24 NONE answered (before faq4: 30/46, 0/24). Blind target.
        ("flowers", 0.70, 0.03),
        # written for the faq5 work before any change; first run (words + encoder): formula 31/40
        # (77.5%) 2/21, shoes 22/38 (57.9%) 2/20, air conditioners 25/34 (73.5%) 1/19. Targets a
        # little under the figures after it (docs/faq.md).
        ("formula", 0.82, 0.05),  # infant formula: 段位, 转奶, 冲泡, 集罐
        ("shoes", 0.70, 0.06),  # women's shoes: 尺码, 真皮, 跟高, 磨脚, 开胶
        ("appliance", 0.82, 0.03),  # air conditioners: 安装, 匹数, 能效, 以旧换新, 国补
        # glasses: 配度数, 瞳距, 镜片; sealed during the faq5 work, run once when it was done: 28/35
        # right (80.0%), 0/19 NONE answered (before faq5: 25/35, 0/19). Blind target.
        ("glasses", 0.77, 0.03),
        # written by a separate writer who never saw the bot; first run (words + encoder): children's
        # bikes 46/55 (83.6%) 1/25, bakery 47/55 (85.5%) 1/25. Targets a little under the figures.
        ("w7a", 0.81, 0.03),  # children's bikes and scooters: 尺寸, 组装, 折叠, 承重
        ("w7b", 0.83, 0.05),  # bakery: 蛋糕尺寸, 预订, 冷链, 无糖, 复热
        # by the same kind of writer, a round later; first run (words + encoder): pet food 45/55
        # (81.8%) 1/25, gym vouchers 38/55 (69.1%) 1/25; chat's vocatives (宝子们) since: 46/55, 39/55
        ("w10a", 0.81, 0.05),  # pet food and cat litter: 开封保存, 换粮, 喂食量, 猫砂冲厕
        ("w10b", 0.69, 0.05),  # gym and class vouchers: 核销, 预约, 冻结, 门店, 次卡退款
        # a round later again, first run (words + encoder): picture books 45/55 (81.8%) 0/25, seafood
        # 45/55 (81.8%) 1/25, no change since. Targets a little under the figures.
        ("w11a", 0.80, 0.05),  # picture books and toys: 适龄, 3C, 正版, 点读笔
        ("w11b", 0.80, 0.05),  # cold-chain seafood: 死了, 化冻, 净重, 冰衣, 无人签收
        # the same round's sealed merchants, run once at its end (eyeglasses 51/55, 2/25; furniture
        # 50/55, 0/25), now guarding against regressions
        ("s11a", 0.90, 0.08),  # eyeglasses and contact lenses: 验光, 瞳距, 度数, 镜框尺寸
        ("s11b", 0.87, 0.04),  # furniture and mattresses: 送货上门, 安装, 尺寸, 拉走旧床
        # a round later, first run (words + encoder): phone accessories 45/55 (81.8%) 1/25, tea shop
        # 44/55 (80.0%) 0/25; after-sales vocabulary since (kd, 人工, 寄回去, 裂纹, 满减): 49/55, 46/55
        ("w12a", 0.85, 0.05),  # phone accessories: 机型, 兼容, 快充, 充电宝上飞机, 贴膜
        ("w12b", 0.80, 0.04),  # tea: 保存, 冲泡, 保质期, 礼盒, 企业定制
        # the same round's second pair, first run: cosmetics 48/55 (87.3%) 2/25, kitchen appliances
        # 49/55 (89.1%) 0/25; zp, 买贵了, 开了盖 in the vocabulary since: 50/55, 49/55
        ("w13a", 0.87, 0.08),  # cosmetics: 色号, 肤质, 保质期, 小样, 正品, 使用顺序
        ("w13b", 0.85, 0.04),  # kitchen appliances: 电压, 配件, 首次使用, 容量, 清洗, 涂层
        # sealed until the round's changes were in, run once (dresses 47/55, 3/25; diapers and formula
        # 43/55, 1/25); 小红点, pp红 and 标签拆了 in the vocabulary since: 48/55, 43/55
        ("s12a", 0.85, 0.12),  # women's clothing: 尺码, 面料, 洗涤, 缩水掉色, 透不透
        # (2/25 since both voices may answer on agreement: 几号链接是纸尿裤 now gets the size entry)
        ("s12b", 0.76, 0.08),  # diapers and formula: 段位, 效期, 正品, 尺码, 开罐保存, 过敏
        # a round later, first run (words + encoder): fitness gear 46/55 (83.6%) 0/25, fresh meat and frozen
        # dumplings 35/55 (63.6%) 4/25; 化冻, 发绿, 弄干净, 送东西 and a 不 after a space since: 48/55, 37/55
        ("w14a", 0.85, 0.03),  # fitness and yoga gear: 重量, 尺寸, 组装, 异味, 清洗
        ("w14b", 0.65, 0.17),  # fresh meat and dumplings: 解冻, 冷链, 净重, 检疫, 化了还能吃吗
        # the same round's second pair, first run: handbags 49/55 (89.1%) 2/25, supplements 50/55 (90.9%)
        # 1/25; 厚实 as praise, 喂奶期间 (哺乳期) and a class of who may use it since: 49/55 1/25, 51/55 1/25
        ("w15a", 0.87, 0.05),  # handbags and wallets: 皮质, 尺寸, 正品, 保养, 维修
        ("w15b", 0.90, 0.05),  # supplements sold as food: 用量, 人群, 保质期, 不是药
        # the same round's sealed merchants, run once at its end (men's shoes 49/55, 3/25; houseplants 42/55,
        # 1/25); 胶水味 (异味) and 就是不一样 as praise since: 50/55 2/25, 42/55 1/25
        ("s13a", 0.88, 0.09),  # men's shoes and sneakers: 尺码, 正品, 鞋底, 清洗, 运费险
        ("s13b", 0.74, 0.05),  # houseplants: 活体运输, 带盆, 浇水, 光照, 到货死苗
        # a third pair the same round, first run after all of the above: toys and blocks 50/55 (90.9%) 0/25,
        # bedding 45/55 (81.8%) 1/25; 破洞, 污渍, 线开了 (损坏) since: 50/55, 46/55
        ("w16a", 0.89, 0.03),  # toys and building blocks: 适龄, 零件, 电池, 安全
        ("w16b", 0.81, 0.05),  # bedding: 尺寸, 洗涤, 面料, 缩水, 起球
        # a round later, first run (words + encoder): water purifiers 43/55 (78.2%) 3/25, cat trees and
        # feeders 43/55 (78.2%) 4/25, study desks and lamps 36/55 (65.5%) 1/25, second-hand phones 49/55
        # (89.1%) 3/25; both voices answering on agreement and the anchor's day (主播吃饭了吗) since
        ("w17a", 0.80, 0.08),  # water purifiers: 安装, 滤芯周期, 水质, 租赁, 600G/1000G
        ("w17b", 0.78, 0.12),  # cat trees and smart feeders: 承重, 剑麻, 喂食量, 断电
        ("w17c", 0.72, 0.04),  # study desks and lamps: 升降, 桌面尺寸, 频闪, 甲醛
        ("w17d", 0.87, 0.12),  # second-hand phones and tablets: 成色, 电池健康, 验机, 以旧换新
        # the same round's second pair, first run after the w17 changes: portable power stations 34/55
        # (61.8%) 3/25, wedding candy boxes 37/55 (67.3%) 1/25; 出库, 灰机, 加急, 起订, 碎成渣 and an
        # initialism read as the shop's own word (zp: 赠品 where no 正品 is sold) since: 36/55, 43/55
        ("w18a", 0.65, 0.12),  # portable power stations: 容量, 充电方式, 带什么电器, 上飞机
        ("w18b", 0.78, 0.04),  # wedding candy and gift boxes: 定制印字, 起订量, 保质期, 加急
        # a third pair, first run after all of the above: lingerie 37/55 (67.3%) 2/25, power tools 43/55
        # (78.2%) 2/25; buying as context (刚拍, 买回来) and weekdays as a time asked since: 38/55, 44/55
        ("w19a", 0.67, 0.08),  # lingerie: 尺码换算, 钢圈, 面料, 洗护, 隐私包装
        ("w19b", 0.78, 0.08),  # power tools: 电池通用, 打墙, 扭力, 角磨片, 首次充电
        # a fourth pair, first run after all of the above: farm fruit 33/55 (60.0%) 3/25, exam-prep courses
        # 42/55 (76.4%) 1/25; 作废, 烂的, 含糖量, 兑换码, 分几个月, 没网, 同时登 and 到支付宝 since: 36/55, 47/55
        ("w20a", 0.65, 0.12),  # farm fruit: 坏果包赔, 甜度, 保存, 到货时效, 取消订单
        ("w20b", 0.85, 0.04),  # exam-prep course memberships: 激活码, 有效期, 多设备, 退费, 讲义
        # the round's sealed merchants, run once at its end (men's skincare 43/55, 1/25; nut gift boxes
        # 43/55, 2/25); wl (快递) and 哈喇味 / 发苦 (变质) since: 43/55, 46/55
        ("s14a", 0.78, 0.04),  # men's skincare and shavers: 肤质, 使用顺序, 刀头, 防水, 敏感肌
        ("s14b", 0.83, 0.08),  # nut gift boxes: 保质期, 过敏原, 团购, 定制logo, 坏果
    ],
)
def test_unseen_merchants(name: str, min_right: float, max_none_answered: float) -> None:
    res = _figures(DATA / f"faq_{name}.toml", DATA / f"questions_{name}.tsv")
    assert res.none_total >= 0.3 * (res.none_total + res.answerable)  # the set keeps its share of NONE
    assert res.accuracy >= min_right, res.confusion
    assert res.false_rate <= max_none_answered, res.confusion


# --- what generalizes to FAQs with few or no examples -------------------------------------------------

THIN = """
[[faq]]
id = "shipping_fee"
question = "包邮吗？"
answer = "全国包邮；新疆、西藏需补运费15元，港澳台暂不发货。"

[[faq]]
id = "ship_time"
question = "什么时候发货？"
answer = "付款后48小时内发货。"
examples = ["今天能发吗"]

[[faq]]
id = "genuine"
question = "是原装正品吗？"
answer = "品牌授权正品，包装上有防伪码，可在官网查询。"

[[faq]]
id = "gift_box"
question = "有礼盒装吗？"
answer = "礼盒装在2号链接，包裹里不放价格单。"

[[faq]]
id = "pairing"
question = "蓝牙耳机怎么连接？"
answer = "打开充电盒自动配对，连不上就长按3秒重置。"

[[faq]]
id = "set_contents"
question = "一套有几本？"
answer = "全套10册，附导读手册。"

[[faq]]
id = "damaged"
question = "收到破损怎么办？"
answer = "签收48小时内拍照联系客服，补发或退款。"

[[faq]]
id = "invoice"
question = "能开发票吗？"
answer = "确认收货后联系客服开电子发票。"

[[faq]]
id = "contact_service"
question = "怎么联系客服？"
answer = "点商品页右下角的客服按钮。"
"""


@pytest.fixture(scope="module")
def thin(tmp_path_factory: pytest.TempPathFactory) -> FaqStore:
    return _store_from(tmp_path_factory, "thin", THIN)


@pytest.mark.parametrize(
    ("text", "faq_id"),
    [
        ("西藏要加钱吗", "shipping_fee"),  # the answer names 西藏 and a fee; the question neither
        ("运费多少钱", "shipping_fee"),  # an answer with an amount answers 多少钱
        ("多少钱包邮", "shipping_fee"),  # not 钱包: table words keep their edges
        ("有防伪码吗", "genuine"),
        ("耳机连不上咋办", "pairing"),
        ("怎么找客服", "contact_service"),  # 联系客服 in other answers is boilerplate, not evidence
    ],
)
def test_answer_text_is_evidence(thin: FaqStore, text: str, faq_id: str) -> None:
    m = thin.match(text)
    assert m.faq_id == faq_id, m.why


@pytest.mark.parametrize(
    "text",
    [
        "几号链接",  # an answer that mentions a 链接 does not say which one; 链接 is no typo of 连接
        "多少钱一套",  # a price question next to 一套有几本
        "主播好美",
    ],
)
def test_answer_text_does_not_answer_other_questions(thin: FaqStore, text: str) -> None:
    m = thin.match(text)
    assert m.faq_id is None, m.why


# --- what the message asks outweighs the topic it names -------------------------------------------------

ASKS = """
[[faq]]
id = "courier"
question = "发什么快递？"
answer = "默认圆通，不能指定快递。"
examples = ["能发顺丰吗"]

[[faq]]
id = "shipping_fee"
question = "包邮吗？"
answer = "满49包邮；青海、宁夏补运费8元，港澳台不发货。"

[[faq]]
id = "delivery_time"
question = "发货后几天能到？"
answer = "华东次日达，其他地区2-4天。"

[[faq]]
id = "ship_time"
question = "什么时候发货？"
answer = "当天16点前付款当天发。"

[[faq]]
id = "damaged"
question = "收到破损怎么办？"
answer = "拍照联系客服补发。"

[[faq]]
id = "warranty"
question = "保修多久？"
answer = "整机保修两年。"

[[faq]]
id = "download"
question = "视频能下载吗？"
answer = "可以缓存离线看，不能导出文件。"

[[faq]]
id = "tutor"
question = "有人答疑吗？"
answer = "助教每天在群里答疑，作业当天批改。"

[[faq]]
id = "contact_service"
question = "客服在哪？"
answer = "商品页右下角。"
"""


@pytest.fixture(scope="module")
def asks(tmp_path_factory: pytest.TempPathFactory) -> FaqStore:
    return _store_from(tmp_path_factory, "asks", ASKS)


@pytest.mark.parametrize(
    ("text", "faq_id"),
    [
        ("快递到宁夏要加钱吗", "shipping_fee"),  # a fee question: the courier noun is context
        ("寄到青海运费多少", "shipping_fee"),
        ("到广州要几天", "delivery_time"),  # 到 + a place: arriving
        ("今天拍今天能发吗", "ship_time"),  # a day named: a when-question, not the courier entry
        ("快递压坏了", "damaged"),  # what went wrong, not the courier
        ("耳机坏了保修吗", "warranty"),  # the damage is the condition, the warranty is asked
        ("作业谁批改", "tutor"),  # the answer names who
        ("怎么联系客服", "contact_service"),  # not the entry whose answer says 联系客服
        ("港澳台能发吗", "shipping_fee"),  # the answer that names 港澳台 itself
    ],
)
def test_what_is_asked_decides(asks: FaqStore, text: str, faq_id: str) -> None:
    m = asks.match(text)
    assert m.faq_id == faq_id, m.why


@pytest.mark.parametrize(
    "text",
    [
        "能用多久",  # a time asked: the download entry states none
        "快递多重",  # a weight asked: nobody states one
        "主播用的什么耳机",  # the anchor as a person
        "破了的已经补发了",  # put right already
        "photoshop能看吗",  # an English name no entry knows is what it asks about
    ],
)
def test_what_is_asked_must_be_answered(asks: FaqStore, text: str) -> None:
    m = asks.match(text)
    assert m.faq_id is None, m.why


# --- a day named makes a yes/no question a when-question -------------------------------------

DAYS = """
[[faq]]
id = "delivery_area"
question = "哪些地方不发货？"
answer = "偏远地区和港澳台暂不发货。"
examples = ["乡下能送到吗", "新疆能发吗"]

[[faq]]
id = "delivery_time"
question = "发货后几天到？"
answer = "江浙沪1-2天，其他地区3-5天。"
examples = ["几天能到"]

[[faq]]
id = "keeps"
question = "能放多久？"
answer = "冷冻可存放6个月。"

[[faq]]
id = "refreeze"
question = "化了还能再冻吗？"
answer = "不建议反复冻融。"
"""


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> FaqStore:
    return _store_from(tmp_path_factory, "days", DAYS)


@pytest.mark.parametrize(
    ("text", "faq_id"),
    [
        ("广州隔天能到吗", "delivery_time"),  # 隔天 asks when, not whether it ships there
        ("杭州第二天能送到吗", "delivery_time"),
    ],
)
def test_a_day_or_span_named_asks_when(days: FaqStore, text: str, faq_id: str) -> None:
    m = days.match(text)
    assert m.faq_id == faq_id, m.why
