"""The ops admin page for merchant FAQs (Chinese first): what the bot missed, teach it, edit entries.

Pages (behind the admin token, given as ``?token=`` once and then kept in an HttpOnly cookie; a
wrong or missing token is 401; every form carries a CSRF value derived from the token)::

    GET  /admin/faq                           rooms with an FAQ file
    GET  /admin/faq/{room}                    unanswered and doubtful questions grouped by the entry
                                              they almost matched; "try a message" (?q=...);
                                              entries; the raw file (?edit=ID opens an entry's form)
    POST /admin/faq/{room}/teach              form: text, faq_id (or "chatter"): one click teaches
    POST /admin/faq/{room}/entry/{faq_id}     form: question, answer, short, examples, keywords
    POST /admin/faq/{room}/save               form: content (the raw file)

JSON API (a contract; ``Authorization: Bearer ADMIN_TOKEN``, 401 without it, 403 when wrong)::

    GET  /admin/api/rooms/{room}/unanswered            -> [{"text", "best", "reason", "ts"}]
    POST /admin/api/rooms/{room}/faq/{faq_id}/examples  {"text"} -> 200 {"ok", "faq", "added", "version"}
    POST /admin/api/rooms/{room}/chatter                {"text"} -> 200 {"ok", "added", "version"}
    POST /admin/api/rooms/{room}/try                    {"text"} -> {"faq": ID|null, "score", "why", "explain"}

Every change is validated before it is written (a bad one is refused with the error and nothing
changes on disk), written atomically keeping the file's comments and layout (``bot/faq/edit.py``),
served at once, and recorded as a ``faq_change`` event through the room's pipeline, so it is in
the audit log (who, when, what) like everything the room did.

Which store: in one process the runtime hands its own FAQ stores over (``FAQ_STORES``), so a
change is served by the running bot the moment it is saved. A web node of the Redis scale-out has
none: it loads its own store per file, and the edited file reaches the workers through
``bot/cluster/shared_files.py`` (publish within a second, workers reload their mirror within two).

Unanswered and doubtful questions come from the bus (``faq_reply`` events, replay window
included), so the page works the same when the pipelines run in another process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.events import FaqChange, FaqReply, User
from bot.faq import FaqFileError, FaqStore, parse_faq
from bot.faq.edit import add_chatter, add_example, update_entry
from bot.faq.explain import explain
from bot.faq.store import MAX_MESSAGE_CHARS, build_matcher
from bot.tasks import cancel_and_wait
from overlay.common import BUS, INGEST, SETTINGS, TEMPLATES, token_ok

log = logging.getLogger(__name__)

COOKIE = "livebot_admin"
UNANSWERED_KEEP = 200
MAX_EDIT_BYTES = 512 * 1024
MAX_JSON_BYTES = 16 * 1024
DOUBTFUL_SCORE = 0.6  # an answer scored below this is shown to ops to confirm or correct
CHATTER = "chatter"  # the teach form's faq_id for "this is chatter"
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class AdminFaqState:
    stores: dict[str, FaqStore] = field(default_factory=dict)  # by FAQ file path (this page's own)
    unanswered: dict[str, deque[FaqReply]] = field(default_factory=dict)  # by room, newest first
    doubtful: dict[str, deque[FaqReply]] = field(default_factory=dict)  # answered with a low score
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


ADMIN_FAQ = web.AppKey("admin_faq", AdminFaqState)
#: the runtime's FAQ stores by path (bot/cli.py sets it in one process): edits are served at once
FAQ_STORES = web.AppKey("faq_stores", dict)


def setup_admin(app: web.Application) -> None:
    """Add the admin routes and the unanswered-question collector to the app."""
    app[ADMIN_FAQ] = AdminFaqState()
    app.router.add_get("/admin/faq", faq_index)
    app.router.add_get("/admin/faq/{room}", faq_page)
    app.router.add_post("/admin/faq/{room}/save", faq_save)
    app.router.add_post("/admin/faq/{room}/teach", faq_teach)
    app.router.add_post("/admin/faq/{room}/entry/{faq_id}", faq_entry_save)
    app.router.add_get("/admin/api/rooms/{room}/unanswered", api_unanswered)
    app.router.add_post("/admin/api/rooms/{room}/faq/{faq_id}/examples", api_add_example)
    app.router.add_post("/admin/api/rooms/{room}/chatter", api_add_chatter)
    app.router.add_post("/admin/api/rooms/{room}/try", api_try)
    app.cleanup_ctx.append(_collect_questions)


# --- auth -----------------------------------------------------------------------------------------


def _admin_token(request: web.Request) -> str:

    return request.app[SETTINGS].server.admin_token


def _csrf(token: str) -> str:
    return hmac.new(token.encode(), b"livebot-admin-form", hashlib.sha256).hexdigest()[:32]


def require_admin(request: web.Request) -> tuple[str, bool]:
    """The admin token if the request has it (query or cookie); raises 401 otherwise.
    The bool says whether it came in the query (then the page sets the cookie)."""

    expected = _admin_token(request)
    given = request.query.get("token", "")
    if given:
        if token_ok(given, expected):
            return expected, True
        raise web.HTTPUnauthorized(text="wrong admin token")
    if token_ok(request.cookies.get(COOKIE, ""), expected):
        return expected, False
    raise web.HTTPUnauthorized(text="admin token required: open /admin/faq?token=...")


def _require_bearer(request: web.Request) -> None:
    """The JSON API: ``Authorization: Bearer TOKEN``; 401 without one, 403 with a wrong one."""

    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise _json_error(web.HTTPUnauthorized, "admin token required: Authorization: Bearer ADMIN_TOKEN")
    if not token_ok(given.strip(), _admin_token(request)):
        raise _json_error(web.HTTPForbidden, "wrong admin token")


def _json_error(cls: type[web.HTTPException], message: str) -> web.HTTPException:
    return cls(text=json.dumps({"ok": False, "error": message}, ensure_ascii=False), content_type="application/json")


def _check_form(form: Any, token: str) -> None:
    if not hmac.compare_digest(str(form.get("csrf", "")), _csrf(token)):
        raise web.HTTPForbidden(text="bad form token; reload the page")


def _with_cookie(resp: web.StreamResponse, token: str, from_query: bool) -> web.StreamResponse:
    if from_query:
        resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/admin")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp


def _who(request: web.Request, given: object = "") -> str:
    """Who made a change, for the audit log: the name ops gave (form field or X-Livebot-Operator
    header), else "admin", and where from. One admin token is shared, so this is what ops say."""
    name = " ".join(str(given or request.headers.get("X-Livebot-Operator", "")).split())[:40] or "admin"
    return f"{name}@{request.remote or '?'}"


# --- stores and collected questions ---------------------------------------------------------------


def _faq_rooms(request: web.Request) -> list[tuple[str, str]]:

    return [(r.name, r.faq) for r in request.app[SETTINGS].rooms if r.faq]


async def _store(request: web.Request, path: str) -> tuple[FaqStore | None, FaqFileError | None]:
    """The store for a file (the runtime's if it shared them, else this page's), reloaded if the
    file changed; (None, error) when it never loaded."""
    shared = request.app.get(FAQ_STORES)
    store = shared.get(path) if shared else None
    if store is None:
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


async def _collect_questions(app: web.Application) -> AsyncIterator[None]:

    state = app[ADMIN_FAQ]
    bus = app[BUS]

    async def follow(room: str) -> None:
        unanswered = state.unanswered.setdefault(room, deque(maxlen=UNANSWERED_KEEP))
        doubtful = state.doubtful.setdefault(room, deque(maxlen=UNANSWERED_KEEP))
        last = 0  # the replay window first, then live events
        while True:
            sub = bus.subscribe(room, after_seq=last, skip_bulk=True)  # FAQ replies only: no chat
            try:
                async for event in sub:
                    last = max(last, event.seq)
                    if not isinstance(event, FaqReply):
                        continue
                    if event.action == "abstained":
                        unanswered.appendleft(event)
                    elif event.faq_id and event.score < DOUBTFUL_SCORE:
                        doubtful.appendleft(event)
            except Exception:
                log.exception("admin: following room %s failed; resubscribing", room)
            finally:
                await sub.close()
            await asyncio.sleep(1.0)  # a slow subscriber is dropped by the bus: resubscribe after `last`

    for room in app[SETTINGS].rooms:
        if room.faq:
            state.tasks.append(asyncio.create_task(follow(room.name), name=f"admin-unanswered:{room.name}"))
    yield
    await cancel_and_wait(*state.tasks)


@dataclass(frozen=True, slots=True)
class Pending:
    """A viewer message worth showing to ops, as the current FAQ version sees it."""

    text: str
    user: str
    ts: float
    best: str | None  # the entry it (almost) matched
    reason: str  # why it is not answered now ("" for a doubtful answer)
    score: float
    answered: bool  # answered now (a doubtful answer, or taught since)


async def _pending(request: web.Request, room: str, store: FaqStore | None, kind: str) -> list[Pending]:
    """The room's unanswered (kind "unanswered") or doubtful questions, one per distinct text, newest
    first, re-matched against the version served now (what was taught since drops out)."""
    state = request.app[ADMIN_FAQ]
    events = state.unanswered.get(room, ()) if kind == "unanswered" else state.doubtful.get(room, ())
    out: list[Pending] = []
    seen: set[str] = set()
    for ev in list(events):
        if ev.text in seen:
            continue
        seen.add(ev.text)
        if store is None:
            out.append(Pending(ev.text, ev.user.name if ev.user else "", ev.ts, None, ev.reason, ev.score, False))
            continue
        m = await store.match_async(ev.text)
        if kind == "unanswered" and m.answered:
            continue  # taught since: answered now
        if kind == "doubtful" and m.reason == "chatter":
            continue
        best = m.faq_id or m.best_id
        out.append(Pending(ev.text, ev.user.name if ev.user else "", ev.ts, best, m.reason, m.score, m.answered))
    return out


def _grouped(items: list[Pending]) -> list[tuple[str | None, list[Pending]]]:
    groups: dict[str | None, list[Pending]] = {}
    for p in items:
        groups.setdefault(p.best, []).append(p)
    # the entries that miss most first; messages near no entry last
    return sorted(groups.items(), key=lambda kv: (kv[0] is None, -len(kv[1])))


async def _record(request: web.Request, room: str, store: FaqStore, change: str, text: str, **fields: Any) -> None:
    """Put the change in the room's audit log (through its pipeline: the audit API it uses)."""

    who = _who(request, fields.pop("who", ""))
    event = FaqChange(
        room=room,
        platform="admin",
        user=User(id="admin", name=who),
        text=text[:MAX_MESSAGE_CHARS],
        change=change,
        file=str(store.path),
        version=store.version,
        **fields,
    )
    log.info("admin: %s changed the FAQ of room %s: %s %s %r", who, room, change, fields.get("faq_id", ""), text[:80])
    try:
        await request.app[INGEST](event)
    except Exception:  # the file is changed and served; losing the audit line must be loud
        log.exception("admin: could not audit an FAQ change of room %s", room)


