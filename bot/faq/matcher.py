"""Rank FAQ entries for a viewer message, or abstain.

Every entry is indexed as *phrases*: each part of its question, each example, each keyword, plus a
bag of all its words (the answer's words count for less, a word many answers say counts little). A
message and a phrase are compared word by word after normalization (``normalize.py``): a message
word is *covered* by a phrase when the phrase has the same word (1.0), a homophone of it (0.85), a
word of the same class (广州 ~ 北京, 0.75), or part of
it (退 in 退货, a shared character pair of an unknown word: 0.5-0.8); a word the phrase lacks but the
rest of its entry has (answer, other phrasings) gets a share of that credit.

Words are weighted: content words by how rare they are among the FAQ's entries (BM25-style idf);
words the FAQ never uses by how rare they are in general Chinese (jieba's word counts), so an
unknown 花呗 or 孕妇 weighs a lot and an unknown 就是 little;
question words and particles weigh little. What the message *asks* outweighs what it names: a money
word in a question, a problem the message ends on (快递压坏了), an English name in a Chinese message
(python课) weigh more; a problem it starts from (坏了保修吗), a destination in a money question, a
return reason next to a return weigh less.

    coverage of the message  = weighted share of the message's words the phrase covers
    coverage of the phrase   = weighted share of the phrase's words the message covers
    phrase score = cov_msg ** 0.5 * cov_phrase ** 0.5
    entry score  = 0.6 * best phrase + 0.4 * cov_msg over the entry's bag of words
                   (or 0.8 * the bag's coverage when no phrasing fits but the entry's whole text
                   explains the heaviest word and states what is asked: 有防伪码吗)

The kind of thing asked is typed (a time: 多久/什么时候/a day named; an amount: 多少/几; money:
多少钱/要钱/运费; a size or weight: 多大/多高/多重; a person: 谁): an entry whose question and answer
state no such thing ranks lower and is never the answer. An entry that names the very place or
courier asked (港澳台) beats one that names a sibling of its class (浙江仓).

The best entry is the answer when its score clears the threshold for the gate's kind (a message with
no question cue needs a higher score, and must say most of a phrase or fit it closely), its content
outweighs question words, the heaviest word is explained, and it beats the runner-up by the margin
(half of it for a near twin whose phrase the message says all of); otherwise: abstain.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.faq.combine import Candidate, Combiner, active_combiner, candidates
from bot.faq.faqfile import FaqEntry
from bot.faq.gate import KEYWORD, QUESTION, STATEMENT, GateResult, QuestionGate
from bot.faq.normalize import FUNCTION_CHARS, Analysis, Analyzer, is_cjk, pinyin_key
from bot.faq.semantic import TIE_Z, SemanticIndex, decide
from bot.faq.vocab import Vocabulary, shipped_tables, words_table

log = logging.getLogger(__name__)


#: words whose weight and comparison features are memoized (each memo is cleared when full; results
#: never depend on it)
UNIT_CACHE = 20_000
#: memoized word credits kept over all of a matcher's phrases (words x phrases; a few MB at most)
CREDIT_MEMO = 60_000


def _words(name: str) -> frozenset[str]:
    return frozenset(words_table()[name])


# the word lists live in bot/faq/data/words.toml (what a word does in a question)
QUESTION_WORDS = _words("question")
ASKING_WORDS = _words("asking")
FUNCTION_WORDS = _words("function")
GENERIC_WORDS = _words("generic")
TIME_POINTS = _words("time_points")
RETURN_ACTIONS = _words("return_actions")
RETURN_REASONS = _words("return_reasons")
SLOT_CLASSES = _words("slot_classes")
LATIN_FILLER = _words("latin_filler")

Q_EXP = 0.5
PRODUCT_CLASS = "商品"  # naming the product is context: 饼干全碎了 asks about damage, not biscuits
PROBLEM_BOOST = 1.6
CONDITION_WEIGHT = 0.6  # a problem named before what is asked about it (坏了保修吗)
BAG_CANDIDATES = 8  # entries scored because their whole text (answer included) fits the message best
BAG_SHARE = 0.4  # share of an entry's score from its whole text, answer included
DOC_FACTOR = 0.8  # an entry scored on its whole text: this share of how much of the message it explains
DOC_CONTENT = 1.0  # ... when the content it explains weighs at least this
DOC_KEY_WEIGHT = 1.0  # ... and the message's heaviest word, at least this heavy, is in it
ANSWER_SPREAD = 2  # a word in more answers than this gets proportionally less credit from them
PRICE_WORD = "多少钱"
FEE_CLASS = "费用"  # words that ask about money (加钱, 运费, 收费, 免费)
PROBLEM_CLASS = "损坏"  # words that report something went wrong (破损, 发霉, 故障)
REPORT_CLASSES = frozenset((PROBLEM_CLASS, "不适"))  # ... or that the body reacted badly (过敏, 腹泻)
TIME_WORDS = frozenset(("多久", "什么时候"))
# asked kinds an entry must state to answer: a time, a person (where is often answered by a
# policy: 运费险在哪看 -> it comes with every order)
KIND_WORDS = TIME_WORDS | {"谁", "多少", "几", "多重", "多大", "多高", "多宽", "多厚"}
# 一套有几本 asks an amount as 多少 does; 多高 a size as 多大 does
KIND_ALIASES = {"几": "多少", "多高": "多大", "多宽": "多大", "多厚": "多大"}
MEASURE_WORDS = frozenset(("多重", "多大", "多高", "多宽", "多厚"))  # a physical measure, not a count or a time
WHEN_WORD = "什么时候"
ARRIVAL_WORD = "到货"
ARRIVAL_CLASS = "抵达"  # 到货, 收到
INTENT_BOOST = 1.2  # a money word in a question: what it asks, above the topic it names
WHAT_WORD = "什么"
MODIFIER_MARK = "的"
WHICH_WORDS = frozenset((WHAT_WORD, "哪个"))
ASKED_BOOST = 1.3  # the word a 什么 / 哪个 asks for (发什么快递: the courier, not the dispatch)
REASON_WEIGHT = 0.5
SLOT_WEIGHT = 0.5  # a slot word this heavy (not a bare 红 or 甜 in passing)
SLOT_MISS = 0.75  # score kept by an entry that names another member of the slot's class, or none
TWIN_SAYS = 0.3  # lead in how much of its phrase the message says that halves the margin
KIND_MISS = 0.7  # score kept by an entry that states no time when the message asks one
KEY_MISS = 0.85  # score kept by an entry that does not explain the message's weightiest word
# a message word the phrase lacks but its entry has elsewhere (answer, other phrasings) gets this
# share of the entry's credit: 到北京要几天 is said by 多久到 plus an answer that names regions
ENTRY_CREDIT = 0.6
ANSWER_IDF = 0.9  # a word only the answers use weighs this share of its idf
ANSWER_CREDIT = 0.8  # credit for a message word that only the answer has
# a word the FAQ never uses is often the merchant's own thing in other words (杆子 for 帐杆, 蚊子 for
# 防蚊, 下雨 for 中雨): each of its characters that only a few entries use (at most this share of them,
# and at least two) is evidence for them, this much credit for all of its characters; none when it has
# a character the FAQ never writes
CHAR_CREDIT = 0.6
DISTINCT_SHARE = 0.125
NOUN_SUFFIXES = frozenset("子儿头")  # 杆子, 垫子: the suffix says nothing
NAME_CREDIT = 0.75  # a class's name for a member of it, as for two members
MAX_CANDIDATES = 60  # phrases scored in full per message (by how much of the message they can explain)
_EMPTY: frozenset[int] = frozenset()  # the word that made a message a problem report or request is what it is about
# 三包, 两袋, 一个, 3天: how many of something is context, not what is asked
_COUNT_RE = re.compile(r"^[0-9一二两三四五六七八九十百几半多]+[个包袋件盒瓶箱份只条块次天年月号斤克套双张台]?$")


@dataclass(frozen=True)
class Thresholds:
    question: float = 0.47  # least score to answer a message with a question cue
    keyword: float = 0.62  # least score to answer a message with no cue (取消订单)
    margin: float = 0.06  # least lead over the runner-up entry
    min_content: float = 0.5  # least weight of matched content words (question words alone never answer)
    keyword_phrase: float = 0.75  # a message with no cue must say this much of its best phrase
    # the message's heaviest word, if at least this heavy and sharing nothing with the entry,
    # raises the bar: the entry answers a neighbouring question (孕妇能用吗 vs 敏感肌能用吗)
    key_weight: float = 1.0
    key_threshold: float = 0.70


@dataclass(frozen=True, slots=True)
class FaqMatch:
    """The matcher's verdict on one message. ``faq_id`` None = abstain (or not a question at all)."""

    faq_id: str | None
    score: float
    entry: FaqEntry | None
    runner_up: str | None = None
    runner_up_score: float = 0.0
    best_id: str | None = None  # the best entry even when abstaining (for ops: "almost matched")
    gate: str = QUESTION  # question | keyword | statement
    reason: str = ""  # why no answer: statement, no_content, below_threshold, ambiguous
    why: str = ""
    matched: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()
    has_words: bool = False  # anything but particles and punctuation
    # the word matcher's entries, best first, with their scores (for ops: what it weighed)
    candidates: tuple[tuple[str, float], ...] = ()
    semantic: str = ""  # the sentence encoder's view, when it was asked

    @property
    def answered(self) -> bool:
        return self.faq_id is not None

    @property
    def question_like(self) -> bool:
        """A question with words in it (not chatter, not "？？？"): an abstention worth showing to ops."""
        return self.gate == QUESTION and self.has_words


