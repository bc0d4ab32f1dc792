"""Rule packs: loading, merchant overrides by id, and bad packs reported without stopping the others."""

from pathlib import Path

import pytest

from rules import PackError, RuleEngine
from rules.packs import BUILTIN_DIR, expand_braces, load_packs

GOOD = """
[pack]
name = "merchant"

[[rule]]
id = "merchant.brand_words"
category = "absolute"
severity = "warn"
basis = "《广告法》第九条第三项"
suggestion = "说具体的卖点"
phrases = ["宇宙无敌"]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_packs_load_cleanly_and_are_big_enough():
    engine = RuleEngine.load()
    assert engine.errors == []
    categories = {r.category for r in engine.rules}
    assert {
        "absolute", "authority", "medical", "guarantee", "urgency_fraud", "offsite", "false_data",
        "superstition", "investment",
    } <= categories
    assert engine.phrase_count >= 500
    for rule in engine.rules:
        assert rule.basis and rule.suggestion
        assert "《" in rule.basis  # cites a law or regulation by name


def test_merchant_pack_adds_rules(tmp_path):
    engine = RuleEngine.load(["builtin", write(tmp_path, "m.toml", GOOD)])
    assert engine.errors == []
    (hit,) = engine.scan("这个锅宇宙无敌")
    assert (hit.rule, hit.severity) == ("merchant.brand_words", "warn")


def test_directory_of_packs(tmp_path):
    write(tmp_path, "a.toml", GOOD)
    engine = RuleEngine.load([tmp_path])
    assert [r.id for r in engine.rules] == ["merchant.brand_words"]


def test_override_builtin_rule_by_id(tmp_path):
    override = write(
        tmp_path,
        "override.toml",
        """
