"""The engine generalizes: sound-alikes and look-alikes of any character, fillers inside a claim,
clause-wide negation, advice and questions, the exclusivity and free-urgency families, styled numerals,
and the blind batches under tests/data/rules_blind.

Every sentence here is new: in neither the dev set, nor the blind batches, nor the pack comments.
"""


import pytest

from rules import RuleEngine
from rules.cli import SAMPLE_DIR
from rules.evaluate import evaluate
from rules.packs import load_packs
from tests.rules_support import alarms, holds_floor


def only(engine: RuleEngine, text: str):  # type: ignore[no-untyped-def]
    hits = alarms(engine, text)
    assert len(hits) == 1, (text, hits)
    hit = hits[0]
    assert text[hit.start : hit.end] == hit.matched  # spans always index the original text
    return hit


# ---------------------------------------------------------------------------------- sound-alikes
@pytest.mark.parametrize(
    ("text", "phrase", "matched"),
    [
        ("这款锅今天是全网最低驾", "全网最低价", "全网最低驾"),  # 驾 for 价: no listed variant
        ("这个是权威机购认证的", "权威机构认证", "权威机购认证"),
        ("这款床垫是国家极的品质", "国家级", "国家极"),
        ("这个价格全 网 醉低价 了", "全网最低价", "全 网 醉低价"),  # inserted spaces, offsets kept
        ("那你加一下主播威新吧", "主播微信", "主播威新"),
    ],
)
def test_a_homophone_of_any_character_is_caught(engine, text, phrase, matched):
    hit = only(engine, text)
    assert (hit.phrase, hit.matched) == (phrase, matched)


def test_look_alike_characters_and_styled_numerals(engine):
    assert only(engine, "这个是笫一品牌的锅").phrase == "第一品牌"  # 笫 looks like 第
    assert only(engine, "今天上架第❶名的口红").matched == "第❶名"
    assert only(engine, "这是全网第⓵").phrase == "全网第一"
    assert alarms(engine, "这是第➀批货") == []  # an ordinal stays an ordinal whatever the digit's style


@pytest.mark.parametrize(
    "text",
    [
        "喝醉好难受",  # 醉好 sounds like 最好, but 喝醉 is the word
        "这个地一直很湿",  # 地一 sounds like 第一, but 一直 is the word
        "我弟一直用这个",
        "我们一定升职加薪",  # 升职 is a word of its own, not a slip for 升值
        "这个桌子是实木的",
    ],
)
def test_ordinary_words_do_not_collide(engine, text):
    assert alarms(engine, text) == []


# ---------------------------------------------------------------------------------- gaps
def test_fillers_inside_a_claim(engine):
    hit = only(engine, "全网都是我们家最低")
    assert (hit.phrase, hit.start, hit.end) == ("全网最低", 0, 9)
    assert only(engine, "我们这个枕头专家也都推荐").phrase == "专家推荐"
    assert only(engine, "这款米是国家都认证过的").phrase == "国家认证"


def test_gap_is_opt_in_and_bounded(tmp_path):
    pack = tmp_path / "p.toml"
    body = (
        '[grammar]\nfillers = ["都", "我们家"]\n'
        '[[rule]]\nid = "t.gap"\ncategory = "c"\nseverity = "warn"\nbasis = "b"\nsuggestion = "s"\n'
        'phrases = ["厂家直供"]\ngap = {gap}\n'
    )
    pack.write_text(body.replace("{gap}", "1"), encoding="utf-8")
    engine = RuleEngine.load([pack])
    assert [h.phrase for h in engine.scan("厂家都直供")] == ["厂家直供"]
    assert engine.scan("厂家都我们家直供") == []  # two fillers, the rule allows one
    pack.write_text(body.replace("{gap}", "0"), encoding="utf-8")
    assert RuleEngine.load([pack]).scan("厂家都直供") == []


# ---------------------------------------------------------------------------------- contexts
@pytest.mark.parametrize(
    "text",
    [
        "它不是药治不了病更谈不上根治",  # the denial reaches across the unpunctuated clause
        "它不是药，治不了病，更别提治愈",  # 治不了病 says it cannot cure: no cure claim in it
        "说实话这个治不好病的大家别信那些",
        "我们从来不说这个能治愈什么",
        "我们不敢打包票每个人都有效果",
        "有人说这个能治失眠那都是骗人的",
        "最好饭前半小时喝",  # advice
        "晚上最好睡前用",
        "你们觉得哪个味道最香",  # a question to viewers
        "宝妈们你们最纠结的是哪一点",
        "唯一的缺点是有点重",
    ],
)
def test_denials_advice_and_questions_are_innocent(engine, text):
    assert alarms(engine, text) == []


@pytest.mark.parametrize("text", ["这是我用过最好的", "这个味道最香", "这款效果最好", "专治多年的胃病", "能治好鼻炎"])
def test_the_same_words_as_claims_still_alarm(engine, text):
    assert alarms(engine, text)


