"""The post-stream report on the web app, for the admin token.

    GET /report/{room}?date=YYYY-MM-DD[&format=json]         (also /admin/report/{room}, so the admin
                                                              page's cookie, kept for /admin, opens it)

The admin token comes as ``Authorization: Bearer``, as ``?token=`` (then kept in an HttpOnly cookie
for these paths) or as that cookie: the admin page's own check (``overlay.admin.require_admin``),
plus the bearer header for scripts. Wrong or missing: 401.

The page reads ``[audit] dir`` of the config. A web node serves what that directory holds: point it
at the folder the workers write to (a shared mount) for the full record of rooms that moved. The
report is read and aggregated in a worker thread, one at a time per process, so a long show's
report never stalls the overlay feeds served by the same loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from aiohttp import web

from bot.report.aggregate import build_report
from bot.report.reader import ReportInputError, Window, parse_day
from bot.report.render import render_html
from overlay.admin import COOKIE, require_admin
from overlay.common import PAGE_HEADERS, SETTINGS, bearer_token, room_or_404, token_ok

REPORT_LOCK = web.AppKey("report_lock", asyncio.Lock)
PATHS = ("/report", "/admin/report")


def setup(app: web.Application) -> None:
    app[REPORT_LOCK] = asyncio.Lock()
    for base in PATHS:
        app.router.add_get(base + "/{room}", report_page)


def _require_admin(request: web.Request) -> tuple[str, bool]:
    """The admin token (and whether it came in the query); 401 otherwise."""

    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        expected = request.app[SETTINGS].server.admin_token
        if token_ok(bearer_token(request), expected):
            return expected, False
        raise web.HTTPUnauthorized(text="wrong admin token")
    try:
        return require_admin(request)
    except web.HTTPUnauthorized as exc:
        if request.query.get("token"):
            raise
        raise web.HTTPUnauthorized(text=f"admin token required: open {request.path}?token=...") from exc


async def report_page(request: web.Request) -> web.StreamResponse:

    token, from_query = _require_admin(request)
    room = room_or_404(request)
    try:
        day = parse_day(request.query["date"]) if request.query.get("date") else dt.date.today()
    except ReportInputError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    audit_dir = request.app[SETTINGS].audit.dir
    async with request.app[REPORT_LOCK]:
        report = await asyncio.to_thread(build_report, [audit_dir], room.name, Window.for_date(day))
    if request.query.get("format") == "json":
        body = json.dumps(report.summary({"date": day.isoformat()}), ensure_ascii=False)
        resp: web.Response = web.Response(text=body, content_type="application/json")
    else:
        html = await asyncio.to_thread(render_html, report, window_label=day.isoformat())
        resp = web.Response(text=html, content_type="text/html")
    resp.headers.update(PAGE_HEADERS)
    resp.headers["X-Frame-Options"] = "DENY"
    if from_query:
        base = request.path.rsplit("/", 1)[0]
        resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path=base)
    return resp
