"""Test helpers shared by the suites: a real livebot service on a loopback port.

``running_service`` starts the same objects ``livebot run`` starts (Service + create_app on an
aiohttp AppRunner), bound to 127.0.0.1 on an ephemeral port, and stops them gracefully.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.config import Settings, ensure_tokens, parse_config
from bot.service import Service
from overlay.admin import FAQ_STORES
from overlay.app import create_app
from tests.loopback.common import free_port

ROOT = Path(__file__).resolve().parents[1]
DEMO_FAQ = ROOT / "bot" / "demo" / "faq.toml"
DEMO_RECORDING = ROOT / "bot" / "demo" / "recording.jsonl"


def make_settings(tmp_path: Path, rooms: list[dict[str, Any]], **sections: Any) -> Settings:
    """Settings for a test: state and audit under tmp_path, fixed tokens unless a room names its own."""
    data: dict[str, Any] = {
        "server": {
            "host": "127.0.0.1",
            "port": free_port(),
            "state_dir": str(tmp_path / "state"),
            "admin_token": "admin",
        },
        "audit": {"dir": str(tmp_path / "audit")},
        "rooms": [{"overlay_token": "overlay-" + r["name"], "ingest_token": "ingest-" + r["name"], **r} for r in rooms],
    }
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    settings, _ = ensure_tokens(parse_config(data, "<test>"))
    return settings


@dataclass
class Running:
    settings: Settings
    service: Service
    app: web.Application
    base_url: str

    def overlay_url(self, room: str, page: str = "warnings", **query: str) -> str:
        token = self.settings.room(room).overlay_token  # type: ignore[union-attr]
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"{self.base_url}/overlay/{room}/{page}?token={token}{extra}"


@contextlib.asynccontextmanager
async def running_service(settings: Settings, service: Service | None = None) -> AsyncIterator[Running]:
    service = service or Service(settings)
    app = create_app(settings, bus=service.bus, ingest=service.ingest, status=service.status)
    app[FAQ_STORES] = service.faq_stores  # as bot/cli.py wires it
    app.cleanup_ctx.append(service.cleanup_ctx)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.server.host, settings.server.port)
    await site.start()
    try:
        yield Running(settings, service, app, f"http://{settings.server.host}:{settings.server.port}")
    finally:
        await runner.cleanup()


async def post_speech(running: Running, text: str, segment: str, *, final: bool = True) -> None:
    """Post one speech segment to the first room's ingest, as an ASR tool would; it must be accepted."""
    import aiohttp

    room = running.settings.rooms[0]
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{running.base_url}/api/rooms/{room.name}/speech",
            json={"text": text, "segment": segment, "final": final},
            headers={"Authorization": f"Bearer {room.ingest_token}"},
        ) as resp:
            assert resp.status == 202, await resp.text()
