"""What every route module of the web app shares: its ``web.AppKey``s, the token checks, the room
lookup and the headers of pages that show viewer text.

It sits below ``app.py`` and the route modules (``hub``, ``ingest``, ``admin``, ``report``), so they
import it rather than the app, and no module of the package imports one that imports it back.
"""

from __future__ import annotations

import hmac
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import jinja2
from aiohttp import web

from bot.bus.base import Bus
from bot.config import RoomSettings, Settings
from bot.events import Event

Ingest = Callable[[Event], Awaitable[None]]
StatusProvider = Callable[[], dict[str, Any]]

SETTINGS = web.AppKey("settings", Settings)
BUS = web.AppKey("bus", Bus)
INGEST = web.AppKey("ingest", Callable)  # type: ignore[type-abstract]
STATUS = web.AppKey("status", Callable)  # type: ignore[type-abstract]
TEMPLATES = web.AppKey("templates", jinja2.Environment)
WEBSOCKETS = web.AppKey("websockets", weakref.WeakSet)
OVERLAY_PAGES_KEY = web.AppKey("overlay_pages", tuple)

# Every page shows viewer text: scripts only from us, nothing framed, the token never sent as a Referer.
# Inline styles stay allowed because OBS injects its "Custom CSS" field as a style element.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def room_or_404(request: web.Request) -> RoomSettings:
    room = request.app[SETTINGS].room(request.match_info["room"])
    if room is None:
        raise web.HTTPNotFound(text="no such room")
    return room


def token_ok(given: str | None, expected: str) -> bool:
    # constant-time, so a wrong guess learns nothing from the response time
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def require_overlay_token(request: web.Request, room: RoomSettings) -> str:
    token = request.query.get("token", "")
    if not token_ok(token, room.overlay_token):
        raise web.HTTPUnauthorized(text="wrong or missing token")
    return token


def bearer_token(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.query.get("token", "")
