"""The web face: OBS overlay pages, their websocket feed, speech ingest, health.

``create_app`` takes what it serves from as arguments (the bus, an ingest callable, a status
callable) and keeps them under ``web.AppKey``s; it imports nothing of the runtime, so a web node
can serve rooms whose pipelines run in another process (see the Redis bus).
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path

import jinja2
from aiohttp import WSCloseCode, web

from bot.bus.base import Bus
from bot.config import RoomSettings, Settings
from overlay import admin, hub, report
from overlay import ingest as ingest_routes
from overlay.common import (  # noqa: F401  (re-exported: the app's keys and checks, as before)
    BUS,
    INGEST,
    OVERLAY_PAGES_KEY,
    PAGE_HEADERS,
    SETTINGS,
    STATUS,
    TEMPLATES,
    WEBSOCKETS,
    Ingest,
    StatusProvider,
    bearer_token,
    require_overlay_token,
    room_or_404,
    token_ok,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent

# The pages an OBS browser source can show; each is templates/<page>.html.
OVERLAY_PAGES = ("warnings", "faq", "chat")


def render_page(request: web.Request, room: RoomSettings, template: str, page: str, token: str) -> web.Response:
    settings = request.app[SETTINGS]
    page_config = {
        "room": room.name,
        "page": page,
        "token": token,
        "ws": f"/overlay/{room.name}/ws",
        "sound": settings.overlay.sound,
        "warning_seconds": settings.overlay.warning_seconds,
        "faq_seconds": settings.overlay.faq_seconds,
    }
    html = request.app[TEMPLATES].get_template(template).render(room=room.name, page=page, config=page_config)
    return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)


async def overlay_page(request: web.Request) -> web.Response:
    room = room_or_404(request)
    page = request.match_info["page"]
    if page not in request.app[OVERLAY_PAGES_KEY]:
        raise web.HTTPNotFound(text="no such page")
    token = require_overlay_token(request, room)
    return render_page(request, room, f"{page}.html", page, token)


async def console_page(request: web.Request) -> web.Response:
    """The second-screen console: a normal page for the anchor or ops, with the overlay token."""
    room = room_or_404(request)
    token = require_overlay_token(request, room)
    return render_page(request, room, "console.html", "console", token)


async def healthz(request: web.Request) -> web.Response:
    status = request.app[STATUS]()
    ok = bool(status.get("ok", True))
    return web.json_response(status, status=200 if ok else 503)


async def close_websockets(app: web.Application) -> None:
    for ws in list(app[WEBSOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def create_app(
    settings: Settings,
    *,
    bus: Bus,
    ingest: Ingest,
    status: StatusProvider,
) -> web.Application:
    app = web.Application(client_max_size=1 << 20)
    app[SETTINGS] = settings
    app[BUS] = bus
    app[INGEST] = ingest
    app[STATUS] = status
    app[OVERLAY_PAGES_KEY] = OVERLAY_PAGES
    app[WEBSOCKETS] = weakref.WeakSet()
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every page shows viewer text; never trust it
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/overlay/{room}/ws", hub.overlay_ws)
    app.router.add_get("/overlay/{room}/{page}", overlay_page)
    app.router.add_get("/console/{room}", console_page)
    ingest_routes.setup(app)
    admin.setup_admin(app)
    report.setup(app)
    static = app.router.add_static("/static/", HERE / "static", append_version=True, name="static")
    # versioned URLs (?v=<hash>): OBS's browser cache never serves a page the scripts of an older release
    app[TEMPLATES].globals["static"] = lambda filename: str(static.url_for(filename=filename))
    app.on_shutdown.append(close_websockets)
    return app
