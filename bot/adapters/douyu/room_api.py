"""Douyu's open room API (``{room_api_base}/api/RoomApi/room/{room_id}``), only when configured.

It answers ``{"error": 0, "data": {"room_status": "1" | "2", "owner_name": ..., "gift": [...]}}``:
``room_status`` 1 is live, 2 is off; each gift has ``id``, ``name``, ``type`` (1 = 鱼丸, free; 2 =
鱼翅, paid, 1 鱼翅 = 1 CNY) and ``pc`` (its price in that unit). The response is untrusted and
size-bounded; any problem is a ``RoomApiError`` and the adapter carries on without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl

from bot.adapters.douyu.messages import GiftInfo
from bot.adapters.http_json import get_json

MAX_RESPONSE = 1 << 20
MAX_GIFTS = 500


class RoomApiError(Exception):
    pass


@dataclass(frozen=True)
class RoomInfo:
    live: bool | None
    owner_name: str = ""
    gifts: dict[str, GiftInfo] = field(default_factory=dict)


def _gifts(items: Any) -> dict[str, GiftInfo]:
    out: dict[str, GiftInfo] = {}
    for g in items[:MAX_GIFTS] if isinstance(items, list) else ():
        if not isinstance(g, dict):
            continue
        gid, name, kind = str(g.get("id", "")), g.get("name"), str(g.get("type", ""))
        try:
            price = float(g.get("pc", 0))
        except (TypeError, ValueError):
            continue
        if not gid or not isinstance(name, str) or not name or not 0 <= price < 1e7:
            continue
        paid = kind == "2"
        out[gid[:20]] = GiftInfo(name=name[:64], price=price if paid else 0.0, paid=paid)
    return out


def parse_room(data: Any) -> RoomInfo:
    if not isinstance(data, dict) or data.get("error") != 0 or not isinstance(data.get("data"), dict):
        code = data.get("error") if isinstance(data, dict) else None
        raise RoomApiError(f"room API answered error {code!r}")
    d = data["data"]
    status = str(d.get("room_status", ""))
    owner = d.get("owner_name")
    return RoomInfo(
        live=True if status == "1" else False if status == "2" else None,
        owner_name=owner[:64] if isinstance(owner, str) else "",
        gifts=_gifts(d.get("gift")),
    )


async def fetch_room(http: aiohttp.ClientSession, base: str, room_id: int, timeout: float = 10.0) -> RoomInfo:
    url = yarl.URL(base.rstrip("/")) / "api" / "RoomApi" / "room" / str(room_id)
    data = await get_json(http, url, label="room API", error=RoomApiError, max_bytes=MAX_RESPONSE, timeout=timeout)
    return parse_room(data)
