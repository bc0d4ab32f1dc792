"""Value types of the compliance engine: rules as loaded, hits as reported, pack errors."""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("block", "warn", "info")
SCOPES = ("speech", "chat", "title")


@dataclass(frozen=True)
class PackError:
    """A problem in one rule pack. The rule (or the whole file, when rule is None) is skipped."""

    file: str
    rule: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: rule {self.rule!r}" if self.rule else self.file
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Pattern:
    """A regular expression over normalized text, for what a phrase list cannot say (加我微信)."""

    regex: str  # as written in the pack, with <word> macros
    phrase: str  # canonical phrase reported for a match


@dataclass(frozen=True)
class Context:
    """An innocent use of some rules' phrases, from a [[context]] table: advice (最好先试一下), a
    question to viewers (你们最想要哪个), a word's own exemption. A candidate hit is dropped when the
    text before it matches `before` (searched in the clause before the match) and the text after it
    matches `after` (anchored right after the match); a missing side always matches."""

    name: str
    rules: tuple[str, ...]  # rule ids, or prefixes ending in "." (absolute.)
    phrases: tuple[str, ...]  # canonical phrases it applies to; empty: all phrases of those rules
    before: str | None
    after: str | None
    source: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: str
    basis: str
    suggestion: str
    phrases: tuple[str, ...] = ()
    patterns: tuple[Pattern, ...] = ()
    allow: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset(SCOPES)
    # A negated mention (不能治疗, 不要私下转账, 不是最低) is innocent when a negator stands within this
    # many characters before the match; 0 turns the check off.
    negation: int = 0
    unless: tuple[str, ...] = ()  # words anywhere in the utterance that make it a warning, not an offer
    boundary: bool = False  # the match must start and end on jieba word boundaries
    # Sound-alike matching (any homophone or look-alike of any character) for phrases of at least this
    # many ideographs; 0 turns it off. Two is for words evaders respell (微信 as 威心), three the default.
    phonetic: int = 3
    gap: int = 0  # filler words (都, 就是, 我们家) allowed between the words of a phrase; 0: none
    source: str = ""  # pack file the rule came from


@dataclass(frozen=True)
class Hit:
    rule: str
    phrase: str
    category: str
    severity: str
    start: int
    end: int
    matched: str
    basis: str
    suggestion: str

    def to_dict(self) -> dict[str, object]:
        """Exactly the object of the `livebot rules scan` contract."""
        return {
            "rule": self.rule,
            "phrase": self.phrase,
            "category": self.category,
            "severity": self.severity,
            "start": self.start,
            "end": self.end,
            "matched": self.matched,
            "basis": self.basis,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class StreamHit:
    hit: Hit  # start/end index into .text
    text: str  # the utterance the offsets index into (tail of the previous final + this one when split)
    segment: str


@dataclass
class PackSet:
    """What loading produced: rules by id (later packs override earlier ones), variants, errors."""

    rules: dict[str, Rule] = field(default_factory=dict)
    variants: dict[str, list[str]] = field(default_factory=dict)
    lookalikes: dict[str, list[str]] = field(default_factory=dict)  # 治 -> [冶]: read as the target
    context: dict[str, list[str]] = field(default_factory=dict)  # [context] word lists, see packs.py
    contexts: list[Context] = field(default_factory=list)  # [[context]] exemptions, in load order
    errors: list[PackError] = field(default_factory=list)
