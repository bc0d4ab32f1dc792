"""Bilibili room set-up over HTTP: what a browser does before it opens the danmaku websocket.

1. buvid3/buvid4 device cookies (``/x/frontend/finger/spi``) unless configured;
2. ``/x/web-interface/nav``: the logged-in uid (if ``SESSDATA`` is set) and the WBI keys;
3. ``/room/v1/Room/get_info``: the real room id (short ids map to long ones) and the anchor's uid;
4. ``/xlive/web-room/v1/index/getDanmuInfo``, WBI-signed: the auth token and the host list.

``-352`` is risk control: the WBI keys and device cookies are refreshed and the call retried once.
When set-up fails anyway, ``RoomSetup.run`` returns a *degraded* plan for the anonymous fallback
url (no token, uid 0): the room keeps receiving (with reduced data) while the adapter retries the
full set-up now and then. The fallback follows the configured endpoints (``fallback_url``): a
relay or test server gets none, and the set-up is retried with backoff instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import yarl

from bot.adapters.base import ProtocolError
from bot.adapters.http_json import get_json
from bot.config import BilibiliSettings

log = logging.getLogger(__name__)

# The fixed permutation that picks the 32-character mixin key out of img_key + sub_key
# (public WBI signing notes; checked against their published test vector in the tests).
MIXIN_KEY_TABLE = (
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35,
    27, 43, 5, 49, 33, 9, 42, 19, 29, 28, 14, 39, 12, 38, 41, 13,
    37, 48, 7, 16, 24, 55, 40, 61, 26, 17, 0, 1, 60, 51, 30, 4,
    22, 25, 54, 21, 56, 59, 6, 63, 57, 62, 11, 36, 20, 34, 44, 52,
)  # fmt: skip
WBI_STRIP = str.maketrans("", "", "!'()*")
WBI_KEYS_TTL = 30 * 60.0  # the keys rotate daily; refresh well before
RISK_CONTROL = -352
MAX_RESPONSE = 1 << 20
PUBLIC_API = "https://api.bilibili.com"
PUBLIC_LIVE_API = "https://api.live.bilibili.com"
PUBLIC_FALLBACK = "wss://broadcastlv.chat.bilibili.com:443/sub"
HOST_RE = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$")


class SetupError(Exception):
    """A set-up step failed; ``code`` is the API's code when it gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SetupFailed(ProtocolError):
    """The set-up failed and there is no fallback for the configured endpoints: redial later."""


def fallback_url(settings: BilibiliSettings) -> str | None:
    """The anonymous fallback websocket, or None when there is none.

    ``auto`` (the default) is Bilibili's public host only while the set-up talks to Bilibili's
    public API; a relay or a test server configured in ``api_base``/``live_api_base`` gets no
    fallback, so livebot never joins through a host other than the configured ones. ``off`` (or
    empty) turns it off; any other value is a configured URL and used as it is.
    """
    value = settings.fallback_url.strip()
    if value in ("", "off"):
        return None
    if value == "auto":
        public = (settings.api_base.rstrip("/"), settings.live_api_base.rstrip("/")) == (PUBLIC_API, PUBLIC_LIVE_API)
        return PUBLIC_FALLBACK if public else None
    return value


class RiskControl(SetupError):
    """The API answered -352: fresh WBI keys and device cookies are needed, and a pause."""


# --- WBI signing ---------------------------------------------------------------------------------


def key_from_url(url: str) -> str:
    """``https://i0.hdslb.com/bfs/wbi/7cd0...077c.png`` -> ``7cd0...077c``."""
    name = url.rsplit("/", 1)[-1]
    return name.split(".", 1)[0]


def mixin_key(img_key: str, sub_key: str) -> str:
    raw = img_key + sub_key
    if len(raw) < 64:
        raise SetupError(f"WBI keys too short ({len(raw)} characters, need 64)")
    return "".join(raw[i] for i in MIXIN_KEY_TABLE)[:32]


def wbi_query(params: Mapping[str, object], mixin: str, wts: int) -> str:
    """The signed query string: params + wts, sorted, ``!'()*`` stripped, ``&w_rid=md5(query + mixin)``."""
    items = {k: str(v).translate(WBI_STRIP) for k, v in params.items()}
    items["wts"] = str(wts)
    query = urlencode(sorted(items.items()), quote_via=quote)
    w_rid = hashlib.md5((query + mixin).encode()).hexdigest()
    return f"{query}&w_rid={w_rid}"


# --- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomPlan:
    """Everything the websocket side needs to join a room."""

    room_id: int  # the real (long) room id
    anchor_uid: str | None
    uid: int  # the bot's own uid, 0 when anonymous
    token: str | None
    urls: tuple[str, ...]
    buvid3: str = ""
    degraded: bool = False  # the anonymous fallback after a failed set-up
    detail: str = ""

    def auth_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "uid": self.uid,
            "roomid": self.room_id,
            "protover": 3,
            "platform": "web",
            "type": 2,
            "buvid": self.buvid3,
        }
        if self.token:
            body["key"] = self.token
        return body


