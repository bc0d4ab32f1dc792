"""One pass over a room's audit events: the counts and series the report shows.

Plain Python over the parsed lines, one event at a time with bounded memory (see docs/report.md for
the measurement against DuckDB that chose it). Every field is read defensively: a record of the
right ``type`` may still carry a number where a string belongs; such a value reads as empty (or
``unknown`` for a key the report groups by) rather than stopping the report.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.report.reader import ReadStats

SEVERITIES = ("block", "warn", "info")
FAQ_ACTIONS = ("sent", "held", "failed", "abstained")
TEXT_KEEP = 300  # characters of a sentence or question kept for the page
MAX_DISTINCT = 50_000  # distinct unanswered questions / phrases / users tracked before lumping the rest
LIST_KEEP = 500  # status changes and platform notices listed at most
UNKNOWN = "unknown"


def _str(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def _num(record: dict[str, Any], key: str) -> float:
    value = record.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return 0.0


def _int(record: dict[str, Any], key: str, default: int = 0) -> int:
    value = record.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_KEEP else text[:TEXT_KEEP] + "…"


def _user(record: dict[str, Any]) -> dict[str, Any]:
    user = record.get("user")
    return user if isinstance(user, dict) else {}


def iso(ts: float | None) -> str | None:
    """Unix seconds as a local ISO time with its offset (what a person reading the report means)."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


@dataclass
class Phrase:
    rule: str
    phrase: str
    count: int = 0
    matched: Counter[str] = field(default_factory=Counter)
    sentence: str = ""
    start: int = 0
    end: int = 0
    suggestion: str = ""


