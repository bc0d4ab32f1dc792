"""``livebot report``: the post-stream compliance report from one or more audit directories.

    livebot report --audit DIR [--audit DIR2 ...] --room ROOM [--date YYYY-MM-DD | --since ISO --until ISO]
                   [--out FILE.html] [--json]
    livebot report --all --audit DIR [--audit DIR2 ...] --date YYYY-MM-DD [--out INDEX.html] [--json]

``--json`` prints one JSON object on stdout (a contract for scripts, keys are only ever added):
``{"room", "from", "until", "window", "counts": {TYPE: N}, "warnings": {"total", "by_severity",
"by_category", "by_rule", ...}, "faq": {"by_action": {"sent", "held", "failed", "abstained"}, ...},
..., "read": {"files", "lines", "events", "duplicates", "skipped": {REASON: N}}}``; with ``--all``,
``{"date", "rooms": [that object per room]}``. Without ``--out`` or ``--json`` a short text summary
is printed. With ``--all --out INDEX.html`` each room's page is written next to the index
(``INDEX-ROOM.html``) and linked from it.

Exit status: 0 done (also for an empty window: the report says so), 2 bad arguments (one line on
stderr). A bad line in a log is never an error: it is skipped and counted under ``read.skipped``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from bot.report.aggregate import Aggregate, build_report
from bot.report.reader import ReportInputError, Window, check_room, parse_day, parse_instant, rooms_with_day
from bot.report.render import render_html, render_index


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` command to a parent CLI's subparsers."""
    p = subparsers.add_parser("report", help="post-stream compliance report (HTML, JSON) from the audit log")
    p.add_argument("--audit", action="append", required=True, metavar="DIR",
                   help="an audit directory (DIR/ROOM/YYYY-MM-DD.jsonl); repeat for several workers' logs")
    p.add_argument("--room", help="the room to report on")
    p.add_argument("--all", action="store_true", help="an index of every room with a log on --date")
    p.add_argument("--date", help="a day of the log (YYYY-MM-DD, the writer's local date; default today)")
    p.add_argument("--since", help="start of a time window (ISO; no zone = local time)")
    p.add_argument("--until", help="end of the time window (ISO, exclusive)")
    p.add_argument("--out", help="write the HTML page here")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_report)


def _fail(message: str) -> int:
    print(f"livebot report: {message}", file=sys.stderr)
    return 2


def _window(args: argparse.Namespace) -> tuple[Window, dict[str, Any], str]:
    if args.since or args.until:
        if args.date:
            raise ReportInputError("give --date or --since/--until, not both")
        if not (args.since and args.until):
            raise ReportInputError("--since and --until go together")
        since, until = parse_instant(args.since, "--since"), parse_instant(args.until, "--until")
        window = Window.between(since, until)
        label = f"{since.isoformat(timespec='minutes')} – {until.isoformat(timespec='minutes')}"
        return window, {"since": since.isoformat(), "until": until.isoformat()}, label
    day = parse_day(args.date) if args.date else dt.date.today()
    return Window.for_date(day), {"date": day.isoformat()}, day.isoformat()


def _write(path: str, text: str) -> None:
    """Write atomically: a reader never sees half a report."""
    target = Path(path)
    if target.parent and not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def cmd_report(args: argparse.Namespace) -> int:
    try:
        if args.all:
            if args.room or args.since or args.until:
                raise ReportInputError("--all takes --date only (not --room, --since, --until)")
            return _index(args)
        if not args.room:
            raise ReportInputError("--room ROOM is required (or --all for an index of the day)")
        check_room(args.room)
        window, window_json, label = _window(args)
    except ReportInputError as exc:
        return _fail(str(exc))
    missing = [d for d in args.audit if not Path(d).is_dir()]
    if missing:
        return _fail(f"--audit {missing[0]}: no such directory")
    report = build_report(args.audit, args.room, window)
    summary = report.summary(window_json)
    try:
        if args.out:
            _write(args.out, render_html(report, window_label=label))
    except OSError as exc:
        return _fail(f"--out {args.out}: {exc.strerror or exc}")
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    elif not args.out:
        print(_text(summary))
    else:
        skipped = sum(report.stats.skipped.values())
        print(f"wrote {args.out}: {report.stats.events} events" + (f", {skipped} lines skipped" if skipped else ""))
    return 0


def _index(args: argparse.Namespace) -> int:
    day = parse_day(args.date) if args.date else dt.date.today()
    missing = [d for d in args.audit if not Path(d).is_dir()]
    if missing:
        return _fail(f"--audit {missing[0]}: no such directory")
    window = Window.for_date(day)
    reports: list[Aggregate] = [build_report(args.audit, room, window) for room in rooms_with_day(args.audit, day)]
    rows = [r.summary({"date": day.isoformat()}) for r in reports]
    if args.out:
        out = Path(args.out)
        links: dict[str, str] = {}
        try:
            for report in reports:
                page = out.with_name(f"{out.stem}-{report.room}.html")
                _write(str(page), render_html(report, window_label=day.isoformat()))
                links[report.room] = page.name
            _write(args.out, render_index(rows, day=day.isoformat(), links=links))
        except OSError as exc:
            return _fail(f"--out {args.out}: {exc.strerror or exc}")
    if args.json:
        print(json.dumps({"date": day.isoformat(), "rooms": rows}, ensure_ascii=False))
    elif not args.out:
        print(f"{'room':<20} {'block':>6} {'warn':>6} {'info':>6} {'asked':>7} {'answered':>9}")
        for r in rows:
            sev, fa = r["warnings"]["by_severity"], r["faq"]["by_action"]
            print(f"{r['room']:<20} {sev.get('block', 0):>6} {sev.get('warn', 0):>6} {sev.get('info', 0):>6} "
                  f"{sum(fa.values()):>7} {fa.get('sent', 0) + fa.get('held', 0):>9}")
    return 0


def _text(s: dict[str, Any]) -> str:
    w, fa = s["warnings"], s["faq"]["by_action"]
    lines = [
        f"room {s['room']}: {s['from'] or '-'} .. {s['until'] or '-'}",
        "events: " + ", ".join(f"{k} {v}" for k, v in s["counts"].items()),
        f"warnings {w['total']}: " + ", ".join(f"{k} {v}" for k, v in w["by_severity"].items()),
        "faq: " + ", ".join(f"{k} {v}" for k, v in fa.items()),
    ]
    if s["read"]["skipped"] or s["read"]["duplicates"]:
        lines.append(f"skipped lines: {s['read']['skipped']}, duplicates: {s['read']['duplicates']}")
    return "\n".join(lines)
