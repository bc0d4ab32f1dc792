"""What the rule-engine test modules share: the severities that alarm the anchor, where the blind
batches live, and the hits that alarm. (The built-in engine itself is the session fixture ``engine``
in conftest.py.)"""

from __future__ import annotations

from pathlib import Path

from rules import RuleEngine
from rules.evaluate import EvalResult, evaluate
from rules.model import Hit

ALARM = ("block", "warn")
BLIND = Path(__file__).resolve().parent / "data" / "rules_blind"


def alarms(engine: RuleEngine, text: str) -> list[Hit]:
    """The hits that alarm the anchor; every span must index the original text."""
    hits = [h for h in engine.scan(text) if h.severity in ALARM]
    for hit in hits:
        assert text[hit.start : hit.end] == hit.matched
    return hits


def alarm_phrases(engine: RuleEngine, text: str) -> list[tuple[str, str]]:
    """(rule, matched text) of each hit that alarms the anchor."""
    return [(h.rule, h.matched) for h in alarms(engine, text)]


def holds_floor(engine: RuleEngine, batch: str, recall: float, false_alarms: float) -> EvalResult:
    """Score a blind batch and fail, naming the sentences, if it fell under its floor."""
    result = evaluate(engine, BLIND / batch)
    assert result.recall >= recall, [m[0] for m in result.misses]
    assert result.false_alarm_rate <= false_alarms, [a[0] for a in result.alarms]
    return result
