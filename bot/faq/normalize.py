"""Danmaku text -> the canonical words the matcher compares.

Steps, in order (each one is a reason a viewer's message and an FAQ example look different):

1. ``clean``: NFKC (full-width -> half-width), lower case, emoji and ``[表情]`` codes out (kept aside
   for the gate), OpenCC t2s, runs of one character cut to two (啊啊啊 -> 啊啊, ？？ -> ？),
   ``@mentions`` and 主播-style address out (a one-clause question to the anchor as a person,
   主播几岁了, is flagged for the gate first); a child's age, a body weight or height in a size or
   feeding question become 年龄 / 体重 / 身高; 几号 before a thing (几号链接) asks which one.
2. ``read_latin``: abbreviations, English and pinyin into Chinese through the vocabulary
   (sf -> 顺丰, how long -> 多久, bao you -> 包邮; pinyin is read against the words the vocabulary
   and the FAQ itself know; consonant-only initials against the FAQ's own words: zp -> 正品,
   jhm -> 激活码; numbers stay glued to their Chinese: 7天无理由).
3. synonyms: variants of 2+ characters rewritten longest-first (退获 -> 退货, 邮费 -> 运费).
4. jieba cuts words (no HMM guessing: predictable cuts on both sides); single-character variants are
   rewritten only when cut as a word (卷 -> 优惠券, but not in 蛋卷; 换 before an object, 换奶粉,
   stays 换); class words added (广州 -> 地区); a clause-final 到, or 到 before a place, is arriving
   (到货), or reaching an account after money (钱什么时候到 -> 到账).
5. runs of single characters that jieba did not know are glued back into one unit (退+单 -> 退单,
   花+呗 -> 花呗), so an unknown word counts as one thing the FAQ must explain.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.faq.vocab import Vocabulary, canon
from rules.pinyin_data import char_readings, pypinyin

# single characters that carry grammar, not content: they never glue into an unknown word
FUNCTION_CHARS = frozenset(
    "的了吗呢吧啊呀嘛哦哈啦喔哇嗯呐是有在我你他她它这那个都也就还要能会和跟给把被让不没很太真好又再才去来到"
    "对为从向等着过得地之与及或而且但如若请问下上里中内后前一两二三四五六七八九十几多少些点次么吧咯嘞滴想"
)
ADDRESS_WORDS = (
    "主播们",
    "主播",
    "播播",
    "主包",
    "老板娘",
    "老板",
    "家人们",
    "家人",
    "姐妹们",
    "姐妹",
    # chat's own vocatives (宝子们, 集美们): 宝宝 and 宝贝 alone stay words (a baby, an item on sale)
    "宝子们",
    "宝子",
    "宝宝们",
    "宝贝们",
    "集美们",
    "集美",
    "兄弟们",
    "铁子们",
    "铁子",
    "小姐姐",
    "小哥哥",
    "老铁们",
    "老铁",
    "亲们",
    "亲亲",
    "美女",
    "帅哥",
    "店家",
    "商家",
    "掌柜的",
    "掌柜",
)
_ADDRESS_RE = re.compile("|".join(sorted(ADDRESS_WORDS, key=len, reverse=True)))
# A question to the anchor as a person (主播几岁了, 主播用的什么手机, 主播家的猫叫什么): chatter, not a
# question about the shop. Only the anchor's address counts (not 家人们), and only before what is the
# anchor's own: age, family, pets, looks, what they use or wear; 主播家的猫粮 is still the shop's goods.
_ANCHOR = r"(?:主播|播播|主包|老板娘|美女|帅哥|小姐姐|小哥哥|(?<![\u4e00-\u9fff])你(?!们|家))"
_OWN = (
    r"(?:猫|狗|猫咪|狗狗|宠物|孩子|娃|宝宝|儿子|女儿|男朋友|女朋友|男友|女友|老公|老婆|对象|爸妈|爸爸|妈妈|"
    r"名字|年龄|生日|头发|发型|皮肤|声音|眼睛|手|脸|妆)"
)
PERSONAL_RE = re.compile(
    _ANCHOR
    + r"(?:"
    + r"(?:你)?(?:是)?(?:今年)?(?:几岁|多大了|多大年纪|多少岁|年龄|属什么|什么星座|哪里人|哪的人|是哪里的"
    + r"|结婚|单身|多高|身高|体重|多重)"
    # the anchor's day: 主播吃饭了吗, 主播几点下播, 主播累不累
    + r"|(?:你)?(?:今天|今晚|晚上|中午|早上)?(?:几点|什么时候|啥时候)?(?:吃饭|吃了饭|吃过饭|吃晚饭|吃午饭|吃早饭|"
    + r"下播|睡觉|休息|下班|累不累|累吗|累了|渴不渴|困不困)"
    + r"|(?:你)?(?:有)?(?:男朋友|女朋友|对象|老公|老婆|孩子|宝宝|娃|儿子|女儿)"
    + r"|(?:的|家的?|自己的)"
    + _OWN
    + r"(?![粮砂条])"
    + r"|(?:你|自己)?(?:平时)?(?:用的|穿的|戴的|涂的|喝的|吃的|养的|开的|住的)"
    + r"|(?:你|自己|平时)+(?:用|穿|戴|涂|喝|吃|养|开)(?:什么|啥|哪)"
    # what the anchor (or the anchor's home) uses, wears or eats: 主播穿多大码, 主播吃过吗, 主播家开的几匹
    + r"|(?:家|自己|平时)*(?:用|穿|戴|涂|喝|吃|养|开|住)(?:过|的|了)?(?:吗|没|多大|多少|几|什么|啥|哪)"
    + r")"
)
_ANCHOR_HINT_RE = re.compile("主播|播播|主包|老板娘|美女|帅哥|小姐姐|小哥哥|你")
_LONE_QIN_RE = re.compile(r"(?:^|(?<=[\s,，。!！?？]))亲(?=$|[\s,，。!！?？~])")
_EMOTE_CODE_RE = re.compile(r"\[[^\[\]\s]{1,12}\]")
_MENTION_RE = re.compile(r"@\S{1,24}(?:\s|$)")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_RUN_RE = re.compile(r"[a-z0-9]+(?:[ '\-]+[a-z0-9]+)*")
_LATIN_WORD_RE = re.compile(r"[a-z]+|\d+(?:\.\d+)?")
_A_NOT_A_RE = re.compile(r"([\u4e00-\u9fff]{1,2})[不没]\1")
# consonants only: pinyin initials (zp, tk, jhm), never a syllable or an English word
_INITIALS_RE = re.compile(r"^[bcdfghjklmnpqrstwxyz]{2,4}$")
LATIN_UNITS = frozenset("kg g mg cm mm km ml ct pcs pc ps pdf ppt wps tv dvd cd dj mp nb".split())
_VOLT_RE = re.compile(r"(\d{2,3})\s*(?:v|伏特?)(?![a-z])")
# a child's age (两岁半, 5岁, 十个月大): what a "适合几岁" entry is about
_AGE_RE = re.compile(r"[0-9一二两三四五六七八九十]+(?:\.5)?\s*(?:周岁|岁半?|个月大)")
# a body weight or height is only that in a question about what to wear, pick or feed
_BODY_HINT_RE = re.compile(r"(?:[斤米]|kg|cm).*(?:穿|码|选|喂|吃)|(?:穿|码|选|喂|吃).*(?:[斤米]|kg|cm)")
_BODY_RE = re.compile(
    r"(?<![0-9.])(?:"
    r"(?:[0-9]+(?:\.[0-9]+)?|[一二两三四五六七八九十百]+)\s*(斤|公斤|kg)(?![a-z])"  # 12斤, 60kg
    r"|1[4-9][0-9]\s*(cm)(?![a-z])"  # 170cm
    r"|[1一]\s*(米)\s*[0-9五六七八九]+"  # 一米六五, 1米7
    r")"
)


def _body_word(m: re.Match[str]) -> str:
    return " 体重 " if m.group(1) else " 身高 "


_WHICH_NUMBER_RE = re.compile(r"[几哪]号(?=链接|电池|码|色|线|口|款|包|袋|箱|盒|楼|柜|仓|窗口|车)")
# verbs whose lone form the tables read as an after-sales action, unless an object follows
OBJECT_VERBS = frozenset("换")
# a verb before one of these is part of a longer verb phrase (退到, 寄回), not the bare verb
COMPLEMENTS = frozenset("到回给成")
# marks the edges of a word the tables know, for the word cutter only (control characters never
# survive ``clean``, and this one is whitespace to str.split/strip, so it never joins two units)
WORD_SEP = "\x1f"
# words with one of these are money: 钱什么时候到 asks when it reaches the account
MONEY_CHARS = frozenset("钱款赔费")
# classes of words that name where a parcel goes (到北京 is arriving, not the preposition)
DESTINATION_CLASSES = frozenset(("地区", "国外"))
# particles that may close a clause after its last word (几天到啊, 能到吗)
FINAL_PARTICLES = frozenset("吗呢吧啊呀了啦么嘛哦哈")
SEPARATORS = " ,，.。!！?？~～、;；:：…\"'“”‘’()（）【】[]《》<>/\\|-_=+*&^%$#`"


def is_cjk(ch: str) -> bool:
    return bool(_CJK_RE.match(ch))


def _is_symbol(ch: str) -> bool:
    """Emoji, pictographs, marks and unassigned code points: decoration, not words."""
    cat = unicodedata.category(ch)
    return cat in ("So", "Sk", "Cs", "Co", "Cn", "Mn", "Me", "Cf", "Cc") and ch not in "\n\t"


def _collapse_repeats(text: str) -> str:
    out: list[str] = []
    run = 0
    for i, ch in enumerate(text):
        run = run + 1 if i and ch == text[i - 1] else 1
        if ch.isdigit():
            out.append(ch)
        elif ch in SEPARATORS or not ch.isalnum():
            if run == 1:
                out.append(ch)
        elif ch.isascii():
            if run <= 2:  # soooo -> soo; "good" keeps its double o
                out.append(ch)
        elif run <= 2:  # 啊啊啊啊 -> 啊啊, 哈哈哈哈 -> 哈哈 (the gate still sees laughter)
            out.append(ch)
    return "".join(out)


@functools.cache
def valid_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable pypinyin knows, with a vowel (no bare m/n/ng interjections)."""
    pinyin_dict = char_readings()

    out: set[str] = set()
    for readings in pinyin_dict.values():
        for r in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFD", r) if not unicodedata.combining(c))
            plain = plain.replace("ü", "v")
            if plain.isascii() and re.search(r"[aeiouv]", plain):
                out.add(plain)
    return frozenset(out)


