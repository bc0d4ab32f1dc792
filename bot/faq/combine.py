"""One decision from two voices: the word matcher and the sentence encoder, weighed by a fitted model.

For a message the words abstained on (or every question: ``scope`` in the data), every candidate
entry (the words' best few and the encoder's nearest two) is described by a handful of numbers the
two already compute: the words'
score and lead, the question gate's verdict, why the words abstained, the encoder's similarity to
the entry (nearest phrasing, all phrasings on average, question with answer), how far the entry
stands out among this FAQ's entries (z-scores) and its lead, whether the two voices agree, the
message's length, and whether it asks a time, an amount or a price the entry never states. The
words' sure vetoes stay vetoes (``FaqMatcher.combined_candidates``): a message of question words
alone, an English name no table knows, a price to an entry that states none.
A logistic regression turns them into the
probability that this entry is the right answer; the best candidate is answered when that is at
least ``threshold``, otherwise the bot abstains.

The weights are data (``data/combine.toml``), fitted with plain numpy by ``bench/fit_faq_combine.py``
on the shipped merchant sets and checked leave-one-merchant-out (docs/faq.md). Measured so, it did
not beat the older rule (``semantic.decide``) without answering more chatter, so it is not adopted:
the matcher uses it only with ``LIVEBOT_FAQ_COMBINE=on``. Without the encoder none of this runs:
the words decide alone, exactly as before.
"""

from __future__ import annotations

import math
import os
import statistics
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.faq.semantic import Similarities

DATA = Path(__file__).parent / "data" / "combine.toml"
ENV_SWITCH = "LIVEBOT_FAQ_COMBINE"
WORD_CANDIDATES = 3  # the words' best few entries
ENCODER_CANDIDATES = 2  # and the encoder's nearest few

#: the numbers describing one (message, candidate entry) pair, in the order the weights use
FEATURES = (
    "bias",
    "words_score",  # the words' score for this entry (0 when they did not rank it)
    "words_lead",  # its lead over the best other entry (negative when another is ahead)
    "words_best",  # 1 when it is the words' best entry
    "gate_keyword",  # 1 when the message has no question cue (the gate's "keyword")
    "no_content",  # why the words abstained: only question/function words matched
    "ambiguous",  # two entries too close
    "below_threshold",  # any other shortfall (score, key word, kind asked)
    "enc_best_query",  # cosine to the entry's nearest question part or example, minus this FAQ's mean
    "enc_z",  # how far the entry stands out among the FAQ's entries (nearest phrasing + passage)
    "enc_z_mean",  # the same on the mean over all its phrasings
    "enc_z_passage",  # the same on its question with its answer
    "enc_lead",  # its lead over the best other entry on the encoder's score (negative when behind)
    "enc_best",  # 1 when it is the encoder's nearest entry
    "agree",  # 1 when it is both voices' best
    "length",  # log of the message's length in characters
    "unstated",  # the message asks a time, an amount, a size or a price the entry never states
    "key_weight",  # the weight of the message's heaviest word (how specific it is)
    "key_credit",  # how much of that word the entry's whole text explains (0: it never says it)
)


@dataclass(frozen=True, slots=True)
class Candidate:
    faq_id: str
    features: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Combiner:
    weights: tuple[float, ...]
    threshold: float
    scope: str  # "abstained": only messages the words did not answer; "all": every question
    adopted: bool = False  # the shipped weights replace the older encoder rule by default

    def probability(self, features: Sequence[float]) -> float:
        x = sum(w * f for w, f in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))

    def contributions(self, features: Sequence[float]) -> list[tuple[str, float]]:
        """What pushed the decision, largest first (for the explanation)."""
        parts = [(n, w * f) for n, w, f in zip(FEATURES, self.weights, features, strict=True) if n != "bias"]
        return sorted(parts, key=lambda p: -abs(p[1]))

    def decide(self, candidates: Sequence[Candidate]) -> tuple[Candidate | None, float]:
        """The best candidate and its probability of being right (candidate None: no candidates)."""
        best: Candidate | None = None
        best_p = 0.0
        for c in candidates:
            p = self.probability(c.features)
            if best is None or p > best_p:
                best, best_p = c, p
        return best, best_p


