"""The engine's decisions are pinned: the hits (rule, phrase, start, end) on every line of a large varied
and hostile corpus, in every scope, must equal the golden file (see tests/rules_golden.py). A change meant
only for speed, memory or build time must leave this test green; a change of decisions regenerates the
file on purpose (`python tests/rules_golden.py write`) and says so in its commit."""

from rules import RuleEngine
from tests import rules_golden


def test_engine_decisions_match_the_golden_file(monkeypatch):
    monkeypatch.setenv("LIVEBOT_RULES_CACHE", "off")  # the engine that builds its own tables
    engine = RuleEngine.load([rules_golden.PACKS])
    assert engine.errors == []
    checked, diffs = rules_golden.differences(engine)
    assert checked > 30_000
    assert diffs == [], f"{len(diffs)} lines differ, first: {diffs[:5]}"

