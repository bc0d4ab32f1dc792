"""The matcher's vocabulary: the shipped synonym/class/cue tables, merged with a merchant's own.

Loaded once per FAQ version (the merchant part may change on hot reload). Keys are stored in the
form the normalizer produces: NFKC, lower case, simplified Chinese.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

CUE_KEYS = (
    "question",
    "question_final",
    "request",
    "problem",
    "negators",
    "negatable_problems",
    "praise",
    "praise_intensifiers",
    "praise_adjectives",
    "done",
    "resolved",
    "praise_emoji",
)
LATIN_RE = re.compile(r"^[a-z0-9][a-z0-9 '\-]*$")


def is_latin(text: str) -> bool:
    return bool(LATIN_RE.match(text))


@functools.cache
def _t2s():  # OpenCC's converter takes ~50 ms to build; one per process is enough
    import opencc

    return opencc.OpenCC("t2s")


def canon(text: str) -> str:
    """The key form of a table word: NFKC, lower case, simplified, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_t2s().convert(text).split())


@functools.cache
def shipped_tables() -> dict[str, dict[str, list[str]]]:
    data = resources.files("bot.faq").joinpath("data")
    out: dict[str, dict[str, list[str]]] = {}
    for name in ("synonyms.toml", "cues.toml"):
        out.update(tomllib.loads(data.joinpath(name).read_text("utf-8")))
    return out


@functools.cache
def words_table() -> dict[str, list[str]]:
    """``bot/faq/data/words.toml``: the word lists the matcher weighs by (question, function, ...)."""
    data = resources.files("bot.faq").joinpath("data")
    return dict(tomllib.loads(data.joinpath("words.toml").read_text("utf-8"))["words"])


@dataclass(frozen=True)
class Vocabulary:
    # variant -> canonical (CJK variants of 2+ chars and canonical words themselves, for the
    # longest-first string rewrite; canonical words map to themselves so they are never split)
    strings: Mapping[str, str]
    # jieba token -> canonical (every CJK variant, including single characters)
    tokens: Mapping[str, str]
    # latin variant as a tuple of words -> canonical
    latin: Mapping[tuple[str, ...], str]
    # word -> class names it belongs to
    classes: Mapping[str, frozenset[str]]
    cues: Mapping[str, tuple[str, ...]]

    @property
    def words(self) -> set[str]:
        """Every CJK word the tables know (for the word cutter and the pinyin reader)."""
        out = {w for w in self.strings if not is_latin(w)}
        out.update(w for w in self.tokens.values() if not is_latin(w))
        out.update(w for w in self.classes if not is_latin(w))
        return out


def _compose(strings: dict[str, str]) -> None:
    """A variant that contains another canonical word also stands for that word's variants:
    保质期 = 能放多久 and 多久 = 几天 make 能放几天 read 保质期 too (the table is applied in one pass,
    so the chain would otherwise depend on how the viewer happened to spell the inner word)."""
    variants_of: dict[str, list[str]] = {}
    for variant, canonical in strings.items():
        if variant != canonical and len(variant) >= 2:
            variants_of.setdefault(canonical, []).append(variant)
    inner = [c for c in variants_of if len(c) >= 2]
    added: dict[str, str] = {}
    for variant, canonical in list(strings.items()):
        if variant == canonical or len(variant) < 4:  # 放多久 alone is too loose to compose (放几天才能吃)
            continue
        for word in inner:
            if word != canonical and word in variant and word != variant:
                for other in variants_of[word]:
                    added.setdefault(variant.replace(word, other), canonical)
    for variant, canonical in added.items():
        strings.setdefault(variant, canonical)


def build_vocabulary(
    synonyms: Mapping[str, tuple[str, ...]] | None = None,
    classes: Mapping[str, tuple[str, ...]] | None = None,
    cues: Mapping[str, tuple[str, ...]] | None = None,
) -> Vocabulary:
    """The shipped tables with a merchant's tables merged on top (a merchant variant wins)."""
    shipped = shipped_tables()
    syn: dict[str, list[str]] = {k: list(v) for k, v in shipped.get("synonyms", {}).items()}
    for k, v in (synonyms or {}).items():
        syn.setdefault(k, []).extend(v)
    cls: dict[str, list[str]] = {k: list(v) for k, v in shipped.get("classes", {}).items()}
    for k, v in (classes or {}).items():
        cls.setdefault(k, []).extend(v)
    cue: dict[str, list[str]] = {k: list(v) for k, v in shipped.get("cues", {}).items()}
    for k, v in (cues or {}).items():
        cue.setdefault(k, []).extend(v)

    strings: dict[str, str] = {}
    tokens: dict[str, str] = {}
    latin: dict[tuple[str, ...], str] = {}
    merchant_variants = {canon(v) for vs in (synonyms or {}).values() for v in vs}
    for canonical_raw, variants in syn.items():
        canonical = canon(canonical_raw)
        if not canonical:
            continue
        if not is_latin(canonical):
            strings.setdefault(canonical, canonical)
        for variant_raw in variants:
            variant = canon(variant_raw)
            if not variant or variant == canonical:
                continue
            # a merchant's own mapping overrides the shipped one for the same variant
            override = variant in merchant_variants and canonical_raw in (synonyms or {})
            if is_latin(variant):
                key = tuple(variant.replace("-", " ").split())
                if override or key not in latin:
                    latin[key] = canonical
            else:
                if override or variant not in tokens:
                    tokens[variant] = canonical
                if len(variant) >= 2 and (override or strings.get(variant, variant) == variant):
                    strings[variant] = canonical
    _compose(strings)
    class_map: dict[str, set[str]] = {}
    for name_raw, members in cls.items():
        name = canon(name_raw)
        class_map.setdefault(name, set()).add(name)
        for m in members:
            class_map.setdefault(canon(m), set()).add(name)
    return Vocabulary(
        strings=strings,
        tokens=tokens,
        latin=latin,
        classes={k: frozenset(v) for k, v in class_map.items()},
        cues={k: tuple(canon(x) for x in v) for k, v in cue.items()},
    )