@dataclass
class Aggregate:
    room: str
    counts: Counter[str] = field(default_factory=Counter)
    first_ts: float | None = None
    last_ts: float | None = None
    # warnings
    by_severity: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_scope: Counter[str] = field(default_factory=Counter)
    rule_info: dict[str, dict[str, str]] = field(default_factory=dict)
    phrases: dict[tuple[str, str], Phrase] = field(default_factory=dict)
    warn_minutes: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    # anchor and viewers
    speech_minutes: Counter[int] = field(default_factory=Counter)  # final segments
    speech_chars: Counter[int] = field(default_factory=Counter)
    chat_minutes: Counter[int] = field(default_factory=Counter)
    chatters: set[str] = field(default_factory=set)
    anchor_chat: int = 0
    # FAQ
    faq_actions: Counter[str] = field(default_factory=Counter)
    faq_askers: int = 0
    faq_reasons: Counter[str] = field(default_factory=Counter)  # "held:reason" / "failed:reason"
    faq_answered: Counter[str] = field(default_factory=Counter)  # the FAQ's question -> sent+held
    unanswered: Counter[str] = field(default_factory=Counter)
    unanswered_other: int = 0
    # money
    gift_events: int = 0
    gift_items: int = 0
    gift_value: Counter[str] = field(default_factory=Counter)  # currency -> paid value
    gift_names: Counter[str] = field(default_factory=Counter)  # name -> items
    super_chats: int = 0
    super_chat_value: Counter[str] = field(default_factory=Counter)
    guard_buys: int = 0
    # the room's connection and the platform
    statuses: list[tuple[float, str, str]] = field(default_factory=list)
    live: list[tuple[float, str]] = field(default_factory=list)
    notices: list[tuple[float, str, str]] = field(default_factory=list)
    reconnects: int = 0
    outages: list[tuple[float, float | None, str]] = field(default_factory=list)
    _down_since: float | None = None
    _down_state: str = ""
    stats: ReadStats = field(default_factory=ReadStats)

    # --- feeding ---------------------------------------------------------------------------------

    def add_all(self, records: Iterable[dict[str, Any]]) -> Aggregate:
        for record in records:
            self.add(record)
        self._close_outage(None)
        return self

    def add(self, record: dict[str, Any]) -> None:
        kind: str = record["type"]
        ts: float = record["ts"]
        self.counts[kind] += 1
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, record, ts)

    def _chat(self, record: dict[str, Any], ts: float) -> None:
        self.chat_minutes[int(ts // 60)] += 1
        user = _user(record)
        roles = user.get("roles")
        if isinstance(roles, list) and "anchor" in roles:
            self.anchor_chat += 1
        uid = user.get("id")
        if isinstance(uid, str) and uid and len(self.chatters) < MAX_DISTINCT * 20:
            self.chatters.add(uid)

    def _speech(self, record: dict[str, Any], ts: float) -> None:
        minute = int(ts // 60)
        self.speech_minutes[minute] += 1
        self.speech_chars[minute] += len(_str(record, "text"))

    def _warning(self, record: dict[str, Any], ts: float) -> None:
        severity = _str(record, "severity") or UNKNOWN
        category = _str(record, "category") or UNKNOWN
        rule = _str(record, "rule") or UNKNOWN
        self.by_severity[severity] += 1
        self.by_category[category] += 1
        self.by_rule[rule] += 1
        self.by_scope[_str(record, "scope") or UNKNOWN] += 1
        self.warn_minutes[severity][int(ts // 60)] += 1
        if rule not in self.rule_info and len(self.rule_info) < MAX_DISTINCT:
            self.rule_info[rule] = {
                "category": category,
                "severity": severity,
                "basis": _clip(_str(record, "basis")),
                "suggestion": _clip(_str(record, "suggestion")),
            }
        key = (rule, _str(record, "phrase") or _str(record, "matched"))
        phrase = self.phrases.get(key)
        if phrase is None:
            if len(self.phrases) >= MAX_DISTINCT:
                return
            text = _str(record, "text")
            start, end = _int(record, "start"), _int(record, "end")
            if not (0 <= start <= end <= len(text)) or start >= TEXT_KEEP:
                start = end = 0  # a span that does not fit the sentence is not shown
            phrase = self.phrases[key] = Phrase(
                rule=rule,
                phrase=key[1],
                sentence=_clip(text),
                start=start,
                end=min(end, TEXT_KEEP),
                suggestion=_clip(_str(record, "suggestion")),
            )
        phrase.count += 1
        matched = _str(record, "matched")
        if matched and (matched in phrase.matched or len(phrase.matched) < 20):
            phrase.matched[matched[:40]] += 1

    def _faq(self, record: dict[str, Any], ts: float) -> None:
        action = _str(record, "action") or UNKNOWN
        self.faq_actions[action] += 1
        askers = record.get("askers")
        self.faq_askers += len(askers) if isinstance(askers, list) and askers else 1
        reason = _str(record, "reason")
        if action in ("held", "failed"):
            self.faq_reasons[f"{action}:{reason or UNKNOWN}"] += 1
        if action in ("sent", "held", "failed"):
            question = _str(record, "question") or _str(record, "faq_id")
            if question:
                self.faq_answered[_clip(question)] += 1
        elif action == "abstained":
            text = " ".join(_str(record, "text").split()).lower()
            if not text:
                return
            text = _clip(text)
            if text in self.unanswered or len(self.unanswered) < MAX_DISTINCT:
                self.unanswered[text] += 1
            else:
                self.unanswered_other += 1

    def _gift(self, record: dict[str, Any], ts: float) -> None:
        self.gift_events += 1
        count = max(_int(record, "count", 1), 0)
        self.gift_items += count
        name = _str(record, "gift_name")[:40] or UNKNOWN
        if name in self.gift_names or len(self.gift_names) < MAX_DISTINCT:
            self.gift_names[name] += count
        if record.get("paid", True) is not False:
            self.gift_value[_str(record, "currency") or "CNY"] += _num(record, "price")

    def _super_chat(self, record: dict[str, Any], ts: float) -> None:
        self.super_chats += 1
        self.super_chat_value[_str(record, "currency") or "CNY"] += _num(record, "price")

    def _guard(self, record: dict[str, Any], ts: float) -> None:
        self.guard_buys += 1

    def _status(self, record: dict[str, Any], ts: float) -> None:
        state = _str(record, "state") or UNKNOWN
        if len(self.statuses) < LIST_KEEP:
            self.statuses.append((ts, state, _clip(_str(record, "detail"))))
        if state == "reconnecting":
            self.reconnects += 1
        if state == "connected":
            self._close_outage(ts)
        elif state in ("reconnecting", "failed") and self._down_since is None:
            self._down_since, self._down_state = ts, state

    def _close_outage(self, ts: float | None) -> None:
        if self._down_since is not None:
            if len(self.outages) < LIST_KEEP:
                self.outages.append((self._down_since, ts, self._down_state))
            self._down_since = None

    def _live(self, record: dict[str, Any], ts: float) -> None:
        if len(self.live) < LIST_KEEP:
            self.live.append((ts, _str(record, "status") or UNKNOWN))

    def _notice(self, record: dict[str, Any], ts: float) -> None:
        if len(self.notices) < LIST_KEEP:
            self.notices.append((ts, _str(record, "kind") or UNKNOWN, _clip(_str(record, "text"))))

    # --- reading out -----------------------------------------------------------------------------

    def summary(self, window: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``--json`` form (a contract for scripts: keys are only ever added)."""
        by_action = {action: self.faq_actions.get(action, 0) for action in FAQ_ACTIONS}
        by_action.update({k: v for k, v in self.faq_actions.items() if k not in by_action})
        outage_seconds = sum((end - start) for start, end, _ in self.outages if end is not None)
        return {
            "room": self.room,
            "from": iso(self.first_ts),
            "until": iso(self.last_ts),
            "window": window or {},
            "counts": dict(sorted(self.counts.items())),
            "warnings": {
                "total": self.counts.get("warning", 0),
                "by_severity": _sorted(self.by_severity),
                "by_category": _sorted(self.by_category),
                "by_rule": _sorted(self.by_rule),
                "by_scope": _sorted(self.by_scope),
                "top_phrases": [
                    {"rule": p.rule, "phrase": p.phrase, "count": p.count, "sentence": p.sentence,
                     "suggestion": p.suggestion}
                    for p in self.top_phrases(20)
                ],
            },
            "faq": {
                "by_action": by_action,
                "askers": self.faq_askers,
                "reasons": _sorted(self.faq_reasons),
                "top_unanswered": [{"text": t, "count": n} for t, n in self.unanswered.most_common(20)],
            },
            "speech": {"segments": self.counts.get("speech", 0), "chars": sum(self.speech_chars.values())},
            "chat": {
                "messages": self.counts.get("chat", 0),
                "chatters": len(self.chatters),
                "anchor_lines": self.anchor_chat,
                "peak_per_minute": max(self.chat_minutes.values(), default=0),
            },
            "gifts": {
                "events": self.gift_events,
                "items": self.gift_items,
                "value": {k: round(v, 2) for k, v in sorted(self.gift_value.items())},
                "super_chats": self.super_chats,
                "super_chat_value": {k: round(v, 2) for k, v in sorted(self.super_chat_value.items())},
                "guard_buys": self.guard_buys,
            },
            "connection": {
                "reconnects": self.reconnects,
                "outages": [
                    {"from": iso(s), "until": iso(e), "seconds": None if e is None else round(e - s, 1), "state": st}
                    for s, e, st in self.outages
                ],
                "outage_seconds": round(outage_seconds, 1),
                "live_status": [{"at": iso(t), "status": s} for t, s in self.live],
                "platform_notices": [{"at": iso(t), "kind": k, "text": x} for t, k, x in self.notices],
            },
            "read": self.stats.to_dict(),
        }

    def top_phrases(self, n: int) -> list[Phrase]:
        return sorted(self.phrases.values(), key=lambda p: (-p.count, p.rule, p.phrase))[:n]


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


_HANDLERS = {
    "chat": Aggregate._chat,
    "speech": Aggregate._speech,
    "warning": Aggregate._warning,
    "faq_reply": Aggregate._faq,
    "gift": Aggregate._gift,
    "super_chat": Aggregate._super_chat,
    "guard_buy": Aggregate._guard,
    "room_status": Aggregate._status,
    "live_status": Aggregate._live,
    "platform_notice": Aggregate._notice,
}


def build_report(dirs: Iterable[Any], room: str, window: Any) -> Aggregate:
    """Read ``room``'s events in ``window`` over ``dirs`` and aggregate them."""
    from bot.report.reader import read_events

    stats = ReadStats()
    return Aggregate(room, stats=stats).add_all(read_events(dirs, room, window, stats))
