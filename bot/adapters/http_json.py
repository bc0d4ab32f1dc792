"""One bounded GET of a platform's JSON API, shared by the adapters that call one at set-up.

A platform API is as untrusted as its websocket: the body is read up to a limit (never whole), and
every way the request can go wrong (a refused connection, a timeout, a status other than 200, a body
too large, not JSON) becomes one exception of the caller's own type, its message prefixed with what
was asked for, so the adapter logs one clear line and retries on its own schedule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
import yarl


async def get_json(
    http: aiohttp.ClientSession,
    url: yarl.URL,
    *,
    label: str,
    error: type[Exception],
    max_bytes: int,
    timeout: float = 10.0,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """The decoded JSON body of ``GET url``; ``error(f"{label}: ...")`` on anything odd."""
    try:
        async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status != 200:
                raise error(f"{label}: HTTP {resp.status}")
            body = await resp.content.read(max_bytes + 1)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise error(f"{label}: {type(exc).__name__}: {exc}") from None
    if len(body) > max_bytes:
        raise error(f"{label}: response larger than {max_bytes} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise error(f"{label}: response is not JSON") from None