def test_a_context_table_exempts_a_merchants_word(tmp_path):
    pack = tmp_path / "shop.toml"
    pack.write_text(
        '[[context]]\nname = "our-brand"\nrules = ["absolute."]\nphrases = ["顶级"]\n'
        'after = "(?:牧场)"\n',
        encoding="utf-8",
    )
    engine = RuleEngine.load(["builtin", pack])
    assert alarms(engine, "这是顶级牧场的奶") == []  # the shop's brand name, exempted by the pack
    assert alarms(engine, "这是顶级的奶")


# ---------------------------------------------------------------------------------- new families
@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("明天就涨回去了", "urgency.free_scarcity"),
        ("这一批库存紧张先到先得", "urgency.free_scarcity"),
        ("十几万人都在等这个补货", "false_data.frenzy"),
        ("只有我们家才有这个工艺", "absolute.exclusive"),
        ("这个口红全网独一份", "absolute.exclusive"),
        ("这个扫地机比其他牌子都好用", "absolute.exclusive"),
        ("我给你打包票这个不会坏", "guarantee.promise"),
    ],
)
def test_new_families(engine, text, rule):
    hit = only(engine, text)
    assert hit.rule == rule and hit.basis and hit.suggestion


# ---------------------------------------------------------------------------------- pack data
def test_pack_fields_are_validated(tmp_path):
    pack = tmp_path / "bad.toml"
    pack.write_text(
        '[grammar]\nnegatorz = ["不"]\n'
        '[lookalikes]\n"治" = "冶"\n'
        '[[context]]\nname = "x"\nrules = ["a."]\nbefore = "(("\n'
        '[[rule]]\nid = "a.one"\ncategory = "c"\nseverity = "warn"\nbasis = "b"\nsuggestion = "s"\n'
        'phrases = ["某某某"]\nphonetic = 1\n'
        '[[rule]]\nid = "a.two"\ncategory = "c"\nseverity = "warn"\nbasis = "b"\nsuggestion = "s"\n'
        'phrases = ["某某某"]\ngap = 9\n',
        encoding="utf-8",
    )
    errors = [str(e) for e in load_packs([pack]).errors]
    assert any("grammar.negatorz" in e for e in errors)
    assert any("lookalikes" in e for e in errors)
    assert any("context 'x'" in e and "bad regex" in e for e in errors)
    assert any("'a.one'" in e and "phonetic" in e for e in errors)
    assert any("'a.two'" in e and "gap" in e for e in errors)


def test_phonetic_off_means_exact_only(tmp_path):
    pack = tmp_path / "p.toml"
    rule = (
        '[[rule]]\nid = "t.p"\ncategory = "c"\nseverity = "warn"\nbasis = "b"\nsuggestion = "s"\n'
        'phrases = ["包治百病"]\n'
    )
    pack.write_text(rule, encoding="utf-8")
    assert [h.phrase for h in RuleEngine.load([pack]).scan("这个包治白病")] == ["包治百病"]
    pack.write_text(rule + "phonetic = 0\n", encoding="utf-8")
    assert RuleEngine.load([pack]).scan("这个包治白病") == []


# ---------------------------------------------------------------------------------- data sets
def test_the_sample_set_ships_with_the_package(engine):
    result = evaluate(engine, SAMPLE_DIR)
    assert result.violating >= 20 and result.benign >= 20
    assert result.recall >= 0.9 and result.false_alarm_rate <= 0.05


@pytest.mark.parametrize(
    ("batch", "recall", "false_alarms"),
    # Tuned on: targets a little under the figures after tuning (see docs/rules.md).
    [("cosmetics_clothing", 0.95, 0.03), ("trades", 0.94, 0.03)],
)
def test_tuned_blind_batches(engine, batch, recall, false_alarms):
    holds_floor(engine, batch, recall, false_alarms)


@pytest.mark.parametrize(
    ("batch", "recall", "false_alarms"),
    # Sealed: scored once, after all tuning; the targets are those first-run figures, rounded down
    # (88.6% / 0% and 86.7% / 0%, see docs/rules.md), so later changes cannot quietly lose ground.
    [("sealed_cosmetics_clothing", 0.88, 0.03), ("sealed_trades", 0.86, 0.05)],
)
def test_sealed_blind_batches_hold_their_first_run_figures(engine, batch, recall, false_alarms):
    holds_floor(engine, batch, recall, false_alarms)


def test_a_flood_of_sound_alikes_is_capped_and_counted():
    from rules.engine import MAX_ALIKE_CHECKS

    engine = RuleEngine.load()
    hits = engine.scan("醉火的" * 5000)
    assert 0 < len(hits) <= MAX_ALIKE_CHECKS
    assert engine.alikes_skipped == 1
    assert [h.matched for h in engine.scan("全网醉火的")] == ["醉火"]  # the next line is checked as usual


def test_eval_without_data_scores_the_installed_sample(capsys):
    from rules.cli import main

    assert main(["eval"]) == 0
    out = capsys.readouterr().out
    assert str(SAMPLE_DIR) in out and "recall:" in out and "false alarms:" in out
