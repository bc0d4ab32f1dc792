"""Per-room streaming state for ASR speech: partial segments that are revised, then finalized.

- Each feed scans the tail of the previous segment joined to the current text, so a phrase split across
  segments (全网 | 最低价) and a negation said just before the cut (这个不能 | 治疗) are both seen.
- Only NEW hits are returned: a hit is keyed by (rule, n-th hit of that rule in the segment), so the same
  hit in partial after partial after final is reported once, even when earlier words get revised.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .model import StreamHit

if TYPE_CHECKING:
    from .engine import RuleEngine

TAIL_CHARS = 16  # characters of the previous segment kept for phrases and negations split by the cut


class SpeechStream:
    def __init__(self, engine: RuleEngine, scope: str = "speech") -> None:
        engine.scan("", scope)  # validates the scope now rather than on the first segment
        self._engine = engine
        self._scope = scope
        self._segment: str | None = None
        self._text = ""  # latest revision of the current segment
        self._tail = ""  # end of the previous segment (its final, or its last revision if none came)
        self._tail_spans: list[tuple[int, int]] = []  # hits already reported inside the tail
        self._spans: list[tuple[int, int]] = []  # hits reported in the current segment (its own offsets)
        self._reported: set[tuple[str, int]] = set()

    def feed(self, segment: str, text: str, final: bool) -> list[StreamHit]:
        if segment != self._segment:
            self._start_segment(segment)
        self._text = text
        tail = self._tail
        joined = tail + text
        cut = len(tail)
        new: list[StreamHit] = []
        per_rule: dict[str, int] = {}
        for hit in self._engine.scan(joined, self._scope):
            if hit.end <= cut:
                continue  # wholly in the previous segment: reported with it
            if hit.start < cut and any(hit.start < e and s < hit.end for s, e in self._tail_spans):
                continue  # the previous segment already reported this phrase (or its beginning)
            n = per_rule.get(hit.rule, 0)
            per_rule[hit.rule] = n + 1
            key = (hit.rule, n)
            if key in self._reported:
                continue
            self._reported.add(key)
            if hit.start >= cut:
                own = replace(hit, start=hit.start - cut, end=hit.end - cut)
                self._spans.append((own.start, own.end))
                new.append(StreamHit(own, text, segment))
            else:
                self._spans.append((hit.start - cut, hit.end - cut))
                new.append(StreamHit(hit, joined, segment))
        # `final` needs no bookkeeping: the next segment id closes this one either way (an ASR that
        # drops a final still gets its last revision joined to what follows).
        del final
        return new

    def _start_segment(self, segment: str) -> None:
        previous = self._text
        self._tail = previous[-TAIL_CHARS:]
        shift = len(previous) - len(self._tail)
        self._tail_spans = [(s - shift, e - shift) for s, e in self._spans if e - shift > 0]
        self._segment = segment
        self._text = ""
        self._spans = []
        self._reported = set()
