"""FAQ file edits from the admin page: comments and layout kept, results validated by the loader."""

from __future__ import annotations

import pytest

from bot.faq.edit import add_chatter, add_example, update_entry
from bot.faq.faqfile import FaqFileError, parse_faq

FAQ = """# the shop's FAQ: keep this comment
[synonyms]
"包邮" = ["免邮"]

[[faq]]
id = "ship"   # when it ships
question = "什么时候发货？"
answer = "48小时内发货。"
examples = [
    "几天发货",  # the common way
]

[[faq]]
id = "invoice"
question = "能开发票吗？"
answer = "可以开电子发票。"
short = "可以开"
"""


def test_add_example_keeps_comments_and_layout() -> None:
    text, added = add_example(FAQ, "ship", "  啥时候发  ")
    assert added
    assert "# the shop's FAQ: keep this comment" in text and "# when it ships" in text and "# the common way" in text
    assert parse_faq(text.encode()).entry("ship").examples == ("几天发货", "啥时候发")  # type: ignore[union-attr]
    assert text.replace('"啥时候发"', "").count("\n") >= FAQ.count("\n")  # nothing else was dropped
    again, added = add_example(text, "ship", "啥时候发")
    assert not added and again == text
    text, added = add_example(FAQ, "invoice", "发票")  # an entry without examples gets the key
    assert parse_faq(text.encode()).entry("invoice").examples == ("发票",)  # type: ignore[union-attr]


def test_add_chatter_goes_before_the_tables() -> None:
    text, added = add_chatter(FAQ, "主播吃过吗")
    assert added
    faq = parse_faq(text.encode())
    assert faq.chatter == ("主播吃过吗",) and faq.synonyms == {"包邮": ("免邮",)}
    text, _ = add_chatter(text, "主播几岁")
    assert parse_faq(text.encode()).chatter == ("主播吃过吗", "主播几岁")


def test_update_entry() -> None:
    text, changed = update_entry(
        FAQ, "invoice", {"answer": "可以开电子或纸质发票。", "short": "", "keywords": ["发票"]}
    )
    assert changed
    e = parse_faq(text.encode()).entry("invoice")
    assert e is not None and e.answer == "可以开电子或纸质发票。" and e.short == "" and e.keywords == ("发票",)
    assert "# the shop's FAQ" in text
    same, changed = update_entry(text, "invoice", {"answer": "可以开电子或纸质发票。"})
    assert not changed and same == text


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda: add_example(FAQ, "nope", "x"), "no entry with id 'nope'"),
        (lambda: add_example(FAQ, "ship", "   "), "must not be empty"),
        (lambda: add_example("[[faq]\n", "ship", "x"), "invalid TOML"),
        (lambda: update_entry(FAQ, "ship", {"question": ""}), "question: must not be empty"),
        (lambda: update_entry(FAQ, "ship", {"id": "other"}), "not an editable field"),
        (lambda: add_chatter('chatter = "x"\n' + FAQ, "y"), "must be a list"),
    ],
)
def test_edit_errors_are_clear(call, says: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FaqFileError, match=says):
        call()
