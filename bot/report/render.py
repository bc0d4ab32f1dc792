"""The report as one self-contained HTML page (inline CSS and SVG, no script, nothing fetched), and
the index of a day's rooms.

Charts are small hand-made SVG: the geometry is computed here, the template only draws it, and every
text (viewer questions, anchor sentences, rule data) goes through jinja2's autoescape.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import jinja2

from bot.report.aggregate import SEVERITIES, Aggregate, iso

# Labels of the rule categories of the built-in packs (the overlay's feed.js shows the same words);
# a merchant pack's own category shows as written.
CATEGORY_LABELS = {
    "absolute": "绝对化用语",
    "authority": "权威背书",
    "medical": "医疗功效",
    "guarantee": "保证承诺",
    "urgency_fraud": "虚假紧迫",
    "false_data": "虚假数据",
    "offsite": "站外交易",
    "price": "价格违规",
    "superstition": "封建迷信",
    "vulgar": "低俗用语",
    "minors": "未成年人",
    "comparison": "贬低对手",
    "investment": "投资理财",
}
SEVERITY_LABELS = {"block": "严重", "warn": "警告", "info": "提示"}
SEVERITY_COLORS = {"block": "#d93025", "warn": "#f29900", "info": "#1a73e8"}
ACTION_LABELS = {"sent": "已回复", "held": "仅屏显", "failed": "发送失败", "abstained": "未能回答"}
STATE_LABELS = {
    "connecting": "连接中",
    "connected": "已连接",
    "reconnecting": "重连中",
    "closed": "已关闭",
    "failed": "失败",
}
BUCKET_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
MAX_BARS = 360

CHART_W = 960
LEFT = 44


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.report", "templates"),
        autoescape=True,  # viewer names and messages, anchor sentences: never trusted
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) else f"{n:,.2f}"
    env.filters["category"] = lambda c: CATEGORY_LABELS.get(c, c)
    env.filters["severity"] = lambda s: SEVERITY_LABELS.get(s, s)
    env.filters["action"] = lambda a: ACTION_LABELS.get(a, a)
    env.filters["state"] = lambda s: STATE_LABELS.get(s, s)
    env.filters["clock"] = _clock
    return env


_ENV: jinja2.Environment | None = None


def env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = _env()
    return _ENV


def _clock(ts: float | None) -> str:
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts).astimezone().strftime("%m-%d %H:%M:%S")


def _hm(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).astimezone().strftime("%H:%M")


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    color: str
    tip: str


def _bucket_minutes(span_minutes: int) -> int:
    for size in BUCKET_MINUTES:
        if span_minutes / size <= MAX_BARS:
            return size
    return BUCKET_MINUTES[-1] * (span_minutes // (BUCKET_MINUTES[-1] * MAX_BARS) + 1)


def _timeline(agg: Aggregate) -> dict[str, Any] | None:
    """Stacked warnings per bucket by severity, speech characters and chat lines on the same axis."""
    if agg.first_ts is None or agg.last_ts is None:
        return None
    first = int(agg.first_ts // 60)
    last = int(agg.last_ts // 60)
    size = _bucket_minutes(last - first + 1)
    n = (last - first) // size + 1
    bw = min((CHART_W - LEFT - 8) / n, 24.0)  # a short show's few bars stay bars, not a wall

    def series(counter: Any) -> list[int]:
        out = [0] * n
        for minute, value in counter.items():
            i = (minute - first) // size
            if 0 <= i < n:
                out[i] += value
        return out

    sev = {s: series(agg.warn_minutes.get(s, {})) for s in agg.warn_minutes}
    order = [s for s in SEVERITIES if s in sev] + sorted(s for s in sev if s not in SEVERITIES)
    totals = [sum(sev[s][i] for s in order) for i in range(n)]
    speech = series(agg.speech_chars)
    chat = series(agg.chat_minutes)

    def label(i: int) -> str:
        return _hm((first + i * size) * 60)

    warn_h, row_h = 150.0, 56.0
    warn_max = max(totals, default=0) or 1
    bars: list[Bar] = []
    for i in range(n):
        y = warn_h
        for s in order:
            v = sev[s][i]
            if not v:
                continue
            h = v / warn_max * (warn_h - 10)
            y -= h
            tip = f"{label(i)} {SEVERITY_LABELS.get(s, s)} {v}"
            bars.append(Bar(LEFT + i * bw, y, max(bw - 1, 0.6), h, SEVERITY_COLORS.get(s, "#888"), tip))

    def row(values: list[int], top: float, color: str, unit: str) -> tuple[list[Bar], int]:
        peak = max(values, default=0) or 1
        out = []
        for i, v in enumerate(values):
            if v:
                h = v / peak * (row_h - 8)
                out.append(Bar(LEFT + i * bw, top + row_h - h, max(bw - 1, 0.6), h, color, f"{label(i)} {v} {unit}"))
        return out, max(values, default=0)

    speech_top = warn_h + 26
    chat_top = speech_top + row_h + 22
    speech_bars, speech_peak = row(speech, speech_top, "#5f6368", "字")
    chat_bars, chat_peak = row(chat, chat_top, "#12a4af", "条")
    ticks = []
    step = max(1, n // 8, math.ceil(48 / bw))  # labels never overlap, even under narrow bars
    for i in range(0, n, step):
        ticks.append({"x": LEFT + i * bw, "label": label(i)})
    return {
        "width": CHART_W,
        "height": chat_top + row_h + 22,
        "left": LEFT,
        "bucket": size,
        "warn_h": warn_h,
        "warn_max": max(totals, default=0),
        "bars": bars,
        "speech_top": speech_top,
        "speech_bars": speech_bars,
        "speech_peak": speech_peak,
        "chat_top": chat_top,
        "chat_bars": chat_bars,
        "chat_peak": chat_peak,
        "row_h": row_h,
        "ticks": ticks,
        "severities": [(s, SEVERITY_LABELS.get(s, s), SEVERITY_COLORS.get(s, "#888")) for s in order],
    }


def _hbars(counter: dict[str, int], label: Any, limit: int = 14) -> dict[str, Any] | None:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    if not items:
        return None
    peak = items[0][1] or 1
    label_w, bar_w, row = 170, 600, 26
    rows = [
        {"y": i * row, "label": label(k), "key": k, "n": v, "w": max(v / peak * bar_w, 2)}
        for i, (k, v) in enumerate(items)
    ]
    return {"width": label_w + bar_w + 70, "height": len(rows) * row + 4, "label_w": label_w, "rows": rows}


def _highlight(sentence: str, start: int, end: int) -> tuple[str, str, str]:
    if 0 <= start < end <= len(sentence):
        return sentence[:start], sentence[start:end], sentence[end:]
    return sentence, "", ""


def report_context(agg: Aggregate, *, window_label: str = "") -> dict[str, Any]:
    summary = agg.summary()
    duration = (agg.last_ts - agg.first_ts) if agg.first_ts is not None and agg.last_ts is not None else 0.0
    phrases = [
        {
            "phrase": p.phrase,
            "rule": p.rule,
            "count": p.count,
            "matched": [m for m, _ in p.matched.most_common(5) if m != p.phrase],
            "parts": _highlight(p.sentence, p.start, p.end),
            "suggestion": p.suggestion,
        }
        for p in agg.top_phrases(15)
    ]
    no_info = {"category": "", "severity": "", "basis": "", "suggestion": ""}
    by_rule = summary["warnings"]["by_rule"]
    rules = [{"rule": rule, "n": n, **agg.rule_info.get(rule, no_info)} for rule, n in by_rule.items()]
    asked = sum(summary["faq"]["by_action"].values())
    answered = summary["faq"]["by_action"].get("sent", 0) + summary["faq"]["by_action"].get("held", 0)
    speech_minutes = len(agg.speech_minutes)
    return {
        "room": agg.room,
        "window_label": window_label,
        "s": summary,
        "first": agg.first_ts,
        "last": agg.last_ts,
        "duration": _duration(duration),
        "timeline": _timeline(agg),
        "categories": _hbars(summary["warnings"]["by_category"], lambda c: CATEGORY_LABELS.get(c, c)),
        "rules": rules,
        "phrases": phrases,
        "asked": asked,
        "answered_share": (answered / asked) if asked else None,
        "unanswered": agg.unanswered.most_common(15),
        "unanswered_other": agg.unanswered_other,
        "answered_top": agg.faq_answered.most_common(10),
        "reasons": sorted(agg.faq_reasons.items(), key=lambda kv: -kv[1]),
        "gift_names": agg.gift_names.most_common(10),
        "speech_per_minute": (summary["speech"]["chars"] / speech_minutes) if speech_minutes else 0.0,
        "warnings_per_hour": (summary["warnings"]["total"] / (duration / 3600)) if duration >= 60 else None,
        "statuses": agg.statuses,
        "outages": agg.outages,
        "live": agg.live,
        "notices": agg.notices,
        "generated": iso(dt.datetime.now().timestamp()),
        "severity_colors": SEVERITY_COLORS,
    }


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} 小时 {m} 分" if h else f"{m} 分 {s} 秒"


def render_html(agg: Aggregate, *, window_label: str = "") -> str:
    return env().get_template("report.html").render(**report_context(agg, window_label=window_label))


def render_index(rows: list[dict[str, Any]], *, day: str, links: dict[str, str] | None = None) -> str:
    """The day's rooms, one row each (``rows`` are summaries from ``Aggregate.summary``)."""
    return env().get_template("index.html").render(
        rows=rows, day=day, links=links or {}, generated=iso(dt.datetime.now().timestamp())
    )