@dataclass
class _SessionCache:
    """Per-HTTP-session cache, so many rooms in one process share one nav call and one device id."""

    nav: dict[tuple[str, str], tuple[float, str, int]] = field(default_factory=dict)  # -> (at, mixin, uid)
    buvid: dict[str, tuple[str, str]] = field(default_factory=dict)  # api_base -> (buvid3, buvid4)


_CACHES: weakref.WeakKeyDictionary[aiohttp.ClientSession, _SessionCache] = weakref.WeakKeyDictionary()


def _cache(http: aiohttp.ClientSession) -> _SessionCache:
    cache = _CACHES.get(http)
    if cache is None:
        cache = _CACHES[http] = _SessionCache()
    return cache


class RoomSetup:
    def __init__(
        self,
        room_id: int,
        settings: BilibiliSettings,
        http: aiohttp.ClientSession,
        *,
        anchor_uid: str | None = None,
        room_name: str = "",
    ) -> None:
        self.room_id = room_id
        self.settings = settings
        self.http = http
        self.anchor_uid_override = anchor_uid or None
        self.name = room_name or str(room_id)
        self._real_id: int | None = None
        self._anchor_uid: str | None = None
        self._warned_login = False

    # --- HTTP ------------------------------------------------------------------------------------

    def _headers(self, buvid: tuple[str, str] | None = None) -> dict[str, str]:
        s = self.settings
        cookies = {"SESSDATA": s.sessdata, "bili_jct": s.bili_jct}
        b3, b4 = buvid or (s.buvid3, "")
        cookies["buvid3"] = s.buvid3 or b3
        cookies["buvid4"] = b4
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items() if v)
        headers = {
            "User-Agent": s.user_agent,
            "Referer": "https://live.bilibili.com/",
            "Origin": "https://live.bilibili.com",
        }
        if cookie:
            headers["Cookie"] = cookie
        return headers

    async def _get(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        """GET a Bilibili JSON API; returns the whole object (with ``code``), SetupError on anything odd."""
        target = yarl.URL(url, encoded=True)
        path = target.path
        data = await get_json(self.http, target, label=path, error=SetupError, max_bytes=MAX_RESPONSE, headers=headers)
        if not isinstance(data, dict) or not isinstance(data.get("code"), int):
            raise SetupError(f"{path}: response has no code")
        if data["code"] == RISK_CONTROL:
            raise RiskControl(f"{path}: -352 risk control", RISK_CONTROL)
        return data

    # --- steps -----------------------------------------------------------------------------------

    async def _buvid(self) -> tuple[str, str]:
        if self.settings.buvid3:
            return self.settings.buvid3, ""
        cache = _cache(self.http)
        base = self.settings.api_base
        if base in cache.buvid:
            return cache.buvid[base]
        try:
            data = await self._get(f"{base}/x/frontend/finger/spi", self._headers())
            d = data.get("data") if isinstance(data.get("data"), dict) else {}
            b3, b4 = d.get("b_3"), d.get("b_4")
            if data["code"] != 0 or not isinstance(b3, str) or not b3:
                raise SetupError(f"finger/spi: code {data['code']}")
        except SetupError as exc:
            # not fatal: the token still works without one, the server is just more suspicious
            log.warning("room %s: no buvid3 device cookie (%s); continuing without", self.name, exc)
            return "", ""
        cache.buvid[base] = (b3, b4 if isinstance(b4, str) else "")
        return cache.buvid[base]

    async def _nav(self, buvid: tuple[str, str]) -> tuple[str, int]:
        """(mixin key, logged-in uid or 0)."""
        cache = _cache(self.http)
        key = (self.settings.api_base, self.settings.sessdata)
        hit = cache.nav.get(key)
        if hit and time.monotonic() - hit[0] < WBI_KEYS_TTL:
            return hit[1], hit[2]
        data = await self._get(f"{self.settings.api_base}/x/web-interface/nav", self._headers(buvid))
        d = data.get("data") if isinstance(data.get("data"), dict) else {}
        wbi = d.get("wbi_img") if isinstance(d.get("wbi_img"), dict) else {}
        img, sub = wbi.get("img_url"), wbi.get("sub_url")
        if not isinstance(img, str) or not isinstance(sub, str):
            raise SetupError(f"nav: no WBI keys (code {data['code']})", data["code"])
        mixin = mixin_key(key_from_url(img), key_from_url(sub))
        uid = 0
        if data["code"] == 0 and d.get("isLogin") and isinstance(d.get("mid"), int):
            uid = d["mid"]
        elif self.settings.sessdata and not self._warned_login:
            self._warned_login = True
            log.warning(
                "room %s: Bilibili does not accept the configured SESSDATA (expired or wrong?); "
                "joining anonymously, so viewer names will be masked and sending is off",
                self.name,
            )
        cache.nav[key] = (time.monotonic(), mixin, uid)
        return mixin, uid

    async def _room_info(self, buvid: tuple[str, str]) -> tuple[int, str | None]:
        data = await self._get(
            f"{self.settings.live_api_base}/room/v1/Room/get_info?room_id={self.room_id}",
            self._headers(buvid),
        )
        d = data.get("data") if isinstance(data.get("data"), dict) else {}
        real, uid = d.get("room_id"), d.get("uid")
        if data["code"] != 0 or not isinstance(real, int) or real <= 0:
            raise SetupError(f"get_info: code {data['code']}: {str(data.get('message', ''))[:80]}", data["code"])
        return real, (str(uid) if isinstance(uid, int) and uid > 0 else None)

    async def _danmu_info(self, real_id: int, mixin: str, buvid: tuple[str, str]) -> tuple[str, tuple[str, ...]]:
        query = wbi_query({"id": real_id, "type": 0, "web_location": "444.8"}, mixin, int(time.time()))
        data = await self._get(
            f"{self.settings.live_api_base}/xlive/web-room/v1/index/getDanmuInfo?{query}",
            self._headers(buvid),
        )
        d = data.get("data") if isinstance(data.get("data"), dict) else {}
        token, hosts = d.get("token"), d.get("host_list")
        if data["code"] != 0 or not isinstance(token, str) or not isinstance(hosts, list):
            raise SetupError(f"getDanmuInfo: code {data['code']}: {str(data.get('message', ''))[:80]}", data["code"])
        scheme = self.settings.danmaku_scheme
        port_key = "wss_port" if scheme == "wss" else "ws_port"
        urls: list[str] = []
        for h in hosts[:32]:
            if not isinstance(h, dict):
                continue
            host, port = h.get("host"), h.get(port_key)
            if isinstance(host, str) and HOST_RE.match(host) and isinstance(port, int) and 0 < port < 65536:
                urls.append(f"{scheme}://{host}:{port}/sub")
        if not urls:
            raise SetupError("getDanmuInfo: no usable host in host_list")
        return token, tuple(urls)

    async def _attempt(self) -> RoomPlan:
        buvid = await self._buvid()
        mixin, uid = await self._nav(buvid)
        real_id, anchor = await self._room_info(buvid)
        self._real_id, self._anchor_uid = real_id, anchor
        token, urls = await self._danmu_info(real_id, mixin, buvid)
        return RoomPlan(
            room_id=real_id,
            anchor_uid=self.anchor_uid_override or anchor,
            uid=uid,
            token=token,
            urls=urls,
            buvid3=buvid[0] or self.settings.buvid3,
        )

    def _forget_keys(self) -> None:
        cache = _cache(self.http)
        cache.nav.pop((self.settings.api_base, self.settings.sessdata), None)
        cache.buvid.pop(self.settings.api_base, None)

    async def run(self) -> RoomPlan:
        """A plan to join the room. A failed set-up gives the degraded fallback plan when there is
        one for the configured endpoints, else raises ``SetupFailed`` (retried with backoff)."""
        try:
            try:
                plan = await self._attempt()
            except RiskControl:
                log.warning("room %s: Bilibili risk control (-352); refreshing WBI keys and device cookies", self.name)
                self._forget_keys()
                plan = await self._attempt()
        except asyncio.CancelledError:
            raise
        except SetupError as exc:
            if isinstance(exc, RiskControl):
                self._forget_keys()
            fallback = fallback_url(self.settings)
            if fallback is None:
                log.warning(
                    "room %s: set-up failed (%s); no fallback for %s: retrying the set-up later",
                    self.name,
                    exc,
                    self.settings.live_api_base,
                )
                raise SetupFailed(f"set-up failed: {exc}") from None
            log.warning("room %s: set-up failed (%s); joining anonymously through %s", self.name, exc, fallback)
            return RoomPlan(
                room_id=self._real_id or self.room_id,
                anchor_uid=self.anchor_uid_override or self._anchor_uid,
                uid=0,
                token=None,
                urls=(fallback,),
                buvid3=self.settings.buvid3,
                degraded=True,
                detail=str(exc),
            )
        log.info(
            "room %s: Bilibili room %d (anchor uid %s), %d host(s), %s",
            self.name,
            plan.room_id,
            plan.anchor_uid or "unknown",
            len(plan.urls),
            f"logged in as uid {plan.uid}" if plan.uid else "anonymous",
        )
        return plan
