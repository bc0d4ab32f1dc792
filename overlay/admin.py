"""The ops admin page for merchant FAQs: view and edit the file, try a message, see unanswered questions.

Routes (all behind the admin token, given as ``?token=`` once and then kept in an HttpOnly cookie;
a wrong or missing token is 401)::

    GET  /admin/faq                 rooms with an FAQ file
    GET  /admin/faq/{room}          the file in an editor, its last load error, a "try" box,
                                    recent unanswered questions (?q=... shows how q matches)
    POST /admin/faq/{room}/save     form: content, csrf. Validated first: a bad edit is refused
                                    with the error and nothing changes on disk. A good one is
                                    written atomically; the running bot hot-reloads it.

Forms carry a CSRF value derived from the admin token (the cookie alone cannot post).

The page works from the FAQ *file* and the *bus*, not from the runtime's objects: it loads its own
``FaqStore`` per file (reloaded on every view, so it shows what the bot serves) and collects the
``FaqReply`` events with ``action == "abstained"`` from the bus (replay window included), so it
works the same when the pipelines run in another process behind Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from bot.events import FaqReply
from bot.faq import FaqFileError, FaqStore, parse_faq
from bot.faq.store import build_matcher

log = logging.getLogger(__name__)

COOKIE = "livebot_admin"
UNANSWERED_KEEP = 100
MAX_EDIT_BYTES = 512 * 1024


@dataclass
class AdminFaqState:
    stores: dict[str, FaqStore] = field(default_factory=dict)  # by FAQ file path
    unanswered: dict[str, deque[FaqReply]] = field(default_factory=dict)  # by room
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


ADMIN_FAQ = web.AppKey("admin_faq", AdminFaqState)


def setup_admin(app: web.Application) -> None:
    """Add the admin routes and the unanswered-question collector to the app."""
    app[ADMIN_FAQ] = AdminFaqState()
    app.router.add_get("/admin/faq", faq_index)
    app.router.add_get("/admin/faq/{room}", faq_page)
    app.router.add_post("/admin/faq/{room}/save", faq_save)
    app.cleanup_ctx.append(_collect_unanswered)


# --- auth -----------------------------------------------------------------------------------------


def _admin_token(request: web.Request) -> str:
    from overlay.app import SETTINGS

    return request.app[SETTINGS].server.admin_token


def _csrf(token: str) -> str:
    return hmac.new(token.encode(), b"livebot-admin-form", hashlib.sha256).hexdigest()[:32]


def require_admin(request: web.Request) -> tuple[str, bool]:
    """The admin token if the request has it (query or cookie); raises 401 otherwise.
    The bool says whether it came in the query (then the page sets the cookie)."""
    from overlay.app import token_ok

    expected = _admin_token(request)
    given = request.query.get("token", "")
    if given:
        if token_ok(given, expected):
            return expected, True
        raise web.HTTPUnauthorized(text="wrong admin token")
    if token_ok(request.cookies.get(COOKIE, ""), expected):
        return expected, False
    raise web.HTTPUnauthorized(text="admin token required: open /admin/faq?token=...")


def _with_cookie(resp: web.StreamResponse, token: str, from_query: bool) -> web.StreamResponse:
    if from_query:
        resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/admin")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp


# --- stores and unanswered questions --------------------------------------------------------------


def _faq_rooms(request: web.Request) -> list[tuple[str, str]]:
    from overlay.app import SETTINGS

    return [(r.name, r.faq) for r in request.app[SETTINGS].rooms if r.faq]


async def _store(request: web.Request, path: str) -> tuple[FaqStore | None, FaqFileError | None]:
    """This page's store for a file, reloaded if the file changed; (None, error) when it never loaded."""
    state = request.app[ADMIN_FAQ]
    store = state.stores.get(path)
    if store is None:
        try:
            store = await asyncio.to_thread(FaqStore.load, path)
        except FaqFileError as exc:
            return None, exc
        state.stores[path] = store
        return store, None
    await store.reload_if_changed()
    return store, store.last_error