# --- pages ----------------------------------------------------------------------------------------


def _render(request: web.Request, name: str, status: int = 200, **ctx: object) -> web.Response:

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
    notice: str = "",
    form_error: str = "",
    form: dict[str, str] | None = None,
    edit_id: str = "",
) -> web.Response:
    store, load_error = await _store(request, path)
    query = request.query.get("q", "")[:MAX_MESSAGE_CHARS]
    tried = await store.match_async(query) if (store is not None and query.strip()) else None
    edit_id = edit_id or request.query.get("edit", "")
    edit_entry = store.entry(edit_id) if (store is not None and edit_id) else None
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
        notice=notice,
        form_error=form_error,
        form=form,
        query=query,
        tried=tried,
        tried_explain=explain(tried, store.faq) if (tried is not None and store is not None) else [],
        edit_entry=edit_entry,
        unanswered=_grouped(await _pending(request, room, store, "unanswered")),
        doubtful=_grouped(await _pending(request, room, store, "doubtful")),
        entries={e.id: e for e in store.entries} if store is not None else {},
        chatter_id=CHATTER,
        csrf=_csrf(token),
        when=lambda ts: time.strftime("%H:%M:%S", time.localtime(ts)),
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"# cannot read {path}: {exc}"


NOTICES = {
    "saved": "已保存。正在运行的机器人已经换用新版本。",
    "taught": "已加为例句，机器人现在就会这样回答。",
    "chatter": "已标记为闲聊，机器人以后不回答这句话。",
    "entry": "条目已保存。",
    "same": "没有变化：文件里已经有了。",
}


