"""The overlay websocket: one room's events, in order, with replay after a reconnect.

Protocol (server -> page, JSON text frames):
- ``{"op": "hello", "room": R, "last_seq": N, "gap": bool, "now": T}`` once, after the token check
  (``now``: the server's wall clock in unix seconds, so a page can tell the age of a replayed event
  from its ``ts`` even when the two clocks disagree);
- ``{"op": "event", "event": EVENT}`` for each event (the Event JSON form, without raw payloads);
- ``{"op": "heartbeat", "last_seq": N}`` every few seconds, so a page notices a dead link even when
  the room is quiet (browsers cannot see websocket pings).
The page connects to ``/overlay/{room}/ws?token=T&after=SEQ[&types=warning,faq_reply]`` and keeps
the highest seq it has seen; reconnecting with ``after`` replays what it missed within the window.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from bot.events import BULK_TYPES, Event
from bot.tasks import cancel_and_wait
from overlay.common import BUS, WEBSOCKETS, require_overlay_token, room_or_404

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# close code 1013 "try again later": the page was too slow and will reconnect and replay
TRY_AGAIN_LATER = 1013


# Encoded event frames by (room, seq, ts): every page of a room is sent the same text, encoded once
# (ts too, so two services in one process, as in tests, never share a room's frames).
_FRAMES: dict[tuple[str, int, float], str] = {}
_FRAMES_KEPT = 4096


def feed_frame(event: Event) -> str:
    """The ``{"op": "event", ...}`` frame of an event, encoded once for all the pages that show it."""
    key = (event.room, event.seq, event.ts)
    frame = _FRAMES.get(key)
    if frame is None or event.seq == 0:
        message = {"op": "event", "event": event.to_dict()}
        try:
            frame = orjson.dumps(message).decode("utf-8")
        except (TypeError, orjson.JSONEncodeError):
            frame = json.dumps(message, ensure_ascii=False, default=str)  # lone surrogates, huge ints
        if len(_FRAMES) >= _FRAMES_KEPT:
            del _FRAMES[next(iter(_FRAMES))]  # oldest first: dicts keep insertion order
        _FRAMES[key] = frame
    return frame


def _parse_after(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        after = int(value)
    except ValueError:
        raise web.HTTPBadRequest(text="after must be an integer sequence id") from None
    if after < 0:
        raise web.HTTPBadRequest(text="after must not be negative")
    return after


async def overlay_ws(request: web.Request) -> web.WebSocketResponse:
    room = room_or_404(request)
    require_overlay_token(request, room)  # 401 before the upgrade: a wrong token sees nothing
    after = _parse_after(request.query.get("after"))
    types = {t for t in request.query.get("types", "").split(",") if t}

    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)
    bus = request.app[BUS]
    # a page that asked only for warnings or replies is not woken for every chat line
    sub = bus.subscribe(room.name, after, skip_bulk=bool(types) and types.isdisjoint(BULK_TYPES))
    last_seq = bus.last_seq(room.name)
    hello = {"op": "hello", "room": room.name, "last_seq": last_seq, "gap": sub.gap, "now": time.time()}
    await ws.send_json(hello)

    async def pump() -> None:
        async for event in sub:
            if types and event.type not in types:
                continue
            await ws.send_str(feed_frame(event))
        if sub.dropped:
            await ws.close(code=TRY_AGAIN_LATER, message=b"too slow; reconnect to replay")

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await ws.send_json({"op": "heartbeat", "last_seq": bus.last_seq(room.name)})

    async def drain_client() -> None:
        # pages send nothing we need; reading is how we learn that they went away
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break

    tasks = [asyncio.create_task(c) for c in (pump(), heartbeat(), drain_client())]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, ConnectionResetError | asyncio.CancelledError):
                log.warning("overlay %s: websocket ended: %r", room.name, exc)
    finally:
        await cancel_and_wait(*tasks)
        await sub.close()
        if not ws.closed:
            await ws.close(code=WSCloseCode.GOING_AWAY)
    return ws
