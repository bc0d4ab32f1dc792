"""The FAQ file format: what is accepted, and errors that name the file, the entry and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.faq import FaqFileError, FaqStore, load_faq, parse_faq

GOOD = """
[[faq]]
id = "return_policy"
question = "怎么申请退货？"
answer = "在订单页点申请售后选择退货。"
short = "订单页申请售后"
examples = ["怎么退货", "退货流程"]
keywords = ["退货"]

[[faq]]
id = "ship_time"
question = "多久发货？"
answer = "付款后48小时内发货。"

[synonyms]
"破壁机" = ["料理机"]
[classes]
"商品" = ["养生壶"]
[cues]
praise = ["绝绝子"]
"""


def parse(text: str):
    return parse_faq(text.encode("utf-8"), "shop.toml")


def test_good_file_parses_with_optional_fields() -> None:
    faq = parse(GOOD)
    assert [e.id for e in faq.entries] == ["return_policy", "ship_time"]
    first, second = faq.entries
    assert (
        first.short == "订单页申请售后" and first.examples == ("怎么退货", "退货流程") and first.keywords == ("退货",)
    )
    assert second.short == "" and second.examples == () and second.keywords == ()
    assert faq.synonyms == {"破壁机": ("料理机",)} and faq.classes == {"商品": ("养生壶",)}
    assert faq.cues == {"praise": ("绝绝子",)}
    assert len(faq.digest) == 64


def test_shipped_dev_faq_loads() -> None:
    store = FaqStore.load(Path(__file__).parent / "data" / "faq_clothing.toml")
    assert len(store.entries) == 14


ENTRY = 'id = "a"\nquestion = "q"\nanswer = "x"\n'


@pytest.mark.parametrize(
    ("text", "entry", "field", "reason"),
    [
        ("[[faq]]\n" + ENTRY.replace('id = "a"\n', ""), "entry 1", "id", "missing value"),
        ("[[faq]]\n" + ENTRY.replace('"a"', '"Return-Policy"'), "entry 1", "id", "snake_case"),
        ("[[faq]]\n" + ENTRY + "[[faq]]\n" + ENTRY, "entry 2 (a)", "id", "duplicate id"),
        ("[[faq]]\n" + ENTRY.replace('question = "q"\n', ""), "entry 1 (a)", "question", "missing value"),
        ("[[faq]]\n" + ENTRY.replace('answer = "x"', 'answer = "  "'), "entry 1 (a)", "answer", "must not be empty"),
        ("[[faq]]\n" + ENTRY.replace('answer = "x"', "answer = 3"), "entry 1 (a)", "answer", "must be a string"),
        ("[[faq]]\n" + ENTRY + 'short = "' + "字" * 61 + '"\n', "entry 1 (a)", "short", "at most 60"),
        ("[[faq]]\n" + ENTRY + 'examples = "怎么退"\n', "entry 1 (a)", "examples", "list of strings"),
        ("[[faq]]\n" + ENTRY + 'examples = ["ok", ""]\n', "entry 1 (a)", "examples[1]", "non-empty"),
        ("[[faq]]\n" + ENTRY + 'answr = "typo"\n', "entry 1 (a)", "answr", "unknown key"),
    ],
)
def test_entry_errors_name_entry_and_field(text: str, entry: str, field: str, reason: str) -> None:
    with pytest.raises(FaqFileError) as info:
        parse(text)
    err = info.value
    assert (err.file, err.entry, err.field) == ("shop.toml", entry, field)
    assert reason in err.reason
    line = str(err)
    assert "\n" not in line and line.startswith(f"shop.toml: {entry}: {field}: ")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no [[faq]] entries"),
        (b"[[faq]\nid=1", "invalid TOML"),
        (b"\xff\xfe[[faq]]", "not UTF-8"),
        (b"faq = 3", "array of tables"),
        (b'title = "x"\n[[faq]]\nid="a"\nquestion="q"\nanswer="a"', "unknown top-level key 'title'"),
        (b"[[faq]]\n" + ENTRY.encode() + b"[cues]\nnonsense = []\n", "unknown cue list"),
        (b"[[faq]]\n" + ENTRY.encode() + b'[synonyms]\n"x" = "y"\n', "list of strings"),
    ],
)
def test_file_errors(data: bytes, reason: str) -> None:
    with pytest.raises(FaqFileError) as info:
        parse_faq(data, "shop.toml")
    assert reason in str(info.value) and str(info.value).startswith("shop.toml: ")


def test_missing_file_is_an_faq_error(tmp_path: Path) -> None:
    with pytest.raises(FaqFileError, match="cannot read"):
        load_faq(tmp_path / "nope.toml")


def test_faq_text_that_looks_like_pinyin_loads(tmp_path: Path) -> None:
    # latin words in an answer are read like viewer text at load time (damage reads as pinyin da ma ge)
    p = tmp_path / "f.toml"
    p.write_text('[[faq]]\nid = "a"\nquestion = "破损怎么办"\nanswer = "damage report: 拍照联系客服"\n', "utf-8")
    assert FaqStore.load(p).match("收到破损了").faq_id == "a"