def split_pinyin(word: str) -> list[str] | None:
    """``kefu`` -> [ke, fu]; None when the word is not pinyin. Fewest syllables win (xian, not xi an)."""
    syll = valid_syllables()
    n = len(word)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for i in range(n):
        if best[i] is None:
            continue
        for j in range(i + 1, min(n, i + 6) + 1):
            piece = word[i:j]
            if piece in syll:
                cand = [*best[i], piece]  # type: ignore[misc]
                if best[j] is None or len(cand) < len(best[j]):  # type: ignore[arg-type]
                    best[j] = cand
    return best[n]


@functools.cache
def _pinyin_of(word: str) -> tuple[str, ...]:
    p = pypinyin()
    return tuple(p.lazy_pinyin(word, style=p.Style.NORMAL, v_to_u=False, errors="ignore"))


def pinyin_key(word: str) -> str:
    """Toneless pinyin of a CJK word (homophones share it: 发伙 and 发货 -> fa huo)."""
    return " ".join(_pinyin_of(word))


class _Jieba:
    """A private jieba tokenizer (the rules engine or others may add words to the global one)."""

    _lock = threading.Lock()
    _tok = None
    _added: set[str] = set()  # noqa: RUF012 - process-wide on purpose

    @classmethod
    def get(cls, words: Iterable[str] = ()):
        with cls._lock:
            if cls._tok is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                # the process-wide dictionary (the rules engine loads it too), and a table of our own
                # over the same word strings and counts: a second jieba.Tokenizer().initialize()
                # read the whole dictionary again (about 80 MB), this copy costs about 15 MB
                jieba.initialize()
                tok = jieba.Tokenizer()
                tok.FREQ, tok.total = dict(jieba.dt.FREQ), jieba.dt.total
                tok.initialized = True
                cls._tok = tok
            for w in words:
                if w not in cls._added and len(w) >= 2 and all(is_cjk(c) for c in w):
                    cls._tok.add_word(w)
                    cls._added.add(w)
            return cls._tok