@lru_cache(maxsize=4)
def load_combiner(path: Path = DATA) -> Combiner | None:
    """The shipped weights (None when the file is missing or does not fit ``FEATURES``)."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    weights = data.get("weights", {})
    if set(weights) != set(FEATURES):
        return None
    return Combiner(
        tuple(float(weights[n]) for n in FEATURES),
        float(data["threshold"]),
        str(data.get("scope", "abstained")),
        bool(data.get("adopted", False)),
    )


def active_combiner() -> Combiner | None:
    """The combined decision the matcher uses with the encoder: the shipped weights when they were
    adopted (or ``LIVEBOT_FAQ_COMBINE=on``), else None (the older rule, ``semantic.decide``)."""
    combiner = load_combiner()
    switch = os.environ.get(ENV_SWITCH, "").strip().lower()
    if combiner is None or switch in ("0", "off", "no", "false"):
        return None
    return combiner if combiner.adopted or switch in ("1", "on", "yes", "true") else None


def _z(values: Sequence[float], i: int) -> float:
    sd = statistics.pstdev(values)
    return (values[i] - statistics.fmean(values)) / (sd + 1e-6)


def _lead(values: Sequence[float], i: int) -> float:
    return values[i] - max(v for j, v in enumerate(values) if j != i)


def candidates(
    *,
    words: Sequence[tuple[str, float]],
    words_best: str | None,
    gate_keyword: bool,
    reason: str,
    sims: Similarities,
    length: int,
    unstated: dict[str, bool],
    key_weight: float,
    key_credit: dict[str, float],
) -> list[Candidate]:
    """The candidate entries of one message with their features. ``words``: the words' ranked
    (entry, score) pairs; ``unstated``: per entry id, whether the message asks what it never states."""
    ids = list(sims.ids)
    combined = sims.combined()
    enc_order = sorted(range(len(ids)), key=lambda i: -combined[i])
    chosen = [fid for fid, _ in words[:WORD_CANDIDATES]] + [ids[i] for i in enc_order[:ENCODER_CANDIDATES]]
    score = dict(words)
    mean_best = statistics.fmean(sims.best_query)
    out: list[Candidate] = []
    for fid in dict.fromkeys(chosen):
        i = ids.index(fid)
        s = score.get(fid, 0.0)
        others = [v for k, v in score.items() if k != fid]
        enc_best = i == enc_order[0]
        feats = {
            "bias": 1.0,
            "words_score": s,
            "words_lead": s - max(others, default=0.0),
            "words_best": float(fid == words_best),
            "gate_keyword": float(gate_keyword),
            "no_content": float(reason == "no_content"),
            "ambiguous": float(reason == "ambiguous"),
            "below_threshold": float(reason == "below_threshold"),
            "enc_best_query": sims.best_query[i] - mean_best,
            "enc_z": _z(combined, i),
            "enc_z_mean": _z(sims.mean_query, i),
            "enc_z_passage": _z(sims.passage, i),
            "enc_lead": _lead(combined, i),
            "enc_best": float(enc_best),
            "agree": float(enc_best and fid == words_best),
            "length": math.log(1 + length),
            "unstated": float(unstated.get(fid, False)),
            "key_weight": key_weight,
            "key_credit": key_credit.get(fid, 0.0),
        }
        out.append(Candidate(fid, tuple(feats[n] for n in FEATURES)))
    return out


#: the features in plain Chinese, for "try a message" on the admin page
SAID = {
    "words_score": "字面得分",
    "words_lead": "字面领先第二名",
    "words_best": "字面最接近",
    "gate_keyword": "没有问句语气",
    "no_content": "只对上了疑问词",
    "ambiguous": "字面上两条分不清",
    "below_threshold": "字面得分不够",
    "enc_best_query": "和例句的句意相近",
    "enc_z": "句意上比其他条目突出",
    "enc_z_mean": "和各个例句都相近",
    "enc_z_passage": "和答案的句意相近",
    "enc_lead": "句意领先第二名",
    "enc_best": "句意最接近",
    "agree": "字面和句意都认为是这一条",
    "length": "句子长短",
    "unstated": "问的东西这条没有说明",
    "key_weight": "句子里有很具体的词",
    "key_credit": "最关键的词这条里有",
}
