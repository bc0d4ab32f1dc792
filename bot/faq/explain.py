"""A matcher verdict in plain Chinese, for merchant ops on the admin page ("try a message").

``explain(m, faq)`` -> short sentences: what it answers and on which words, the runner-up, or why it
did not answer (not a question, only question words in common, a key word no entry has, what is
asked is never stated, two entries too close). The matcher's own English ``why`` stays available as
the technical detail.
"""

from __future__ import annotations

import re

from bot.faq.combine import SAID
from bot.faq.faqfile import FaqFile
from bot.faq.matcher import FaqMatch

_KEY_RE = re.compile(r"key word (\S+) unexplained")
_ASKS_RE = re.compile(r"asks (\S+), which the entry never states")
_MARGIN_RE = re.compile(r"margin ([0-9.]+) <")
_BELOW_RE = re.compile(r"below ([0-9.]+)")
_COMBINED_RE = re.compile(r"combined words \+ sentence encoder: (\S+) p=([0-9.]+) \(need ([0-9.]+); ([^)]*)\)")
_PART_RE = re.compile(r"(\w+) ([+-][0-9.]+)")


def _combined(semantic: str) -> tuple[str, float, float, list[str], list[str]] | None:
    """The combined decision's entry, probability, bar, and what spoke for and against it."""
    got = _COMBINED_RE.search(semantic)
    if got is None:
        return None
    parts = [(n, float(v)) for n, v in _PART_RE.findall(got.group(4)) if n in SAID]
    pro = [SAID[n] for n, v in parts if v > 0]
    con = [SAID[n] for n, v in parts if v < 0]
    return got.group(1), float(got.group(2)), float(got.group(3)), pro, con


def _combined_sentence(faq: FaqFile, semantic: str) -> str | None:
    c = _combined(semantic)
    if c is None:
        return None
    faq_id, p, need, pro, con = c
    said = f"综合字面和句意，{_q(faq, faq_id)} 是对的把握 {p:.0%}（回答线 {need:.0%}）"
    if pro:
        said += "；支持：" + "、".join(pro)
    if con:
        said += "；反对：" + "、".join(con)
    return said + ("，所以回答。" if p >= need else "，不够有把握，所以不回答。")


def _q(faq: FaqFile, faq_id: str | None) -> str:
    entry = faq.entry(faq_id) if faq_id else None
    return f"「{entry.question}」（{entry.id}）" if entry else f"（{faq_id}）"


def _words(words: tuple[str, ...]) -> str:
    return "、".join(words[:8])


def explain(m: FaqMatch, faq: FaqFile) -> list[str]:
    out: list[str] = []
    if m.reason == "chatter":
        return ["运营已把这句标记为闲聊：机器人不回答。"]
    if m.reason == "statement":
        return ["这句话不是提问（没有问句的语气或疑问词），机器人不回答。"]
    if m.answered:
        out.append(f"会回答 {_q(faq, m.faq_id)}，得分 {m.score:.2f}。")
        if m.matched:
            out.append(f"对上的词：{_words(m.matched)}。")
        combined = _combined_sentence(faq, m.semantic)
        if combined:
            out.append(combined)
        elif "answered" in m.semantic:
            out.append("字面上不够确定，句意模型也认为是这一条，所以回答。")
    else:
        if m.best_id:
            out.append(f"没有回答。最接近的是 {_q(faq, m.best_id)}，得分 {m.score:.2f}。")
        else:
            out.append("没有回答：和 FAQ 里的条目没有共同的词。")
        if m.matched and m.best_id:
            out.append(f"对上的词：{_words(m.matched)}。")
        why = m.why
        if m.reason == "no_content":
            out.append("只对上了疑问词或虚词（例如“多少”“吗”），没有对上实际内容。")
        elif m.reason == "ambiguous":
            gap = _MARGIN_RE.search(why)
            out.append(
                f"和第二接近的 {_q(faq, m.runner_up)} 分数太接近"
                + (f"（只差 {float(gap.group(1)):.2f}）" if gap else "")
                + "，分不清是哪一条。"
            )
        else:
            key, asks, below = _KEY_RE.search(why), _ASKS_RE.search(why), _BELOW_RE.search(why)
            if key:
                out.append(f"这句话最关键的词「{key.group(1)}」在这条里没有出现，可能问的是别的事。")
            elif asks:
                out.append(f"这句问的是「{asks.group(1)}」，这条的问题和答案里都没有说明。")
            elif "says only" in why:
                out.append("没有问句语气，又只说到了条目的一小部分。")
            elif below:
                out.append(f"得分低于回答线 {float(below.group(1)):.2f}。")
        combined = _combined_sentence(faq, m.semantic)
        if combined:
            out.append(combined)
        elif m.semantic and "not sure" in m.semantic:
            out.append("句意模型也不够确定。")
        if m.unmatched:
            out.append(f"没对上的词：{_words(m.unmatched)}。")
        if m.best_id:
            out.append("如果这句其实就是在问这条，点“加为例句”，机器人马上就会回答。")
    if m.runner_up and m.answered:
        out.append(f"第二接近：{_q(faq, m.runner_up)}，得分 {m.runner_up_score:.2f}。")
    return out