def _next_word(tokens: list[str], i: int) -> str:
    """The token after ``tokens[i]`` in the same clause ("" at a clause end)."""
    i += 1
    while i < len(tokens) and tokens[i] and not tokens[i].strip(WORD_SEP):
        i += 1
    if i >= len(tokens):
        return ""
    nxt = tokens[i]
    return "" if not nxt.strip() or all(c in SEPARATORS for c in nxt) else nxt


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the matcher and the gate need to know about one text."""

    original: str
    clean: str  # after steps 1-2: what the gate reads
    text: str  # after step 3: synonyms applied
    units: tuple[str, ...]  # the words, canonical, in order (function words included)
    classes: frozenset[str] = field(default_factory=frozenset)
    emoji: tuple[str, ...] = ()
    latin_words: tuple[str, ...] = ()  # latin words as typed (the gate's English cues)
    personal: bool = False  # a one-clause question to the anchor as a person (主播几岁了)

    @property
    def empty(self) -> bool:
        return not self.units


class Analyzer:
    """Normalizes text with one vocabulary; built once per FAQ version (it learns the FAQ's words)."""

    def __init__(self, vocab: Vocabulary, corpus: Iterable[str] = (), common: str = "") -> None:
        import ahocorasick

        self.vocab = vocab
        self._auto = ahocorasick.Automaton()
        for variant, canonical in vocab.strings.items():
            self._auto.add_word(variant, (len(variant), canonical))
        if len(self._auto):
            self._auto.make_automaton()
        words = vocab.words
        self._tok = _Jieba.get(sorted(words))
        # pinyin reading: syllables -> word. Common single characters first, then the tables' words,
        # then the FAQ's own words; the first word seen for a reading wins. (Built before the FAQ's
        # own text is read: that text may hold pinyin-looking words itself.)
        self._lexicon: dict[tuple[str, ...], str] = {}
        for ch in common:
            self._lexicon.setdefault(_pinyin_of(ch), ch)
        for w in sorted(words, key=lambda w: (len(w), w)):
            if len(w) >= 2:
                self._lexicon.setdefault(_pinyin_of(w), w)
        self._max_syll = max((len(k) for k in self._lexicon), default=1)
        self._initials: dict[str, str] = {}
        self._faq_words: frozenset[str] = frozenset()

        # pinyin initials (zp = 正品, tk = 退款, jhm = 激活码): read against the FAQ's own words only, the
        # words a viewer of this shop abbreviates; the word the FAQ uses most wins a shared reading
        seen: dict[str, int] = {}
        for text in corpus:
            cut = self._cut(self.apply_synonyms(self.read_latin(self.clean(text)[0])))
            for i, w in enumerate(cut):
                if len(w) >= 2 and all(is_cjk(c) for c in w):
                    self._lexicon.setdefault(_pinyin_of(w), w)
                    seen[w] = seen.get(w, 0) + 2
                if i + 1 < len(cut):
                    pair = w + cut[i + 1]  # 退换 + 货: the abbreviation may span two cut words
                    if len(pair) <= 4 and all(is_cjk(c) for c in pair):
                        seen[pair] = seen.get(pair, 0) + 1
        self._max_syll = max((len(k) for k in self._lexicon), default=1)
        ranked: dict[str, tuple[int, str]] = {}
        for w, n in seen.items():
            key = "".join(s[:1] for s in _pinyin_of(w))
            if len(key) == len(w) and (key not in ranked or (n, len(w)) > (ranked[key][0], len(ranked[key][1]))):
                ranked[key] = (n, w)
        self._initials = {k: w for k, (_, w) in ranked.items()}
        self._faq_words = frozenset(seen)

    # --- step 1 ---------------------------------------------------------------------------------

    @staticmethod
    def is_personal(text: str) -> bool:
        """One clause that asks the anchor about themselves (主播几岁了, 主播用的什么手机)."""
        text = canon(text)
        if not PERSONAL_RE.search(text):
            return False
        clauses = [c for c in re.split(r"[\s,，。.!！?？~～、;；:：…]+", _EMOTE_CODE_RE.sub(" ", text)) if c]
        return len([c for c in clauses if _CJK_RE.search(c)]) <= 1

    @staticmethod
    def clean(text: str) -> tuple[str, tuple[str, ...]]:
        """Width, case, emoji, t2s, repeats, mentions and address; returns (text, emoji removed)."""
        text = unicodedata.normalize("NFKC", text).lower()
        text = _EMOTE_CODE_RE.sub(" ", text)
        emoji = tuple(ch for ch in text if _is_symbol(ch) and not ch.isspace())
        text = "".join(" " if _is_symbol(ch) else ch for ch in text)
        text = canon(text)  # t2s (and NFKC again is a no-op)
        text = _collapse_repeats(text)
        text = _MENTION_RE.sub(" ", text + " ") if "@" in text else text
        text = _ADDRESS_RE.sub(" ", text)
        text = _LONE_QIN_RE.sub(" ", text)
        text = _AGE_RE.sub(" 年龄 ", text) if ("岁" in text or "个月大" in text) else text
        # a body weight or height (12斤, 60kg, 一米六五, 170cm) in a question is what a size is chosen by
        text = _BODY_RE.sub(_body_word, text) if _BODY_HINT_RE.search(text) else text
        # 几号 before a thing asks which one (几号链接, 几号电池), not which day
        text = _WHICH_NUMBER_RE.sub("哪个", text) if "号" in text else text
        return " ".join(text.split()), emoji

    # --- step 2 ---------------------------------------------------------------------------------

    def read_latin(self, text: str) -> str:
        """Abbreviations, English and pinyin inside the text -> Chinese words (others kept as typed)."""
        if not re.search(r"[a-z0-9]", text):
            return text
        text = _VOLT_RE.sub(lambda m: f" {m.group(1)} 电压 ", text)
        # a bare number stays glued to its Chinese (7天无理由, 5号电池): only letters need reading
        return _LATIN_RUN_RE.sub(lambda m: m.group(0) if m.group(0).isdigit() else self._read_run(m.group(0)), text)

    def _read_run(self, run: str) -> str:
        words = _LATIN_WORD_RE.findall(run)
        out: list[str] = []
        gap: list[str] = []
        i = 0
        max_len = 4
        while i < len(words):
            for n in range(min(max_len, len(words) - i), 0, -1):
                canonical = self.vocab.latin.get(tuple(words[i : i + n]))
                if canonical is not None and n == 1:
                    canonical = self._own_reading(words[i], canonical)
                if canonical is not None:
                    out.append(self._read_gap(gap))
                    gap = []
                    out.append(canonical)
                    i += n
                    break
            else:
                gap.append(words[i])
                i += 1
        out.append(self._read_gap(gap))
        return " " + " ".join(p for p in out if p) + " "

    def _own_reading(self, word: str, canonical: str) -> str:
        """An initialism the shipped table reads one way (zp: 正品) is this FAQ's own word with the same
        initials when the FAQ never uses the table's reading (zp: 赠品 in a shop with no 正品 entry)."""
        if not _INITIALS_RE.match(word) or canonical in self._faq_words:
            return canonical
        own = self._initials.get(word)
        return own if own is not None else canonical

    def _read_gap(self, words: list[str]) -> str:
        """Latin words no table knows: read them as pinyin where every word is pinyin."""
        if not words:
            return ""
        pieces: list[str] = []
        syllables: list[str] = []

        def flush() -> None:
            if syllables:
                pieces.append(self._read_syllables(syllables))
                syllables.clear()

        for i, w in enumerate(words):
            split = None if w.isdigit() else split_pinyin(w)
            if split is None:
                flush()
                initials = None
                # 60kg, 20cm: a unit after a number is no abbreviation of a Chinese word
                if _INITIALS_RE.match(w) and w not in LATIN_UNITS and not (i and words[i - 1][:1].isdigit()):
                    initials = self._initials.get(w)
                pieces.append(initials or w)
            else:
                syllables.extend(split)
        flush()
        return " ".join(pieces)

    def _read_syllables(self, syll: list[str]) -> str:
        # DP: cover the syllables with lexicon words, fewest pieces first, unknown syllables cost most
        n = len(syll)
        cost: list[tuple[int, int]] = [(0, 0)] + [(10**9, 0)] * n
        back: list[tuple[int, str]] = [(0, "")] * (n + 1)
        for i in range(n):
            if cost[i][0] >= 10**9:
                continue
            for j in range(i + 1, min(n, i + self._max_syll) + 1):
                word = self._lexicon.get(tuple(syll[i:j]))
                if word is None and j == i + 1:
                    word, unknown = syll[i], 1
                elif word is None:
                    continue
                else:
                    unknown = 0
                cand = (cost[i][0] + 1 + 5 * unknown, 0)
                if cand < cost[j]:
                    cost[j] = cand
                    back[j] = (i, word)
        parts: list[str] = []
        j = n
        while j > 0:
            i, word = back[j]
            parts.append(word)
            j = i
        # unknown syllables stay latin, separated from their neighbours
        return "".join(p if is_cjk(p[0]) else f" {p} " for p in reversed(parts)).strip()

    # --- step 3 ---------------------------------------------------------------------------------

    def apply_synonyms(self, text: str, sep: str = "") -> str:
        """Variants -> canonical words, leftmost-longest. ``sep`` goes around every word the tables
        know, so the word cutter cannot glue it to a neighbour (多少钱包邮 is 多少钱 + 包邮, not 钱包)."""
        if not len(self._auto) or not text:
            return text
        # leftmost-longest, non-overlapping
        spans: list[tuple[int, int, str]] = []
        for end, (length, canonical) in self._auto.iter(text):
            spans.append((end - length + 1, end + 1, canonical))
        if not spans:
            return text
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        out: list[str] = []
        pos = 0
        for start, end, canonical in spans:
            if start < pos:
                continue
            out.append(text[pos:start])
            out.append(f"{sep}{canonical}{sep}" if sep else canonical)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def _collapse_a_not_a(self, text: str) -> str:
        """包邮不包邮 -> 包邮 ... 吗; words like 有没有/是不是 are left to the word cutter."""
        changed = False

        def sub(m: re.Match[str]) -> str:
            nonlocal changed
            if self._tok.FREQ.get(m.group(0)) or m.group(0) in self.vocab.tokens:
                return m.group(0)
            changed = True
            return m.group(1)

        out = _A_NOT_A_RE.sub(sub, text)
        return out + " 吗" if changed else out

    # --- steps 4-5 ------------------------------------------------------------------------------

    def _cut(self, text: str) -> list[str]:
        return [t for t in self._tok.lcut(text, HMM=False) if t.strip() and t not in SEPARATORS]

    def units_of(self, text: str) -> tuple[list[str], set[str]]:
        tokens = self._tok.lcut(text, HMM=False)
        units: list[str] = []
        classes: set[str] = set()
        glue: list[str] = []

        def flush() -> None:
            if len(glue) == 1:
                add(glue[0])
            elif glue:
                units.append("".join(glue))
            glue.clear()

        def add(raw: str, following: str = "") -> None:
            if raw == "到" and (
                not following
                or following in FINAL_PARTICLES
                or (
                    following != "本地"  # 保存到本地 is saving a file
                    and not self.vocab.classes.get(following, frozenset()).isdisjoint(DESTINATION_CLASSES)
                )
            ):
                # a clause that ends in 到 asks about arriving (几天能到, 多久到啊), and so does 到 before
                # a destination (到北京要几天, 寄到上海); money arrives in an account (钱什么时候到)
                raw = "到账" if any(MONEY_CHARS.intersection(u) for u in units[-4:]) else "到货"
            literal = len(raw) == 1 and (
                following[:1] in COMPLEMENTS
                # 换 before what is changed (换奶粉, 换粮) is changing that, not exchanging goods
                or (
                    raw in OBJECT_VERBS
                    and len(following) >= 2
                    and is_cjk(following[0])
                    and following[0] not in "个一下"
                )
            )
            tok = raw if literal else self.vocab.tokens.get(raw, raw)
            classes.update(self.vocab.classes.get(raw, ()))
            classes.update(self.vocab.classes.get(tok, ()))
            units.append(tok)

        for i, raw in enumerate(tokens):
            if not raw.strip() or all(c in SEPARATORS for c in raw):
                flush()
                continue
            # a character the vocabulary maps (卷 -> 优惠券, 咋 -> 怎么) is a word; others are glued
            if len(raw) == 1 and is_cjk(raw) and raw not in FUNCTION_CHARS and raw not in self.vocab.tokens:
                glue.append(raw)
                continue
            flush()
            add(raw, _next_word(tokens, i))
        flush()
        return units, classes

    def analyze(self, text: str) -> Analysis:
        clean, emoji = self.clean(text)
        latin_words = tuple(_LATIN_WORD_RE.findall(clean))
        clean = " ".join(self.read_latin(clean).split())
        # 包邮不包邮 / 快不快 ask the same as 包邮吗 / 快吗 (the gate has seen the A-not-A already)
        collapsed = self._collapse_a_not_a(clean)
        synonyms = self.apply_synonyms(collapsed)
        units, classes = self.units_of(self.apply_synonyms(collapsed, sep=WORD_SEP))
        return Analysis(
            original=text,
            clean=clean,
            text=synonyms,
            units=tuple(units),
            classes=frozenset(classes),
            emoji=emoji,
            latin_words=latin_words,
            personal=self.is_personal(text) if _ANCHOR_HINT_RE.search(text) else False,
        )