[[rule]]
id = "absolute.first_ranking"
category = "absolute"
severity = "info"
basis = "店铺内部规范"
suggestion = "我们店自己的说法"
phrases = ["第一"]
""",
    )
    engine = RuleEngine.load(["builtin", override])
    assert engine.errors == []
    (hit,) = engine.scan("这款是行业里排名第一")
    assert (hit.rule, hit.severity, hit.suggestion) == ("absolute.first_ranking", "info", "我们店自己的说法")
    # The override replaced the whole rule: its old phrases (全网第一) are gone with it.
    assert [h.phrase for h in engine.scan("全网第一")] == ["第一"]


def test_disable_builtin_rule_by_id(tmp_path):
    off = write(tmp_path, "off.toml", '[[rule]]\nid = "superstition.fortune"\nenabled = false\n')
    engine = RuleEngine.load(["builtin", off])
    assert engine.errors == []
    assert engine.scan("这个手串开过光能转运") == []
    assert RuleEngine.load().scan("这个手串开过光能转运") != []


@pytest.mark.parametrize(
    ("text", "rule", "reason"),
    [
        ("[[rule]\nid = 'x'", None, "invalid TOML"),
        (GOOD.replace('severity = "warn"\n', ""), "merchant.brand_words", "missing field 'severity'"),
        (GOOD.replace('basis = "《广告法》第九条第三项"\n', ""), "merchant.brand_words", "missing field 'basis'"),
        (GOOD.replace('severity = "warn"', 'severity = "fatal"'), "merchant.brand_words", "bad severity 'fatal'"),
        (GOOD.replace('phrases = ["宇宙无敌"]', "phrases = []"), "merchant.brand_words", "phrases"),
        (GOOD.replace('phrases = ["宇宙无敌"]', 'phrases = "宇宙无敌"'), "merchant.brand_words", "list"),
        (GOOD.replace("phrases =", "phrase ="), "merchant.brand_words", "unknown field(s) 'phrase'"),
        (GOOD.replace('category = "absolute"', 'category = "absolute"\nscopes = ["radio"]'), "merchant.brand_words",
         "bad scopes"),
        (GOOD.replace('id = "merchant.brand_words"\n', ""), None, "missing field 'id'"),
        (GOOD + GOOD.split("[pack]")[0] + GOOD.split('name = "merchant"')[1], "merchant.brand_words", "duplicate id"),
        (GOOD.replace("[[rule]]", "[[rules]]"), None, "unknown top-level key 'rules'"),
        (GOOD.replace('phrases = ["宇宙无敌"]', 'patterns = [{ regex = "加(", phrase = "x" }]'),
         "merchant.brand_words", "pattern"),
        (GOOD.replace('phrases = ["宇宙无敌"]', 'patterns = [{ regex = "加.微信", phrase = "加微信" }]'),
         "merchant.brand_words", "<word> macro"),
        (GOOD.replace('phrases = ["宇宙无敌"]', 'phrases = ["！！"]'), "merchant.brand_words", "empty once normalized"),
    ],
)
def test_bad_pack_is_reported_and_other_packs_keep_working(tmp_path, text, rule, reason):
    bad = write(tmp_path, "bad.toml", text)
    other_text = GOOD.replace("merchant.brand_words", "other.rule").replace("宇宙无敌", "全网最低价")
    other = write(tmp_path, "other.toml", other_text)
    engine = RuleEngine.load([other, bad])
    matching = [e for e in engine.errors if e.file == str(bad)]
    assert matching, engine.errors
    err = matching[0]
    assert isinstance(err, PackError)
    assert err.rule == rule
    assert reason in err.reason
    assert str(bad) in str(err) and reason in str(err) and "\n" not in str(err)
    # the other pack is unaffected
    assert [h.rule for h in engine.scan("今天全网最低价")] == ["other.rule"]


def test_duplicate_id_keeps_the_first_and_names_both(tmp_path):
    text = GOOD + GOOD.split("[pack]")[0] + GOOD.split('name = "merchant"')[1].replace("宇宙无敌", "银河第一")
    engine = RuleEngine.load([write(tmp_path, "dup.toml", text)])
    (err,) = engine.errors
    assert err.rule == "merchant.brand_words" and "rule #1" in err.reason
    assert engine.scan("宇宙无敌") != [] and engine.scan("银河第一") == []


def test_missing_path_and_non_utf8(tmp_path):
    latin = tmp_path / "latin1.toml"
    latin.write_bytes(GOOD.encode("utf-8") + b"\n# \xff\xfe\n")
    engine = RuleEngine.load([tmp_path / "nope.toml", latin, write(tmp_path, "ok.toml", GOOD)])
    reasons = {e.file: e.reason for e in engine.errors}
    assert "no such pack" in reasons[str(tmp_path / "nope.toml")]
    assert "not UTF-8" in reasons[str(latin)]
    assert engine.scan("宇宙无敌") != []


def test_one_bad_rule_does_not_sink_its_file(tmp_path):
    text = GOOD + """
[[rule]]
id = "merchant.broken"
category = "absolute"
severity = "loud"
basis = "b"
suggestion = "s"
phrases = ["银河第一"]
"""
    engine = RuleEngine.load([write(tmp_path, "half.toml", text)])
    assert [e.rule for e in engine.errors] == ["merchant.broken"]
    assert engine.scan("宇宙无敌") != []


def test_brace_expansion():
    assert expand_braces("{国家|政府}推荐") == ["国家推荐", "政府推荐"]
    assert expand_braces("最好{先|}") == ["最好先", "最好"]
    with pytest.raises(ValueError, match="limit"):
        expand_braces("{" + "|".join("abcdefghij") + "}" * 1 + "{" + "|".join("abcdefghij") + "}" * 1
                      + "{" + "|".join("abcdefghijk") + "}")


def test_builtin_dir_is_the_packaged_one():
    packset = load_packs(["builtin"])
    assert {Path(r.source).parent for r in packset.rules.values()} == {BUILTIN_DIR}