@dataclass(frozen=True, slots=True)
class _Feats:
    """What a word offers for partial credit, computed once per word."""

    cjk: bool
    bigrams: frozenset[str]
    chars: tuple[str, ...]
    pinyin: str
    classes: frozenset[str]
    # a word the FAQ never uses: its characters that a few entries use, and how many it has that say anything
    distinct: tuple[str, ...] = ()
    content_chars: int = 0
    names: frozenset[str] = frozenset()  # the classes this word is the name of (快递: 快递公司)


@dataclass(slots=True)
class _Phrase:
    entry: int
    kind: str  # question | example | keyword | bag
    text: str
    units: dict[str, float]  # unit -> weight
    credit_scale: dict[str, float] = field(default_factory=dict)  # bag: answer words count less
    pinyin: dict[str, str] = field(default_factory=dict)  # pinyin key -> unit
    classes: dict[str, set[str]] = field(default_factory=dict)  # class -> units
    bigrams: set[str] = field(default_factory=set)
    chars: set[str] = field(default_factory=set)
    char_units: dict[str, set[str]] = field(default_factory=dict)  # char -> the units that have it
    total: float = 0.0
    # the matcher's memo of ``_credit(unit, self)``
    credit_memo: dict[str, float] = field(default_factory=dict)


def _bigrams(word: str) -> set[str]:
    return {word[i : i + 2] for i in range(len(word) - 1) if is_cjk(word[i]) and is_cjk(word[i + 1])}


@functools.cache
def _general_weight(word: str) -> float:
    """Informativeness of a word the FAQ does not use: rare in general Chinese -> heavy."""
    from bot.faq.normalize import _Jieba

    tok = _Jieba.get()
    freq = tok.FREQ.get(word, 0)
    if word.isdigit():
        return 0.3
    if word.isascii():
        return 0.4
    g = math.log((tok.total + 1) / (freq + 1))
    w = 0.35 + (g - 7.0) / 6.0
    if len(word) == 1:
        w *= 0.7  # single characters are more often grammar than content
    return max(0.3, min(1.5, w))


LATIN_NAME_WEIGHT = 1.0


# what kind of thing an answer states, as the question words that ask for it: an answer with an
# amount of money answers 多少钱 (运费多少 -> "补运费15元"), one with a duration answers 多久
_MONEY_RE = re.compile(r"\d+(?:\.\d+)?\s*(?:元|块|rmb)|[¥￥]\s*\d")
_DURATION_RE = re.compile(
    r"\d+\s*(?:-\s*\d+\s*)?(?:个)?(?:小时|天|日|周|个月|月|年|工作日|分钟)|当天|次日|隔天|当日|半年|一年"
    r"|立即|马上|立刻|即时|实时|自动开通|秒到|秒发"  # at once is a time too
)


# an answer that points somewhere (a page, a button, a link, an app menu, a warehouse) answers 哪里
_PLACE_RE = re.compile(
    r"[页栏框]|右下角|左下角|右上角|左上角|链接|详情|订单|官网|app|小程序|公众号|菜单|按钮|入口|仓|「"
    r"|在[^，。；,;]{1,12}(?:里|中|内|上|下)|从[^，。；,;]{1,8}(?:发|寄)"
)
# an answer that names who does something answers 谁
_PERSON_RE = re.compile(r"客服|助教|老师|班主任|师傅|店家|商家|卖家|买家|本店|我们|您|快递员|官方|厂家|平台")


# an amount of something (120节, 38%, 20斤, 1.5米, 20W): answers 多少 / 几
_QUANTITY_RE = re.compile(
    r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千半]+)\s*"
    r"(?:%|个|件|本|册|节|课时|层|斤|克|公斤|千克|kg|g|米|厘米|毫米|cm|mm|毫升|ml|升|寸|片|包|袋|支|瓶|盒|只|颗|粒"
    r"|张|套|页|次|瓦|w|伏|v|度|期|台|位|人|款|种|色|码)"
)


_NUM = r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千半]+)\s*"
_WEIGHT_RE = re.compile(_NUM + r"(?:斤|克|公斤|千克|kg|g|吨)(?![a-z])")  # answers 多重
_SIZE_RE = re.compile(_NUM + r"(?:米|厘米|毫米|cm|mm|寸|码)(?![a-z])")  # answers 多大 / 多高 / 多宽