async def faq_page(request: web.Request) -> web.StreamResponse:
    token, from_query = require_admin(request)
    room, path = _room_faq(request)
    notice = NOTICES.get(request.query.get("done", ""), "")
    if request.query.get("saved") == "1":
        notice = NOTICES["saved"]
    resp = await _page(request, room, path, token, notice=notice)
    return _with_cookie(resp, token, from_query)


async def _editable_store(request: web.Request, path: str) -> FaqStore:
    store, error = await _store(request, path)
    if store is None:
        raise FaqFileError(path, f"the file does not load, fix it in the raw editor first: {error}")
    return store


async def faq_save(request: web.Request) -> web.StreamResponse:
    token, from_query = require_admin(request)
    room, path = _room_faq(request)
    if request.content_length is not None and request.content_length > MAX_EDIT_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_EDIT_BYTES, actual_size=request.content_length)
    form = await request.post()
    _check_form(form, token)
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
    await _record(request, room, store, "file", "", who=form.get("who", ""))
    raise web.HTTPSeeOther(location=f"/admin/faq/{room}?saved=1")


def _new_store(content: str, path: str) -> FaqStore:
    """A store for a file that never loaded, built from an edit (raises FaqFileError)."""
    faq = parse_faq(content.encode("utf-8"), path)
    return FaqStore(path, faq, build_matcher(faq))


