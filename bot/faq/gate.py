"""Question-likeness: is this chat line asking something, or just talking?

An FAQ bot that answers 发货真快 or 运费险真香 gets muted, so before any matching every message is put
in one of three kinds (cues in bot/faq/data/cues.toml, extendable per merchant):

- ``question``: a question word or particle, "?", an A-not-A form (包邮不包邮, 快不快), a clause
  ending in 不/没 (能退不), a request (想换, 申请) or a problem report (碎了, 一直没到账,
  客服不回). Answered when the match is good enough, otherwise an *abstention* that ops see on
  the admin page.
- ``keyword``: no cue either way (取消订单, 联系客服): answered only on a confident match, and
  silently dropped otherwise (it may be chatter: 打卡, 前排).
- ``statement``: praise, thanks, laughter, a finished action with no problem in it
  (发货真快, 已经退了, 券已领, 没坏 保修都没用上), a problem already put right (已经补发了), or a
  question to the anchor as a person (主播几岁了, 主播用的什么手机). Never answered.

Order of the checks: a question cue wins over everything except praise in the same clause-less
message (谢谢 包邮吗 is still a question); praise wins over a problem (质量不错); a problem wins over a
finished action (已经付款了还没发货).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

QUESTION, KEYWORD, STATEMENT = "question", "keyword", "statement"
_CLAUSE_SPLIT_RE = re.compile(r"[\s,，。.!！~～、;；:：…]+")
_A_NOT_A_RE = re.compile(r"(.{1,2})[不没]\1")


@dataclass(frozen=True, slots=True)
class GateResult:
    kind: str  # question | keyword | statement
    cue: str = ""  # what decided it, for "why"

    def __str__(self) -> str:
        return f"{self.kind}({self.cue})" if self.cue else self.kind


class QuestionGate:
    def __init__(self, cues: Mapping[str, tuple[str, ...]]) -> None:
        get = lambda k: tuple(sorted(set(cues.get(k, ())), key=len, reverse=True))  # noqa: E731
        self.question = get("question")
        self.question_final = get("question_final")
        self.problem = get("problem")
        self.request = get("request")
        self.negators = get("negators")
        self.negatable = set(get("negatable_problems"))
        self.praise = get("praise")
        self.praise_emoji = get("praise_emoji")
        self.done = get("done")
        self.resolved = get("resolved")
        ints, adjs = get("praise_intensifiers"), get("praise_adjectives")
        self._praise_re = (
            re.compile(f"(?:{'|'.join(map(re.escape, ints))})(?:{'|'.join(map(re.escape, adjs))})")
            if ints and adjs
            else None
        )

    @staticmethod
    def _find(text: str, words: tuple[str, ...], latin: frozenset[str]) -> str:
        for w in words:
            if w.isascii():
                # English cues are whole words ("can" must not fire on "scan")
                if (" " in w and re.search(rf"\b{re.escape(w)}\b", text)) or w in latin:
                    return w
            elif w in text:
                return w
        return ""

    def _negated(self, text: str, start: int) -> bool:
        before = text[max(0, start - 2) : start]
        return any(before.endswith(n) for n in self.negators)

    def _praise(self, text: str, latin: frozenset[str]) -> str:
        """Praise not negated: 满意 is praise, 不满意 is not."""
        for w in self.praise:
            if w.isascii():
                if w in latin:
                    return w
                continue
            start = text.find(w)
            while start >= 0:
                if not self._negated(text, start):
                    return w
                start = text.find(w, start + 1)
        if self._praise_re is not None:
            for m in self._praise_re.finditer(text):
                if not self._negated(text, m.start()):
                    return m.group(0)
        return ""

    def _problem(self, text: str) -> tuple[str, str]:
        """(problem cue, negated problem cue): 碎了 is a problem, 没碎 is good news."""
        found, negated = "", ""
        for w in self.problem:
            start = text.find(w)
            while start >= 0:
                # 没碎 is good news; so is a problem that stopped (终于不便秘了, 不漏了)
                stopped = text.startswith("了", start + len(w)) and not w.startswith(self.negators)
                if self._negated(text, start) and (
                    stopped or w in self.negatable or any(w.startswith(p) for p in self.negatable)
                ):
                    negated = negated or w
                else:
                    found = found or w
                start = text.find(w, start + 1)
        return found, negated

    def classify(
        self, clean: str, emoji: tuple[str, ...] = (), latin_words: tuple[str, ...] = (), personal: bool = False
    ) -> GateResult:
        latin = frozenset(latin_words)
        text = clean
        if personal:
            # 主播几岁了, 主播用的什么手机: a question to the anchor, not to the shop
            return GateResult(STATEMENT, "personal")
        if "?" in text or "？" in text:
            return GateResult(QUESTION, "?")
        praise = self._praise(text, latin)
        cue = self._find(text, self.question, latin)
        if cue:
            # 怎么这么快 is praise in question form; praise words next to a question word win
            if praise and re.search(r"(?:怎么|咋)(?:这么|那么)", text):
                return GateResult(STATEMENT, praise)
            return GateResult(QUESTION, cue)
        m = _A_NOT_A_RE.search(text)
        if m:
            return GateResult(QUESTION, m.group(0))
        clauses = _CLAUSE_SPLIT_RE.split(text)
        for i, clause in enumerate(clauses):
            for w in self.question_final:
                # a particle alone after a space ends the words before it: 能发 顺丰 不 (sf rewritten)
                if clause.endswith(w) and (len(clause) > len(w) or (i > 0 and clauses[i - 1])):
                    return GateResult(QUESTION, f"…{w}")
        if praise:
            return GateResult(STATEMENT, praise)
        resolved = self._find(text, self.resolved, latin)
        if resolved:
            # 破了的那袋已经补发了: a problem already put right is news, not a question
            return GateResult(STATEMENT, resolved)
        request = self._find(text, self.request, latin)
        if request:
            return GateResult(QUESTION, request)
        problem, negated = self._problem(text)
        if problem:
            return GateResult(QUESTION, problem)
        if negated:
            return GateResult(STATEMENT, f"没{negated}")
        done = self._find(text, self.done, latin)
        if done:
            return GateResult(STATEMENT, done)
        # a clause that ends in 了 reports something that happened (来了来了, 昨天拍今天就到了)
        if any(c.endswith("了") for c in _CLAUSE_SPLIT_RE.split(text) if c):
            return GateResult(STATEMENT, "…了")
        if emoji and any(e in self.praise_emoji for e in emoji) and not text:
            return GateResult(STATEMENT, emoji[0])
        return GateResult(KEYWORD)
