"""The post-stream compliance report, read from the audit log.

    reader.read_events(dirs, room, window, stats)   # each usable event once, bad lines counted
    aggregate.Aggregate(room).add_all(events)       # counts and per-minute series
    render.render_html(aggregate, ...)              # one self-contained HTML page
    cli                                            # ``livebot report``

It imports nothing of the runtime but the audit log's layout, so a web node can serve it too.
"""

from bot.report.aggregate import Aggregate, build_report
from bot.report.render import render_html, render_index

__all__ = ["Aggregate", "build_report", "render_html", "render_index"]