async def _teach(request: web.Request, room: str, path: str, faq_id: str, text: str, who: object) -> tuple[bool, int]:
    """Add ``text`` as an example of ``faq_id`` (or as chatter); (added, version). Raises FaqFileError."""
    # a lone surrogate (JSON can carry one) cannot be written as UTF-8: it becomes U+FFFD
    text = " ".join(_SURROGATE.sub("\ufffd", text).split())[:MAX_MESSAGE_CHARS]
    store = await _editable_store(request, path)
    if faq_id == CHATTER:
        added = await store.edit(partial(add_chatter, message=text, file=path))
        if added:
            await _record(request, room, store, "chatter", text, who=who)
    else:
        if store.entry(faq_id) is None:
            raise FaqFileError(path, f"no entry with id {faq_id!r}")
        added = await store.edit(partial(add_example, faq_id=faq_id, example=text, file=path))
        if added:
            await _record(request, room, store, "example", text, faq_id=faq_id, who=who)
    return added, store.version


async def faq_teach(request: web.Request) -> web.StreamResponse:
    token, from_query = require_admin(request)
    room, path = _room_faq(request)
    form = await request.post()
    _check_form(form, token)
    faq_id = str(form.get("faq_id", ""))
    try:
        added, _ = await _teach(request, room, path, faq_id, str(form.get("text", "")), form.get("who", ""))
    except FaqFileError as exc:
        resp = await _page(request, room, path, token, status=400, save_error=str(exc))
        return _with_cookie(resp, token, from_query)
    done = "same" if not added else (CHATTER if faq_id == CHATTER else "taught")
    raise web.HTTPSeeOther(location=f"/admin/faq/{room}?done={done}")


def _lines(value: object) -> list[str]:
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


