"""Anchor speech ingest: any ASR or caption tool can feed a room's pipeline.

- ``POST /api/rooms/{room}/speech`` with ``Authorization: Bearer <ingest_token>`` (or ``?token=``)
  and JSON ``{"text": str, "final": bool = true, "segment": str = auto}`` -> 202, answered only once
  the segment (and any warning it raised) is written and flushed to the audit log; 503 when that
  did not happen within a few seconds (send it again).
- ``GET /api/rooms/{room}/speech/ws`` (same token): each text frame is that JSON object, or plain
  text for a final segment; each is answered with ``{"ok": true, "n": N}`` or ``{"ok": false, "error": ...}``.

A wrong token gets 401 and changes nothing. Partial segments revise each other until the final;
the compliance engine reports a phrase once per segment however often it is revised.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from bot.config import RoomSettings
from bot.events import AnchorSpeech
from overlay.common import INGEST, WEBSOCKETS, bearer_token, room_or_404, token_ok

log = logging.getLogger(__name__)

MAX_SEGMENT_CHARS = 4000
NOT_WRITTEN = "the segment is not in the audit log yet; send it again"
_auto_segment = itertools.count(1)


class BadSpeech(ValueError):
    pass


def _authorized_room(request: web.Request) -> RoomSettings:
    room = room_or_404(request)
    if not token_ok(bearer_token(request), room.ingest_token):
        raise web.HTTPUnauthorized(text="wrong or missing ingest token", headers={"WWW-Authenticate": "Bearer"})
    return room


def speech_from_payload(room: RoomSettings, payload: Any, source: str) -> AnchorSpeech:
    if isinstance(payload, str):
        payload = {"text": payload}
    if not isinstance(payload, dict):
        raise BadSpeech("body must be a JSON object with a text field")
    text = payload.get("text")
    if not isinstance(text, str):
        raise BadSpeech("text must be a string")
    if len(text) > MAX_SEGMENT_CHARS:
        raise BadSpeech(f"text is longer than {MAX_SEGMENT_CHARS} characters; send shorter segments")
    final = payload.get("final", True)
    if not isinstance(final, bool):
        raise BadSpeech("final must be true or false")
    segment = payload.get("segment")
    if segment is None:
        segment = f"{source}-{next(_auto_segment)}"
    elif not isinstance(segment, str | int) or isinstance(segment, bool) or len(str(segment)) > 200:
        raise BadSpeech("segment must be a string or an integer of at most 200 characters")
    return AnchorSpeech(
        room=room.name, platform=room.platform, text=text, segment=str(segment), final=final, source=source
    )


async def post_speech(request: web.Request) -> web.Response:
    room = _authorized_room(request)
    try:
        payload = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError):
        return web.json_response({"ok": False, "error": "body is not JSON"}, status=400)
    try:
        speech = speech_from_payload(room, payload, source="ingest")
    except BadSpeech as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=400)
    try:
        await request.app[INGEST](speech)
    except (TimeoutError, ConnectionError) as exc:
        log.warning("ingest %s: segment %s not acknowledged: %s", room.name, speech.segment, exc)
        return web.json_response({"ok": False, "error": NOT_WRITTEN}, status=503)
    return web.json_response({"ok": True, "segment": speech.segment}, status=202)


async def speech_ws(request: web.Request) -> web.WebSocketResponse:
    room = _authorized_room(request)
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)
    ingest = request.app[INGEST]
    count = 0
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            if msg.type == WSMsgType.ERROR:
                break
            await ws.send_json({"ok": False, "error": "send text frames"})
            continue
        data: Any = msg.data
        if data.lstrip().startswith("{"):
            try:
                data = json.loads(data)
            except ValueError:
                await ws.send_json({"ok": False, "error": "frame is not valid JSON"})
                continue
        try:
            speech = speech_from_payload(room, data, source="ingest-ws")
        except BadSpeech as exc:
            await ws.send_json({"ok": False, "error": str(exc)})
            continue
        try:
            await ingest(speech)
        except (TimeoutError, ConnectionError) as exc:
            log.warning("ingest %s: segment %s not acknowledged: %s", room.name, speech.segment, exc)
            await ws.send_json({"ok": False, "error": NOT_WRITTEN, "segment": speech.segment})
            continue
        count += 1
        await ws.send_json({"ok": True, "n": count, "segment": speech.segment})
    return ws


def setup(app: web.Application) -> None:
    app.router.add_post("/api/rooms/{room}/speech", post_speech)
    app.router.add_get("/api/rooms/{room}/speech/ws", speech_ws)