def answer_kinds(answer: str) -> str:
    kinds = []
    low = answer.lower()
    if _MONEY_RE.search(answer) or _QUANTITY_RE.search(low):
        kinds.append("多少钱 多少" if _MONEY_RE.search(answer) else "多少")
    if _WEIGHT_RE.search(low):
        kinds.append("多重")
    if _SIZE_RE.search(low):
        kinds.append("多大")
    if _DURATION_RE.search(answer):
        kinds.append("多久 什么时候")
    if _PLACE_RE.search(answer.lower()):
        kinds.append("哪里")
    if _PERSON_RE.search(answer):
        kinds.append("谁")
    return " ".join(kinds)


HOW_TO_FIX = "怎么办"
NEGATION_UNITS = frozenset(("不", "没", "没有"))


def _problem_predicate(units: tuple[str, ...]) -> tuple[str, ...] | None:
    """The problem a "…(了)怎么办" question asks about: its last word before 了怎么办, with a
    negation in front of it (不 制冷); None for other questions or a predicate that is only grammar."""
    if HOW_TO_FIX not in units:
        return None
    before = list(units[: units.index(HOW_TO_FIX)])
    while before and before[-1] == "了":
        before.pop()
    if not before or before[-1] in QUESTION_WORDS or before[-1] in FUNCTION_WORDS or len(before[-1]) < 2:
        return None
    if len(before) >= 2 and before[-2] in NEGATION_UNITS:
        return (before[-2], before[-1])
    return (before[-1],)


def _says(units: tuple[str, ...], seq: tuple[str, ...]) -> bool:
    """Whether ``seq`` occurs in ``units`` as consecutive words."""
    n = len(seq)
    return any(units[i : i + n] == seq for i in range(len(units) - n + 1))


def split_question(question: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"[？?]+", question) if p.strip()]
    return parts if len(parts) > 1 else [question]