async def _collect_unanswered(app: web.Application) -> AsyncIterator[None]:
    from overlay.app import BUS, SETTINGS

    state = app[ADMIN_FAQ]
    bus = app[BUS]

    async def follow(room: str) -> None:
        keep = state.unanswered.setdefault(room, deque(maxlen=UNANSWERED_KEEP))
        last = 0  # the replay window first, then live events
        while True:
            sub = bus.subscribe(room, after_seq=last)
            try:
                async for event in sub:
                    last = max(last, event.seq)
                    if isinstance(event, FaqReply) and event.action == "abstained":
                        keep.appendleft(event)
            except Exception:
                log.exception("admin: following room %s failed; resubscribing", room)
            finally:
                await sub.close()
            await asyncio.sleep(1.0)  # a slow subscriber is dropped by the bus: resubscribe after `last`

    for room in app[SETTINGS].rooms:
        if room.faq:
            state.tasks.append(asyncio.create_task(follow(room.name), name=f"admin-unanswered:{room.name}"))
    yield
    for task in state.tasks:
        task.cancel()
    for task in state.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


# --- pages ----------------------------------------------------------------------------------------


def _render(request: web.Request, name: str, status: int = 200, **ctx: object) -> web.Response:
    from overlay.app import TEMPLATES

    html = request.app[TEMPLATES].get_template(name).render(**ctx)
    return web.Response(text=html, content_type="text/html", status=status)


async def faq_index(request: web.Request) -> web.StreamResponse:
    token, from_query = require_admin(request)
    resp = _render(request, "admin_faq_index.html", rooms=_faq_rooms(request))
    return _with_cookie(resp, token, from_query)


def _room_faq(request: web.Request) -> tuple[str, str]:
    room = request.match_info["room"]
    for name, path in _faq_rooms(request):
        if name == room:
            return name, path
    raise web.HTTPNotFound(text="no such room, or it has no FAQ file")


async def _page(
    request: web.Request,
    room: str,
    path: str,
    token: str,
    *,
    status: int = 200,
    content: str | None = None,
    save_error: str = "",
    saved: bool = False,
) -> web.Response:
    store, load_error = await _store(request, path)
    query = request.query.get("q", "")[:300]
    tried = store.match(query) if (store is not None and query.strip()) else None
    tried_entry = store.entry(tried.best_id) if (store is not None and tried and tried.best_id) else None
    if content is None:
        content = await asyncio.to_thread(_read, path)
    return _render(
        request,
        "admin_faq.html",
        status=status,
        room=room,
        path=path,
        content=content,
        store=store,
        load_error=str(load_error) if load_error else "",
        save_error=save_error,
        saved=saved,
        query=query,
        tried=tried,
        tried_entry=tried_entry,
        unanswered=list(request.app[ADMIN_FAQ].unanswered.get(room, ())),
        csrf=_csrf(token),
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"# cannot read {path}: {exc}"


async def faq_page(request: web.Request) -> web.StreamResponse:
    token, from_query = require_admin(request)
    room, path = _room_faq(request)
    resp = await _page(request, room, path, token, saved=request.query.get("saved") == "1")
    return _with_cookie(resp, token, from_query)


async def faq_save(request: web.Request) -> web.StreamResponse:
    token, from_query = require_admin(request)
    room, path = _room_faq(request)
    if request.content_length is not None and request.content_length > MAX_EDIT_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_EDIT_BYTES, actual_size=request.content_length)
    form = await request.post()
    if not hmac.compare_digest(str(form.get("csrf", "")), _csrf(token)):
        raise web.HTTPForbidden(text="bad form token; reload the page")
    content = str(form.get("content", "")).replace("\r\n", "\n")
    store, _ = await _store(request, path)
    try:
        if store is None:
            # the file on disk never loaded: validate the edit on its own and write it
            store = await asyncio.to_thread(_new_store, content, path)
            await store.save(content)
            request.app[ADMIN_FAQ].stores[path] = store
        else:
            await store.save(content)
    except FaqFileError as exc:
        log.info("admin: refused an FAQ edit for room %s: %s", room, exc)
        resp = await _page(request, room, path, token, status=400, content=content, save_error=str(exc))
        return _with_cookie(resp, token, from_query)
    log.info("admin: FAQ of room %s saved (%s)", room, path)
    raise web.HTTPSeeOther(location=f"/admin/faq/{room}?saved=1")


def _new_store(content: str, path: str) -> FaqStore:
    """A store for a file that never loaded, built from an edit (raises FaqFileError)."""
    faq = parse_faq(content.encode("utf-8"), path)
    return FaqStore(path, faq, build_matcher(faq))