async def faq_entry_save(request: web.Request) -> web.StreamResponse:
    token, from_query = require_admin(request)
    room, path = _room_faq(request)
    faq_id = request.match_info["faq_id"]
    form = await request.post()
    _check_form(form, token)
    fields: dict[str, Any] = {
        "question": str(form.get("question", "")),
        "answer": str(form.get("answer", "")),
        "short": str(form.get("short", "")),
        "examples": _lines(form.get("examples")),
        "keywords": _lines(form.get("keywords")),
    }
    try:
        store = await _editable_store(request, path)
        before = store.entry(faq_id)
        if before is None:
            raise FaqFileError(path, f"no entry with id {faq_id!r}")
        changed = await store.edit(partial(update_entry, faq_id=faq_id, fields=fields, file=path))
    except FaqFileError as exc:
        log.info("admin: refused an entry edit for room %s: %s", room, exc)
        shown = {k: (v if isinstance(v, str) else "\n".join(v)) for k, v in fields.items()}
        resp = await _page(request, room, path, token, status=400, form_error=str(exc), form=shown, edit_id=faq_id)
        return _with_cookie(resp, token, from_query)
    if changed:
        after = store.entry(faq_id)
        names = tuple(k for k in fields if after is None or getattr(before, k) != getattr(after, k))
        await _record(
            request, room, store, "entry", fields["question"], faq_id=faq_id, fields=names, who=form.get("who")
        )
    raise web.HTTPSeeOther(location=f"/admin/faq/{room}?done={'entry' if changed else 'same'}")


# --- JSON API -------------------------------------------------------------------------------------


def _api_room(request: web.Request) -> tuple[str, str]:
    try:
        return _room_faq(request)
    except web.HTTPNotFound:
        raise _json_error(web.HTTPNotFound, "no such room, or it has no FAQ file") from None


async def _json_text(request: web.Request) -> str:
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise _json_error(web.HTTPRequestEntityTooLarge, f"at most {MAX_JSON_BYTES} bytes")
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise _json_error(web.HTTPBadRequest, 'body must be JSON: {"text": "..."}') from None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise _json_error(web.HTTPBadRequest, '"text" must be a non-empty string')
    return text


def _json(data: Any, status: int = 200) -> web.Response:
    resp = web.json_response(data, status=status, dumps=partial(json.dumps, ensure_ascii=False))
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def api_unanswered(request: web.Request) -> web.StreamResponse:
    _require_bearer(request)
    room, path = _api_room(request)
    store, _ = await _store(request, path)
    items = await _pending(request, room, store, "unanswered")
    return _json([{"text": p.text, "best": p.best, "reason": p.reason, "ts": p.ts} for p in items])


async def _api_teach(request: web.Request, faq_id: str) -> web.StreamResponse:
    _require_bearer(request)
    room, path = _api_room(request)
    text = await _json_text(request)
    try:
        added, version = await _teach(request, room, path, faq_id, text, "")
    except FaqFileError as exc:
        status = web.HTTPNotFound if "no entry with id" in str(exc) else web.HTTPUnprocessableEntity
        raise _json_error(status, str(exc)) from None
    out: dict[str, Any] = {"ok": True, "added": added, "version": version}
    if faq_id != CHATTER:
        out["faq"] = faq_id
    return _json(out)


async def api_add_example(request: web.Request) -> web.StreamResponse:
    return await _api_teach(request, request.match_info["faq_id"])


async def api_add_chatter(request: web.Request) -> web.StreamResponse:
    return await _api_teach(request, CHATTER)


async def api_try(request: web.Request) -> web.StreamResponse:
    _require_bearer(request)
    _room, path = _api_room(request)
    text = await _json_text(request)
    store, error = await _store(request, path)
    if store is None:
        raise _json_error(web.HTTPServiceUnavailable, f"the FAQ file does not load: {error}")
    m = await store.match_async(text)
    return _json({"faq": m.faq_id, "score": m.score, "why": m.why, "explain": explain(m, store.faq)})