class FaqMatcher:
    """An index over one FAQ version. Build once per version; ``match`` is pure and fast."""

    def __init__(
        self,
        entries: Iterable[FaqEntry],
        vocab: Vocabulary,
        thresholds: Thresholds | None = None,
        *,
        chatter: Iterable[str] = (),
        semantic: SemanticIndex | None = None,
        combiner: Combiner | bool | None = True,
    ) -> None:
        self.entries = tuple(entries)
        self.thresholds = thresholds or Thresholds()
        self.semantic = semantic
        # how the two voices are weighed when the encoder is there (``combine.py``); True: the shipped
        # weights if adopted (``active_combiner``), None/False: the older rule (``semantic.decide``)
        self.combiner: Combiner | None = active_combiner() if combiner is True else (combiner or None)
        self._entry_at = {e.id: i for i, e in enumerate(self.entries)}
        texts: list[str] = []
        for e in self.entries:
            texts += [e.question, *e.examples, *e.keywords, e.short, e.answer]
        common = str(shipped_tables().get("pinyin", {}).get("common", ""))
        self.analyzer = Analyzer(vocab, texts, common)
        self.gate = QuestionGate(vocab.cues)
        self._focus_cues = set(self.gate.problem) | set(self.gate.request)
        self._canonical = frozenset(vocab.tokens.values()) | {w for w, c in vocab.strings.items() if w == c}
        self._cache: dict[str, FaqMatch] = {}
        self._feat_cache: dict[str, _Feats] = {}
        self._credit_memo_size = 0
        # messages ops marked as chatter: never answered, however they are spelt (width, case, emoji)
        self._chatter = frozenset(k for k in (self._chatter_key(t) for t in chatter) if k)

        # entry-level document frequency of every unit (question, examples, keywords)
        analysed: list[list[tuple[str, str, Analysis]]] = []
        df: dict[str, int] = {}
        for e in self.entries:
            items = [("question", q, self.analyzer.analyze(q)) for q in split_question(e.question)]
            items += [("example", x, self.analyzer.analyze(x)) for x in e.examples]
            items += [("keyword", k, self.analyzer.analyze(k)) for k in e.keywords]
            analysed.append(items)
            seen: set[str] = set()
            for _, _, a in items:
                seen.update(a.units)
            for u in seen:
                df[u] = df.get(u, 0) + 1
        self._df = df
        # what this FAQ calls a problem: the predicate its own questions ask what to do about
        # (开胶了怎么办 -> 开胶, 不制冷了怎么办 -> 不 制冷); a message ending on it reports it (鞋子开胶了)
        self._faq_problems = frozenset(
            p for items in analysed for _, _, a in items if (p := _problem_predicate(a.units)) is not None
        )
        # a grammar character that is all a phrase names besides its question word (跟多高？: the heel)
        # is what that FAQ means by it, not grammar
        self._content_chars = frozenset(
            c
            for items in analysed
            for _, _, a in items
            if len(rest := [u for u in a.units if u not in QUESTION_WORDS]) == 1
            and len(c := rest[0]) == 1
            and c in FUNCTION_CHARS
        )
        # what the answers say: evidence for a question the examples did not foresee (新疆 in an
        # answer about postage); used for words the questions and examples never use
        answer_df: dict[str, int] = {}
        answer_class_df: dict[str, int] = {}
        self._answers: list[list[Analysis]] = []
        for e in self.entries:
            answers = [self.analyzer.analyze(t) for t in (e.answer, e.short, answer_kinds(e.answer)) if t]
            self._answers.append(answers)
            for u in {u for a in answers for u in a.units}:
                answer_df[u] = answer_df.get(u, 0) + 1
            for c in {c for a in answers for c in a.classes}:
                answer_class_df[c] = answer_class_df.get(c, 0) + 1
        self._answer_df = answer_df
        # every word and class of each entry's whole text: what kind of thing it answers
        self._entry_words: list[tuple[frozenset[str], frozenset[str]]] = []
        for items, answers in zip(analysed, self._answers, strict=True):
            parts = [a for _, _, a in items] + answers
            self._entry_words.append(
                (frozenset(u for a in parts for u in a.units), frozenset(c for a in parts for c in a.classes))
            )
        self._answer_class_df = answer_class_df
        # in how many entries (whole text, answer included) each character occurs
        char_df: dict[str, int] = {}
        for units, _ in self._entry_words:
            for c in {c for u in units for c in u if is_cjk(c)}:
                char_df[c] = char_df.get(c, 0) + 1
        self._char_df = char_df
        # a word that names a class of the tables (快递 for 快递公司, 颜色, 材质, 地区) is answered by a
        # member of it (发什么快递 -> an answer naming 中通); product names only give context
        names: dict[str, set[str]] = {}
        for c in {c for cs in vocab.classes.values() for c in cs} - {PRODUCT_CLASS}:
            units = [u for u in self.analyzer.analyze(c).units if u not in FUNCTION_WORDS]
            if len(units) == 1:
                names.setdefault(units[0], set()).add(c)
        self._class_names = {u: frozenset(cs) for u, cs in names.items()}
        self._distinct_df = max(2, int(len(self.entries) * DISTINCT_SHARE))
        class_df: dict[str, int] = {}
        for items in analysed:
            cls: set[str] = set()
            for _, _, a in items:
                cls |= a.classes
            for c in cls:
                class_df[c] = class_df.get(c, 0) + 1
        self._class_df = class_df
        n = max(1, len(self.entries))
        self._n = n
        self._weight_cache: dict[str, float] = {}

        self.phrases: list[_Phrase] = []
        self.bags: list[_Phrase] = []
        for i, (e, items) in enumerate(zip(self.entries, analysed, strict=True)):
            for kind, text, a in items:
                if a.units:
                    self.phrases.append(self._phrase(i, kind, text, [a]))
            bag = self._phrase(i, "bag", e.id, [a for _, _, a in items], self._answers[i])
            self.bags.append(bag)
        # inverted index: unit / class / pinyin / bigram / char -> phrases that have it
        self._index: dict[str, set[int]] = {}
        self._entry_phrases: list[list[int]] = [[] for _ in self.entries]
        for pi, p in enumerate(self.phrases):
            self._entry_phrases[p.entry].append(pi)
            for key in self._keys(p.units, p.classes.keys(), p.pinyin.keys(), p.bigrams, p.chars):
                self._index.setdefault(key, set()).add(pi)
        # the same over each entry's whole text, answer included: entries whose answer alone
        # shares words with a message are scored too
        self._bag_index: dict[str, set[int]] = {}
        for bi, b in enumerate(self.bags):
            for key in self._keys(b.units, b.classes.keys(), b.pinyin.keys(), b.bigrams, b.chars):
                self._bag_index.setdefault(key, set()).add(bi)

    # --- weights --------------------------------------------------------------------------------

    def weight(self, unit: str) -> float:
        w = self._weight_cache.get(unit)
        if w is not None:
            return w
        if unit in QUESTION_WORDS:
            w = 0.35
        elif unit in FUNCTION_WORDS or (len(unit) == 1 and unit in FUNCTION_CHARS and unit not in self._content_chars):
            w = 0.1
        elif unit in GENERIC_WORDS:
            w = 0.25
        elif _COUNT_RE.match(unit) and unit not in self._df:
            w = 0.15
        elif PRODUCT_CLASS in self._unit_classes(unit):
            w = 0.3
        elif unit in self._df:
            w = self._idf_weight(self._df[unit])
            if len(unit) == 1:
                w *= 0.7
        elif unit in self._answer_df:
            # only the answers use it: as rare as it is among them, a little less sure
            w = max(_general_weight(unit), ANSWER_IDF * self._idf_weight(self._answer_df[unit]))
            if len(unit) == 1:
                w *= 0.7
        else:
            # a word the FAQ does not use: as informative as it is rare in general Chinese, but at
            # least as much as the FAQ word it is part of (生产 in 生产日期) or its class (上海: 地区)
            w = _general_weight(unit)
            for known in self._containing(unit):
                w = max(w, (0.8 if len(unit) >= 2 else 0.6) * self.weight(known))
            for c in self._unit_classes(unit):
                if c in self._class_df:
                    w = max(w, self._idf_weight(self._class_df[c]))
                elif c in self._answer_class_df:
                    w = max(w, ANSWER_IDF * self._idf_weight(self._answer_class_df[c]))
        if len(self._weight_cache) >= UNIT_CACHE:
            # every viewer brings new words (names, order numbers): a memo, not a second dictionary
            self._weight_cache.clear()
        self._weight_cache[unit] = w
        return w

    def _is_latin_name(self, unit: str) -> bool:
        return (
            len(unit) >= 3
            and unit.isascii()
            and unit.isalpha()
            and unit not in LATIN_FILLER
            and unit not in self._df
            and unit not in self._answer_df
        )

    def _idf_weight(self, df: int) -> float:
        """idf over entries, scaled to 0.5-1.5 (a word in every entry says nothing about which)."""
        idf = math.log(1 + (self._n - df + 0.5) / (df + 0.5))
        top = math.log(1 + (self._n - 0.5) / 1.5)
        return 0.5 + (idf / top if top > 0 else 1.0)

    def _containing(self, unit: str) -> list[str]:
        return [k for k in self._df if len(k) > len(unit) and unit in k]

    # --- indexing -------------------------------------------------------------------------------

    def _phrase(
        self, entry: int, kind: str, text: str, parts: list[Analysis], weak: list[Analysis] | None = None
    ) -> _Phrase:
        p = _Phrase(entry=entry, kind=kind, text=text, units={})
        for field_scale, analyses in ((1.0, parts), (ANSWER_CREDIT, weak or [])):
            for a in analyses:
                for u in a.units:
                    scale = field_scale
                    if field_scale < 1.0:
                        # a word many answers say is boilerplate (联系客服, 订单页), not evidence
                        scale *= min(1.0, ANSWER_SPREAD / self._answer_df.get(u, 1))
                    if u in p.units and p.credit_scale.get(u, 1.0) >= scale:
                        continue
                    p.units[u] = self.weight(u)
                    p.credit_scale[u] = scale
                    if len(u) >= 2 and is_cjk(u[0]):
                        p.pinyin.setdefault(pinyin_key(u), u)
                    p.bigrams |= _bigrams(u)
                    p.chars |= {c for c in u if is_cjk(c)}
                    for c in u:
                        p.char_units.setdefault(c, set()).add(u)
                    for c in self.analyzer.vocab.classes.get(u, ()):
                        p.classes.setdefault(c, set()).add(u)
                # bigrams across word boundaries too (拆开了 -> 开了), within a clause
                for seg in re.split(r"\s+", a.text):
                    p.bigrams |= _bigrams(seg)
        p.total = sum(p.units.values())
        return p

    @staticmethod
    def _keys(
        units: Iterable[str],
        classes: Iterable[str],
        pinyin: Iterable[str],
        bigrams: Iterable[str],
        chars: Iterable[str],
    ) -> list[str]:
        return (
            [f"u:{u}" for u in units]
            + [f"k:{c}" for c in classes]
            + [f"p:{p}" for p in pinyin]
            + [f"b:{b}" for b in bigrams]
            + [f"c:{c}" for c in chars]
        )

    # --- comparing ------------------------------------------------------------------------------

    def _feats(self, unit: str) -> _Feats:
        f = self._feat_cache.get(unit)
        if f is None:
            cjk = is_cjk(unit[0])
            stem = (
                tuple(c for c in unit if is_cjk(c) and c not in FUNCTION_CHARS and c not in NOUN_SUFFIXES)
                if cjk and len(unit) >= 2 and unit not in self._df and unit not in self._answer_df
                else ()
            )
            if any(c not in self._char_df for c in stem):
                stem = ()  # a character the FAQ never writes: something else (福袋 is no 收纳袋)
            f = _Feats(
                distinct=tuple(c for c in stem if self._char_df[c] <= self._distinct_df),
                content_chars=len(stem),
                names=self._class_names.get(unit, frozenset()),
                cjk=cjk,
                bigrams=frozenset(_bigrams(unit)) if cjk and len(unit) >= 2 else frozenset(),
                chars=tuple(c for c in unit if is_cjk(c)),
                # a homophone is credit for a typo (发伙 ~ 发货); a word the tables know is no typo
                # (链接 is not 连接)
                pinyin=pinyin_key(unit) if cjk and len(unit) >= 2 and unit not in self._canonical else "",
                classes=self.analyzer.vocab.classes.get(unit, frozenset()),
            )
            if len(self._feat_cache) >= UNIT_CACHE:
                self._feat_cache.clear()
            self._feat_cache[unit] = f
        return f

    def _credit(self, unit: str, other: _Phrase) -> float:
        """How well ``other`` explains ``unit``: 1 (or its scale) for the word itself, 0.85 a
        homophone, 0.75 a word of the same class, 0.5-0.8 shared characters.

        Ranking one message asks this for every word of it against every candidate phrase (about
        200 times): an FAQ phrase never changes after indexing and a word's features are fixed, so
        its answers are memoized (the words of chat repeat: 请问, 这个, 发货, 吗)."""
        scale = other.credit_scale.get(unit)
        if scale is not None:
            return scale
        memo = other.credit_memo
        got = memo.get(unit)
        if got is not None:
            return got
        # a message's own phrase lives for one ranking (complete before it is first asked), so only
        # the FAQ's phrases count against the bound
        if other.kind != "query":
            if self._credit_memo_size >= CREDIT_MEMO:
                for phrase in (*self.phrases, *self.bags):
                    phrase.credit_memo.clear()
                self._credit_memo_size = 0
            self._credit_memo_size += 1
        got = memo[unit] = self._credit_of(unit, other)
        return got

    def _credit_of(self, unit: str, other: _Phrase) -> float:
        f = self._feats(unit)
        best = 0.0
        if f.classes and not other.classes.keys().isdisjoint(f.classes):
            best = 0.75
        if f.names and best < NAME_CREDIT and not other.classes.keys().isdisjoint(f.names):
            best = NAME_CREDIT
        if not f.cjk or unit in QUESTION_WORDS:
            # question words ask different things however many characters they share: 什么 is not
            # 什么时候, 多少 is not 多少钱 (发什么快递 does not ask when it ships)
            return best
        if f.pinyin and f.pinyin in other.pinyin:
            best = 0.85
        if best < 0.8 and f.bigrams:
            best = max(best, 0.8 * len(f.bigrams & other.bigrams) / len(f.bigrams))
            best = max(best, 0.5 * sum(c in other.chars for c in f.chars) / len(f.chars))
        elif len(unit) == 1 and unit in other.chars:
            best = max(best, 0.5)
        if f.distinct and best < CHAR_CREDIT:
            # the characters must meet in one word of the other side (福袋 is not 祝福语 + 手提袋)
            near = set().union(*(other.char_units.get(c, ()) for c in f.distinct))
            shared = max((sum(c in v for c in f.distinct) for v in near), default=0)
            best = max(best, CHAR_CREDIT * shared / f.content_chars)
        return best

    def _states(self, entry: int, unit: str) -> bool:
        """Whether the entry's text (answer included, however common) has the word or its class:
        the kind of thing it answers (a fee, a time), not evidence of which entry it is."""
        units, classes = self._entry_words[entry]
        return unit in units or not classes.isdisjoint(self._unit_classes(unit))

    def _unit_classes(self, unit: str) -> frozenset[str]:
        return self.analyzer.vocab.classes.get(unit, frozenset())

    def _coverage(
        self, q_units: dict[str, float], other: _Phrase, fallback: dict[str, float] | None = None
    ) -> tuple[float, float, list[str]]:
        """(weighted share covered, weight of covered content, covered units). ``fallback``: credit
        for a word the phrase lacks but the rest of its entry has (its answer, its other phrasings)."""
        total = sum(q_units.values())
        if total <= 0:
            return 0.0, 0.0, []
        got = 0.0
        content = 0.0
        covered: list[str] = []
        for u, w in q_units.items():
            c = self._credit(u, other)
            if fallback is not None and c < 1.0:
                c = max(c, ENTRY_CREDIT * fallback.get(u, 0.0))
            if c > 0:
                got += w * c
                if c >= 0.5:
                    covered.append(u)
                    if u not in QUESTION_WORDS and w > 0.1:
                        content += w * c
        return got / total, content, covered

    def _phrase_coverage(self, q: _Phrase, p: _Phrase) -> float:
        """Share of the phrase's words the message covers (its own words the message left out)."""
        if p.total <= 0:
            return 0.0
        got = sum(w * self._credit(u, q) for u, w in p.units.items())
        return got / p.total

    # --- the verdict ----------------------------------------------------------------------------

    def analyze(self, text: str) -> tuple[Analysis, GateResult]:
        a = self.analyzer.analyze(text)
        gate = self.gate.classify(a.clean, a.emoji, a.latin_words, a.personal)
        if gate.kind == STATEMENT and gate.cue == "…了":
            # a clause ending in 了 is news, unless the news is a problem the tables know by another
            # name (宝宝屁股红了 is a 尿布疹, 边上磕了 a 破损)
            problem = next((u for u in a.units if not REPORT_CLASSES.isdisjoint(self._unit_classes(u))), None)
            if problem is None:
                problem = next((" ".join(p) for p in self._faq_problems if _says(a.units, p)), None)
            if problem is not None:
                gate = GateResult(QUESTION, problem)
        return a, gate

    def attach_semantic(self, index: SemanticIndex) -> None:
        """Add the encoder's index once it is built (it takes a while, see ``FaqStore.load``); the memo
        of verdicts given without it is dropped."""
        self.semantic = index
        self._cache = {}

    def cached(self, text: str) -> bool:
        return text in self._cache

    def match(self, text: str, *, second_opinion: bool = True) -> FaqMatch:
        """The entry that answers ``text``, or an abstention with its reason. ``second_opinion=False``
        keeps the sentence encoder out of it (it is busy); such a verdict is not memoized, so the
        message can still get the encoder's view when it comes again."""
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        result = self._match(text)
        if self.semantic is not None and self._asks_encoder(result):
            if not second_opinion:
                return result
            result = self._combined(text, result) if self.combiner else self._second_opinion(text, result)
        if len(self._cache) > 4096:  # viewers repeat themselves; a bounded memo is plenty
            self._cache.clear()
        self._cache[text] = result
        return result

    def _asks_encoder(self, m: FaqMatch) -> bool:
        if m.reason in ("chatter", "statement", "error"):
            return False
        if self.combiner is None:
            return m.faq_id is None and m.question_like
        return m.has_words and (m.faq_id is None or self.combiner.scope == "all")

    def combined_candidates(self, text: str, m: FaqMatch) -> list[Candidate]:
        """The candidate entries of a message with the features the combined decision weighs
        (``combine.py``); ``m`` is the words' verdict. Empty without the encoder."""
        if self.semantic is None:
            return []
        sims = self.semantic.similarities(text)
        if sims is None:
            return []
        a, gate = self.analyze(text)
        weights = self.message_weights(a, gate)
        # the vetoes the words know for sure stay vetoes: only question words (多少钱, 怎么办) are near
        # to nothing; a name no table knows (photoshop能看吗) the encoder cannot know either
        if not any(w > 0.3 and u not in QUESTION_WORDS for u, w in weights.items()):
            return []
        if any(self._is_latin_name(u) for u in weights):
            return []
        unstated = {e.id: bool(self._unstated(weights, i)) for i, e in enumerate(self.entries)}
        key = max(weights, key=lambda u: weights[u], default="")
        key_credit = {e.id: self._credit(key, self.bags[i]) if key else 0.0 for i, e in enumerate(self.entries)}
        found = candidates(
            words=m.candidates,
            words_best=m.best_id,
            gate_keyword=m.gate == KEYWORD,
            reason=m.reason,
            sims=sims,
            length=len(a.clean),
            unstated=unstated,
            key_weight=weights.get(key, 0.0),
            key_credit=key_credit,
        )
        # and a price question is the one kind whose absence the answers show reliably (an amount of
        # money): an entry that states none never answers it
        if PRICE_WORD in weights:
            found = [c for c in found if self._states(self._entry_at[c.faq_id], PRICE_WORD)]
        return found

    def _combined(self, text: str, m: FaqMatch) -> FaqMatch:
        """The combined decision of the words and the encoder (``combine.py``) on one message."""
        assert self.combiner is not None
        try:
            cands = self.combined_candidates(text, m)
        except Exception:  # the encoder is an extra: a failure there costs an answer, never the room
            log.exception("FAQ sentence encoder failed on %r", text[:80])
            return m
        best, p = self.combiner.decide(cands)
        if best is None:
            return m
        top = ", ".join(f"{n} {v:+.1f}" for n, v in self.combiner.contributions(best.features)[:4])
        said = f"combined words + sentence encoder: {best.faq_id} p={p:.2f} (need {self.combiner.threshold:.2f}; {top})"
        if p < self.combiner.threshold:
            if m.faq_id is None:
                return dataclasses.replace(m, semantic=said + "; not sure enough to answer", why=f"{m.why}; {said}")
            said += "; not sure enough: withdrawn"
            return dataclasses.replace(
                m, faq_id=None, entry=None, reason="combined", semantic=said, why=f"{m.why}; {said}"
            )
        entry = next(e for e in self.entries if e.id == best.faq_id)
        score = dict(m.candidates).get(best.faq_id, m.score)
        return dataclasses.replace(
            m,
            faq_id=best.faq_id,
            entry=entry,
            best_id=best.faq_id,
            score=score,
            reason="",
            semantic=said + "; answered",
            why=f"{m.why}; {said}; answered",
        )

    def _chatter_key(self, text: str) -> str:
        return "".join(self.analyzer.analyze(text).units)

    def _second_opinion(self, text: str, m: FaqMatch) -> FaqMatch:
        """Ask the sentence encoder about a question the words abstained on (see ``semantic.py``)."""
        assert self.semantic is not None
        a, gate = self.analyze(text)
        weights = self.message_weights(a, gate)
        measured = self._sole_measure(weights)
        if measured is None and not any(w > 0.3 and u not in QUESTION_WORDS for u, w in weights.items()):
            return m  # only question words (多少钱, 怎么办): nothing to be near to
        if any(self._is_latin_name(u) for u in weights):
            return m  # a name no table knows (photoshop能看吗): the encoder cannot know it either
        try:
            opinion = self.semantic.opinion(text)
        except Exception:  # the encoder is an extra: a failure there costs an answer, never the room
            log.exception("FAQ sentence encoder failed on %r", text[:80])
            return m
        if measured is not None and opinion is not None and opinion.faq_id == measured and opinion.z >= TIE_Z:
            # 大的多重啊 女生拎得动吗: only one entry states a weight, and the encoder hears that entry too
            said = (f"sentence encoder: nearest {measured} (stands out z={opinion.z:.1f}); the only entry "
                    f"that states what is asked: answered")
            return self._answered(m, measured, said)
        tie = tuple(c for c, _ in m.candidates[:2]) if m.reason == "ambiguous" else ()
        words = dict(m.candidates)
        unstated = {c for c in list(words)[:2] if self._unstated(weights, self._entry_at[c])}
        faq_id, said = decide(opinion, words, tie, unstated=unstated)
        if faq_id is not None:
            index = self._entry_at[faq_id]
            # a price question is the one kind whose absence the answers show reliably (an amount of
            # money); times and sizes hide in too many forms to veto the encoder with
            missing = [PRICE_WORD] if PRICE_WORD in weights and not self._states(index, PRICE_WORD) else []
            if missing:
                faq_id, said = None, said.replace("answered", f"but it never states {'/'.join(missing)}")
        if faq_id is None:
            return dataclasses.replace(m, semantic=said, why=f"{m.why}; {said}")
        return self._answered(m, faq_id, said)

    def _answered(self, m: FaqMatch, faq_id: str, said: str) -> FaqMatch:
        entry = self.entries[self._entry_at[faq_id]]
        score = dict(m.candidates).get(faq_id, m.score)
        return dataclasses.replace(
            m, faq_id=faq_id, entry=entry, best_id=faq_id, score=score, reason="", semantic=said, why=f"{m.why}; {said}"
        )

    def _sole_measure(self, weights: dict[str, float]) -> str | None:
        """The one entry that states the measure a message asks (多重, 多大, 多高) when no other does:
        a question of only question words is then still about something (大的多重啊 in a shop whose one
        entry with a weight is the weight entry)."""
        kinds = [KIND_ALIASES.get(u, u) for u in MEASURE_WORDS.intersection(weights)]
        if not kinds:
            return None
        stating = [e.id for i, e in enumerate(self.entries) if all(self._states(i, k) for k in kinds)]
        return stating[0] if len(stating) == 1 else None

    def _unstated(self, weights: dict[str, float], entry: int) -> list[str]:
        """What the message asks (a time, an amount, a size, a person, a price) that the entry never states."""
        missing = [u for u in KIND_WORDS.intersection(weights) if not self._states(entry, KIND_ALIASES.get(u, u))]
        if PRICE_WORD in weights and not self._states(entry, PRICE_WORD):
            missing.append(PRICE_WORD)  # 虾多少钱一斤 is not answered by how many go to a 斤
        return missing

    def _focus(self, gate: GateResult | None) -> set[str]:
        """The words of a problem/request cue (碎 -> 破损, 少了 -> 少发): what the message is about."""
        if gate is None or gate.kind != QUESTION or not gate.cue or gate.cue not in self._focus_cues:
            return set()
        return set(self.analyzer.units_of(self.analyzer.apply_synonyms(gate.cue))[0])

    def message_weights(self, a: Analysis, gate: GateResult | None = None) -> dict[str, float]:
        """How much each word of the message says about what it asks."""
        q_units: dict[str, float] = {}
        focus = self._focus(gate)
        chinese = any(is_cjk(c) for c in a.original)
        content = [u for u in a.units if u not in QUESTION_WORDS and self.weight(u) > 0.3]
        # a problem the message ends on is what it reports (快递压坏了); one it starts from is the
        # condition of what it asks (耳机坏了给修吗: the repair)
        last = content[-1] if content and gate is not None and gate.kind == QUESTION else None
        for u in a.units:
            w = self.weight(u)
            if chinese and self._is_latin_name(u):
                # an English word in a Chinese message that no table or FAQ knows is most often a
                # name (python课, wps能用吗): as weighty as a rare Chinese word
                w = max(w, LATIN_NAME_WEIGHT)
            report = not REPORT_CLASSES.isdisjoint(self._unit_classes(u))
            if w > 0.3 and (u in focus or (u == last and report)):
                # what went wrong is what the message is about (快递压坏了: the damage, not the courier)
                w *= PROBLEM_BOOST
            elif (report or ARRIVAL_CLASS in self._unit_classes(u)) and (
                last is not None and u != last and self.weight(last) >= 1.0
            ):
                # ... unless something weighty follows: then it is the condition (坏了保修吗), as an
                # arrival is (到了多久能安装: the installing, not the delivery)
                w *= CONDITION_WEIGHT
            q_units[u] = max(q_units.get(u, 0.0), w)
        for i, u in enumerate(a.units[:-1]):
            nxt = a.units[i + 1]
            if (
                nxt == MODIFIER_MARK
                and u in q_units
                and u not in QUESTION_WORDS
                and any(self.weight(v) >= 1.0 and v not in QUESTION_WORDS for v in a.units[i + 2 :])
            ):
                # 真皮的能水洗吗: what the thing is (真皮的) is the condition, the washing is asked
                q_units[u] *= CONDITION_WEIGHT
            if u in WHICH_WORDS and nxt in q_units and nxt not in QUESTION_WORDS and q_units[nxt] > 0.3:
                # 发什么快递, 鞋底什么材质, 哪个牌子: the thing after 什么 / 哪个 is what is asked for
                q_units[nxt] *= ASKED_BOOST
        if not RETURN_ACTIONS.isdisjoint(q_units):
            for u in RETURN_REASONS.intersection(q_units):
                # 买错了可以退吗 asks about returning; why is context
                q_units[u] = min(q_units[u], REASON_WEIGHT)
        fee = [u for u in q_units if u == PRICE_WORD or FEE_CLASS in self._unit_classes(u)]
        if fee and gate is not None and gate.kind == QUESTION:
            # 快递到新疆要钱吗 asks what it costs to get there: the money word is what is asked, the
            # parcel and its arriving are context
            for u in fee:
                q_units[u] *= INTENT_BOOST
            if ARRIVAL_WORD in q_units:
                q_units[ARRIVAL_WORD] = min(q_units[ARRIVAL_WORD], 0.3)
        if not TIME_WORDS.intersection(q_units) and not TIME_POINTS.isdisjoint(a.units):
            # 今天拍今天发吗: a yes/no question about a day asks when
            q_units[WHEN_WORD] = self.weight(WHEN_WORD)
        return q_units

    def rank(
        self, a: Analysis, gate: GateResult | None = None, weights: dict[str, float] | None = None
    ) -> list[Ranked]:
        """Entries that share anything with the message, best first."""
        q_units = weights if weights is not None else self.message_weights(a, gate)
        if not q_units:
            return []
        q = _Phrase(entry=-1, kind="query", text=a.text, units=q_units)
        q.credit_scale = dict.fromkeys(q_units, 1.0)
        tally: dict[int, float] = {}
        bag_tally: dict[int, float] = {}
        for u, w in q_units.items():
            f = self._feats(u)
            if f.pinyin:
                q.pinyin.setdefault(f.pinyin, u)
            q.bigrams |= f.bigrams
            q.chars.update(f.chars)
            for c in f.classes:
                q.classes.setdefault(c, set()).add(u)
            # phrases that can give this word any credit; single characters only look for themselves
            keys = [f"u:{u}", *(f"k:{c}" for c in f.classes | f.names), *(f"b:{b}" for b in f.bigrams)]
            if f.pinyin:
                keys.append(f"p:{f.pinyin}")
            if len(u) == 1 or (f.cjk and not f.bigrams):
                keys += [f"c:{c}" for c in f.chars]
            else:
                keys += [f"c:{c}" for c in f.distinct]
            hit: set[int] = set()
            bag_hit: set[int] = set()
            for key in keys:
                hit |= self._index.get(key, _EMPTY)
                bag_hit |= self._bag_index.get(key, _EMPTY)
            for pi in hit:
                tally[pi] = tally.get(pi, 0.0) + w
            for bi in bag_hit:
                bag_tally[bi] = bag_tally.get(bi, 0.0) + w
        for seg in a.text.split():
            q.bigrams |= _bigrams(seg)
        q.total = sum(q_units.values())
        # full scoring for the phrases that could explain the most of the message
        candidates = sorted(tally, key=lambda pi: (-tally[pi], pi))[:MAX_CANDIDATES]
        present = {self.phrases[pi].entry for pi in candidates}
        by_text = [
            bi for bi in sorted(bag_tally, key=lambda bi: (-bag_tally[bi], bi))[:BAG_CANDIDATES] if bi not in present
        ]
        for bi in by_text:
            # an entry only its whole text brought in: its phrases that share anything (else none)
            candidates += [pi for pi in self._entry_phrases[bi] if pi in tally]
        best: dict[int, Ranked] = {}
        entry_credit: dict[int, dict[str, float]] = {}
        for pi in candidates:
            p = self.phrases[pi]
            fallback = entry_credit.get(p.entry)
            if fallback is None:
                bag = self.bags[p.entry]
                fallback = entry_credit[p.entry] = {u: self._credit(u, bag) for u in q_units}
            cov_q, content, covered = self._coverage(q_units, p, fallback)
            if cov_q <= 0:
                continue
            cov_p = self._phrase_coverage(q, p)
            s = cov_q**Q_EXP * cov_p ** (1 - Q_EXP)
            if p.entry not in best or s > best[p.entry].phrase_score:
                best[p.entry] = Ranked(s, p.entry, p, s, cov_q, cov_p, content, covered)
        for bi in by_text:
            if bi not in best and self._entry_phrases[bi]:
                # only the answer shares words with the message: its question stands for it
                pi = self._entry_phrases[bi][0]
                best[bi] = Ranked(0.0, bi, self.phrases[pi], 0.0, 0.0, 0.0, 0.0, [])
        asked = [u for u in q_units if u in ASKING_WORDS]
        # 发什么快递 is answered by an answer that names a courier: the thing asked for stands for 什么
        # (哪个 is not: 几号链接 asks which link of the show, not the one an answer names)
        asked_for = [a.units[i + 1] for i, u in enumerate(a.units[:-1]) if u == WHAT_WORD]
        heaviest = max(q_units, key=lambda u: q_units[u])
        # entries one of whose phrasings says the heaviest word: the whole-text route is for messages
        # no phrasing explains (怎么联系客服 is for the entry that asks about 客服, not for one whose
        # answer says 联系客服)
        phrased = {
            e
            for e, r in best.items()
            if self._credit(heaviest, r.phrase) >= 0.75
            and all(self._states(e, KIND_ALIASES.get(u, u)) for u in KIND_WORDS.intersection(q_units))
        }
        for r in best.values():
            bag = self.bags[r.entry]
            bag_cov, bag_content, bag_covered = self._coverage(q_units, bag)
            r.score = (1 - BAG_SHARE) * r.phrase_score + BAG_SHARE * bag_cov
            if (
                bag_content >= DOC_CONTENT
                and DOC_FACTOR * bag_cov > r.score
                # the entry's text holds the message's weightiest word, and asks what it asks
                # (几号链接 is not answered by an answer that mentions a 链接)
                and q_units[heaviest] >= DOC_KEY_WEIGHT
                and self._credit(heaviest, bag) >= 0.75
                and all(
                    self._states(r.entry, u) or (u == WHAT_WORD and any(self._states(r.entry, v) for v in asked_for))
                    for u in asked
                )
                and not (phrased - {r.entry})
            ):
                # no phrasing fits, but the entry as a whole (its answer too) explains the message
                # and something weighty in it: 有防伪码吗 next to an answer that names the 防伪码
                r.score = DOC_FACTOR * bag_cov
                r.via_text = True
            r.content = max(r.content, bag_content)
            if bag_cov > r.cov_q:
                r.covered = bag_covered
        for u in KIND_WORDS.intersection(q_units):
            # 多久 / 什么时候 ask for a time, 多少 an amount; an entry that states none and never asks
            # one answers something else (能看多久: the validity, not the download entry)
            kind = KIND_ALIASES.get(u, u)
            for e, r in best.items():
                if not self._states(e, kind):
                    r.score *= KIND_MISS
        if q_units[heaviest] >= self.thresholds.key_weight:
            # entries that leave the message's weightiest word unexplained rank below one that
            # explains it (港澳台能发吗: the postage answer names 港澳台, the dispatch one does not)
            explains = {
                e: self._credit(heaviest, r.phrase) > 0 or self._credit(heaviest, self.bags[e]) > 0
                for e, r in best.items()
            }
            if any(explains.values()):
                for e, r in best.items():
                    if not explains[e]:
                        r.score *= KEY_MISS
        for u in q_units:
            if q_units[u] < SLOT_WEIGHT or SLOT_CLASSES.isdisjoint(self._unit_classes(u)):
                continue
            # a place, courier or colour the message names: an entry that names that very one
            # (港澳台 in 港澳台不发货) answers it better than one that names another (浙江仓发货)
            exact = {e for e in best if u in self.bags[e].credit_scale}
            if exact:
                for e, r in best.items():
                    if e not in exact:
                        r.score *= SLOT_MISS
        return sorted(best.values(), key=lambda r: (-r.score, r.entry))

    def _match(self, text: str) -> FaqMatch:
        a, gate = self.analyze(text)
        if self._chatter and "".join(a.units) in self._chatter:
            return FaqMatch(None, 0.0, None, gate=gate.kind, reason="chatter", why="marked as chatter by ops")
        if gate.kind == STATEMENT:
            return FaqMatch(None, 0.0, None, gate=gate.kind, reason="statement", why=f"gate: {gate}")
        weights = self.message_weights(a, gate)
        ranked = self.rank(a, gate, weights)
        has_words = any(self.weight(u) > 0.1 for u in a.units)
        if not ranked:
            why = f"gate: {gate}; no words the FAQ knows"
            return FaqMatch(None, 0.0, None, gate=gate.kind, reason="no_content", why=why, has_words=has_words)
        top = ranked[0]
        ru_score, ru = (ranked[1].score, self.entries[ranked[1].entry].id) if len(ranked) > 1 else (0.0, None)
        entry = self.entries[top.entry]
        unmatched = tuple(u for u in dict.fromkeys(a.units) if u not in top.covered and self.weight(u) > 0.1)
        t = self.thresholds
        need = t.question if gate.kind == QUESTION else t.keyword
        why = (
            f"gate: {gate}; best {entry.id} {top.score:.2f} via "
            + ("its whole text; best phrase " if top.via_text else "")
            + f"{top.phrase.kind} '{top.phrase.text}'"
            f" (covers {top.cov_q:.0%} of the message, message covers {top.cov_p:.0%} of it)"
            f"; matched {'/'.join(top.covered) or '-'}; unmatched {'/'.join(unmatched) or '-'}"
            f"; runner-up {ru or '-'} {ru_score:.2f}"
        )
        score = round(top.score, 4)
        common = dict(
            runner_up=ru,
            runner_up_score=round(ru_score, 4),
            best_id=entry.id,
            gate=gate.kind,
            matched=tuple(top.covered),
            unmatched=unmatched,
            has_words=has_words,
            candidates=tuple((self.entries[r.entry].id, round(r.score, 4)) for r in ranked[:8]),
        )
        if top.content < t.min_content:
            return FaqMatch(None, score, None, reason="no_content", why=why + "; no content word matched", **common)
        if top.score < need:
            return FaqMatch(None, score, None, reason="below_threshold", why=why + f"; below {need:.2f}", **common)
        if gate.kind == KEYWORD and top.cov_p < t.keyword_phrase and not (top.cov_q >= 0.9 and top.score >= 0.8):
            # no question cue: the message must say most of a phrase, not just name a product
            # (养生壶!!) or a place (北京), unless all of it is a close fit (fa piao, 激活失败)
            why += f"; says only {top.cov_p:.0%} of any phrase"
            return FaqMatch(None, score, None, reason="below_threshold", why=why, **common)
        key = max(weights, key=lambda u: weights[u], default="")
        if (
            top.score < t.key_threshold
            and weights.get(key, 0.0) >= t.key_weight
            and self._credit(key, top.phrase) == 0
            and self._credit(key, self.bags[top.entry]) == 0
        ):
            # the heaviest word of the message is left unexplained (孕妇能用吗, 福袋什么时候发):
            # the entry answers a neighbouring question, not this one
            why += f"; key word {key} unexplained and below {t.key_threshold:.2f}"
            return FaqMatch(None, score, None, reason="below_threshold", why=why, **common)
        missing = self._unstated(weights, top.entry)
        if missing:
            # the message asks a time, an amount, a size or a person the entry never states
            why += f"; asks {'/'.join(missing)}, which the entry never states"
            return FaqMatch(None, score, None, reason="below_threshold", why=why, **common)
        margin = t.margin
        if len(ranked) > 1 and top.cov_p - ranked[1].cov_p >= TWIN_SAYS:
            # near twins (什么时候发货 / 发货后几天到): the message says all of one and leaves the
            # other's own words (到) unsaid; a smaller lead will do
            margin *= 0.5
        if top.score - ru_score < margin:
            why += f"; margin {top.score - ru_score:.2f} < {margin:.2f}"
            return FaqMatch(None, score, None, reason="ambiguous", why=why, **common)
        return FaqMatch(entry.id, score, entry, why=why, **common)


@dataclass(slots=True)
class Ranked:
    score: float
    entry: int
    phrase: _Phrase
    phrase_score: float
    cov_q: float  # share of the message the phrase explains
    cov_p: float  # share of the phrase the message says
    content: float  # weight of matched content words
    covered: list[str]
    via_text: bool = False  # scored on the entry's whole text, not on one phrasing


__all__ = ["KEYWORD", "QUESTION", "STATEMENT", "FaqMatch", "FaqMatcher", "Thresholds"]
