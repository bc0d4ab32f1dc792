"""Loading rule packs (TOML) into Rule objects, reporting every problem instead of raising.

A pack file:

    [pack]                      # optional: name, description
    [variants]                  # optional: word -> evasion spellings, e.g. "微信" = ["威信", "vx"]
    [lookalikes]                # optional: character -> look-alikes read as it, e.g. "治" = ["冶"]
    [grammar]                   # optional word lists (later packs replace a list): negators,
                                # spanning_negators, post_negators, cancel, reported, governed, fillers
                                # (see engine.py)
    [[context]]                 # optional: innocent uses (advice, questions to viewers, exemptions):
    name, rules (ids or "prefix."), phrases (optional), before and/or after (regexes)
    [[rule]]                    # one table per rule
    id, category, severity, basis, suggestion, phrases and/or patterns,
    allow, scopes, negation (true or a window in characters), unless, boundary,
    phonetic (min ideographs for sound-alike matching, 0 off), gap (filler words between a phrase's
    words), enabled   # optional

Later packs override earlier rules with the same id (a merchant pack can reword, re-grade or disable
a built-in rule with `enabled = false`). Within one file a repeated id is an error.
Phrases may use brace alternatives: "{国家|政府}推荐" is the two phrases 国家推荐 and 政府推荐.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from .model import SCOPES, SEVERITIES, Context, PackError, PackSet, Pattern, Rule

BUILTIN_DIR = Path(__file__).resolve().parent / "packs"
MAX_EXPANSION = 1000  # phrases one brace template may expand to

_RULE_KEYS = {
    "id", "category", "severity", "basis", "suggestion", "phrases", "patterns", "allow", "scopes",
    "negation", "unless", "boundary", "enabled", "phonetic", "gap",
}
GRAMMAR_KEYS = ("negators", "spanning_negators", "post_negators", "cancel", "reported", "governed", "fillers")
_CONTEXT_KEYS = {"name", "rules", "phrases", "before", "after"}
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")
_BRACE = re.compile(r"\{([^{}]*)\}")


def pack_files(items: Iterable[str | Path]) -> tuple[list[Path], list[PackError]]:
    """Resolve pack items ("builtin", a .toml file, a directory of them) to files, in order."""
    files: list[Path] = []
    errors: list[PackError] = []
    for item in items:
        if str(item) == "builtin":
            files.extend(sorted(BUILTIN_DIR.glob("*.toml")))
            continue
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob("*.toml"))
            if not found:
                errors.append(PackError(str(path), None, "directory contains no .toml packs"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            errors.append(PackError(str(path), None, "no such pack file or directory"))
    return files, errors


def expand_braces(template: str) -> list[str]:
    """"{国家|政府}推荐" -> ["国家推荐", "政府推荐"]; text without braces is returned as is."""
    parts: list[list[str]] = []
    pos = 0
    for m in _BRACE.finditer(template):
        parts.append([template[pos : m.start()]])
        parts.append(m.group(1).split("|"))
        pos = m.end()
    parts.append([template[pos:]])
    size = 1
    for p in parts:
        size *= len(p)
    if size > MAX_EXPANSION:
        raise ValueError(f"phrase template {template!r} expands to {size} phrases (limit {MAX_EXPANSION})")
    return ["".join(combo) for combo in itertools.product(*parts)]


def load_packs(items: Iterable[str | Path]) -> PackSet:
    files, errors = pack_files(items)
    result = PackSet(errors=errors)
    for path in files:
        _load_file(path, result)
    return result


def _load_file(path: Path, result: PackSet) -> None:
    name = str(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        result.errors.append(PackError(name, None, f"not UTF-8 ({e.reason} at byte {e.start})"))
        return
    except tomllib.TOMLDecodeError as e:
        result.errors.append(PackError(name, None, f"invalid TOML: {e}"))
        return
    except OSError as e:
        result.errors.append(PackError(name, None, f"cannot read: {e.strerror or e}"))
        return

    for key in data:
        if key not in ("pack", "variants", "rule", "lookalikes", "grammar", "context"):
            hint = " (rules are [[rule]] tables)" if key in ("rules", "rule_", "Rule") else ""
            result.errors.append(PackError(name, None, f"unknown top-level key {key!r}{hint}"))

    variants = data.get("variants", {})
    if not isinstance(variants, dict):
        result.errors.append(PackError(name, None, "[variants] must be a table of word = [spellings]"))
    else:
        for word, spellings in variants.items():
            if not word or not isinstance(spellings, list) or not all(
                isinstance(s, str) and s for s in spellings
            ):
                result.errors.append(
                    PackError(name, None, f"variants.{word!r} must be a list of non-empty strings")
                )
                continue
            merged = result.variants.setdefault(word, [])
            merged.extend(s for s in spellings if s not in merged)

    _load_lookalikes(data.get("lookalikes", {}), name, result)
    _load_grammar(data.get("grammar", {}), name, result)
    _load_contexts(data.get("context", []), name, result)

    rules = data.get("rule", [])
    if not isinstance(rules, list):
        result.errors.append(PackError(name, None, "'rule' must be an array of tables ([[rule]])"))
        return
    seen: dict[str, int] = {}
    for index, raw in enumerate(rules, 1):
        if not isinstance(raw, dict):
            result.errors.append(PackError(name, None, f"rule #{index} is not a table"))
            continue
        rid = raw.get("id")
        if not isinstance(rid, str) or not _ID.match(rid):
            why = "missing field 'id'" if rid is None else f"bad id {rid!r} (letters, digits, _ . - only)"
            result.errors.append(PackError(name, None, f"rule #{index}: {why}"))
            continue
        if rid in seen:
            result.errors.append(
                PackError(name, rid, f"duplicate id (first defined as rule #{seen[rid]}); this one skipped")
            )
            continue
        seen[rid] = index
        try:
            rule = _parse_rule(raw, rid, name)
        except ValueError as e:
            result.errors.append(PackError(name, rid, str(e)))
            continue
        if rule is None:  # enabled = false: remove an earlier rule with this id
            result.rules.pop(rid, None)
        else:
            result.rules.pop(rid, None)  # re-insert so the override also takes the later position
            result.rules[rid] = rule


def _load_lookalikes(table: object, name: str, result: PackSet) -> None:
    if not isinstance(table, dict):
        result.errors.append(PackError(name, None, "[lookalikes] must be a table of character = [characters]"))
        return
    for target, chars in table.items():
        ok = isinstance(chars, list) and all(isinstance(c, str) and len(c) == 1 for c in chars)
        if len(target) != 1 or not ok:
            why = f"lookalikes.{target!r} must map one character to a list of single characters"
            result.errors.append(PackError(name, None, why))
            continue
        merged = result.lookalikes.setdefault(target, [])
        merged.extend(c for c in chars if c not in merged)


def _load_grammar(table: object, name: str, result: PackSet) -> None:
    if not isinstance(table, dict):
        result.errors.append(PackError(name, None, "[grammar] must be a table of word lists"))
        return
    for key, words in table.items():
        if key not in GRAMMAR_KEYS:
            result.errors.append(
                PackError(name, None, f"grammar.{key}: unknown list (expected one of {', '.join(GRAMMAR_KEYS)})")
            )
            continue
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            result.errors.append(PackError(name, None, f"grammar.{key} must be a list of non-empty strings"))
            continue
        result.context[key] = [w.strip() for w in words]  # a later pack replaces the list


def _load_contexts(items: object, name: str, result: PackSet) -> None:
    if not isinstance(items, list):
        result.errors.append(PackError(name, None, "'context' must be an array of tables ([[context]])"))
        return
    for index, raw in enumerate(items, 1):
        where = f"context #{index}"
        if not isinstance(raw, dict):
            result.errors.append(PackError(name, None, f"{where} is not a table"))
            continue
        unknown = sorted(set(raw) - _CONTEXT_KEYS)
        try:
            if unknown:
                raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}")
            cname = _str_field(raw, "name")
            where = f"context {cname!r}"
            rules = _str_list(raw, "rules")
            if not rules:
                raise ValueError("field 'rules' must name at least one rule id or prefix")
            sides = {}
            for side in ("before", "after"):
                value = raw.get(side)
                if value is not None:
                    if not isinstance(value, str) or not value:
                        raise ValueError(f"field {side!r} must be a non-empty regex")
                    try:
                        re.compile(value)
                    except re.error as e:
                        raise ValueError(f"field {side!r}: bad regex: {e}") from None
                sides[side] = value
            if sides["before"] is None and sides["after"] is None:
                raise ValueError("needs 'before' and/or 'after'")
        except ValueError as e:
            result.errors.append(PackError(name, None, f"{where}: {e}"))
            continue
        result.contexts.append(
            Context(cname, tuple(rules), tuple(_str_list(raw, "phrases")), sides["before"], sides["after"], name)
        )


def _int_field(raw: dict, key: str, default: int, lo: int, hi: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"field {key!r} must be a whole number from {lo} to {hi}")
    return value


def _str_field(raw: dict, key: str) -> str:
    value = raw.get(key)
    if value is None:
        raise ValueError(f"missing field {key!r}")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field {key!r} must be a non-empty string")
    return value.strip()


def _str_list(raw: dict, key: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"field {key!r} must be a list of non-empty strings")
    return [v.strip() for v in value]


def _bool_field(raw: dict, key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"field {key!r} must be true or false")
    return value


DEFAULT_NEGATION_WINDOW = 7  # 不能代替药物治疗: the negator may sit a few words before the term


def _negation_field(raw: dict) -> int:
    value = raw.get("negation", False)
    if isinstance(value, bool):
        return DEFAULT_NEGATION_WINDOW if value else 0
    if isinstance(value, int) and 0 <= value <= 20:
        return value
    raise ValueError("field 'negation' must be true, false or a window of 0-20 characters")


def _phonetic_field(raw: dict) -> int:
    value = _int_field(raw, "phonetic", 3, 0, 12)
    if value == 1:
        raise ValueError("field 'phonetic' must be 0 (off) or at least 2: one sound matches too many characters")
    return value


def _parse_rule(raw: dict, rid: str, source: str) -> Rule | None:
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}")
    if not _bool_field(raw, "enabled", True):
        return None
    severity = _str_field(raw, "severity")
    if severity not in SEVERITIES:
        raise ValueError(f"bad severity {severity!r} (expected one of {', '.join(SEVERITIES)})")
    phrases: list[str] = []
    for template in _str_list(raw, "phrases"):
        for p in expand_braces(template):
            if p and p not in phrases:
                phrases.append(p)
    patterns = []
    raw_patterns = raw.get("patterns", [])
    if not isinstance(raw_patterns, list):
        raise ValueError("field 'patterns' must be an array of {regex, phrase} tables")
    for i, p in enumerate(raw_patterns, 1):
        if not isinstance(p, dict) or set(p) != {"regex", "phrase"}:
            raise ValueError(f"pattern #{i} must be a table with exactly 'regex' and 'phrase'")
        if not all(isinstance(p[k], str) and p[k] for k in ("regex", "phrase")):
            raise ValueError(f"pattern #{i}: 'regex' and 'phrase' must be non-empty strings")
        patterns.append(Pattern(p["regex"], p["phrase"]))
    if not phrases and not patterns:
        raise ValueError("needs at least one entry in 'phrases' or 'patterns'")
    scopes = _str_list(raw, "scopes") if "scopes" in raw else list(SCOPES)
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ValueError(f"bad scopes {bad or scopes!r} (expected some of {', '.join(SCOPES)})")
    allow: list[str] = []
    for template in _str_list(raw, "allow"):
        allow.extend(a for a in expand_braces(template) if a)
    return Rule(
        id=rid,
        category=_str_field(raw, "category"),
        severity=severity,
        basis=_str_field(raw, "basis"),
        suggestion=_str_field(raw, "suggestion"),
        phrases=tuple(phrases),
        patterns=tuple(patterns),
        allow=tuple(allow),
        scopes=frozenset(scopes),
        negation=_negation_field(raw),
        unless=tuple(_str_list(raw, "unless")),
        boundary=_bool_field(raw, "boundary", False),
        phonetic=_phonetic_field(raw),
        gap=_int_field(raw, "gap", 0, 0, 4),
        source=source,
    )
