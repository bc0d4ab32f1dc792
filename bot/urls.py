"""The URLs a user pastes into OBS and scripts, printed by every role that serves pages once it
listens (``bot.serving``): the overlays, console and ingest of each room, the admin page with its
token, and the health check."""

from __future__ import annotations

import sys

from bot.config import Settings


def _base_url(settings: Settings) -> str:
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.server.port}"


def print_urls(settings: Settings, out=sys.stdout) -> None:  # type: ignore[no-untyped-def]
    base = _base_url(settings)
    for room in settings.rooms:
        print(f"room {room.name} ({room.platform} {room.room_id or room.recording})", file=out)
        overlay = f"{base}/overlay/{room.name}"
        print(f"  OBS browser source (1920x1080), warnings: {overlay}/warnings?token={room.overlay_token}", file=out)
        print(f"  OBS browser source (1920x1080), FAQ cards: {overlay}/faq?token={room.overlay_token}", file=out)
        print(f"  OBS browser source (1920x1080), chat: {overlay}/chat?token={room.overlay_token}", file=out)
        print(f"  console (second screen): {base}/console/{room.name}?token={room.overlay_token}", file=out)
        print(
            f"  speech ingest: POST {base}/api/rooms/{room.name}/speech  (Authorization: Bearer {room.ingest_token})",
            file=out,
        )
        if settings.server.admin_token:
            print(f"  post-stream report: {base}/report/{room.name}?token={settings.server.admin_token}", file=out)
    if settings.server.admin_token:
        print(f"admin (FAQ editor): {base}/admin/faq?token={settings.server.admin_token}", file=out)
    print(f"health: {base}/healthz", file=out)
    out.flush()
