"""Douyu STT messages (one packet's fields, already unescaped once) -> Events.

Field names follow Douyu's third-party protocol notes: ``chatmsg`` (``uid``, ``nn`` nickname,
``txt``, ``level``, ``cid`` message id, ``rg`` room role, ``bnn``/``bl`` fan badge, ``cst`` send time
in ms), ``dgb`` (``gfid`` gift id, ``gfcnt`` count, ``hits`` combo), ``uenter``, ``rss`` (``ss`` 1 =
live). ``rg`` 5 is the room's owner (the anchor) and 4 a room moderator; a configured
``anchor_uid`` marks the anchor too. Every field is untrusted: a message that lacks what it must
have raises ``MessageError`` (the adapter drops it with a log line); other types are counted and
logged once by name.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.adapters.base import LogOnce, ascii_int
from bot.events import ChatMessage, Enter, Event, Gift, LiveStatus, Medal, User

log = logging.getLogger(__name__)

PLATFORM = "douyu"
ROLE_ANCHOR = "5"
ROLE_MODERATOR = "4"
#: types that carry nothing for the bot (heartbeat replies, rank and level broadcasts): not "unknown"
QUIET = frozenset({"mrkl", "keeplive", "pingreq", "loginres", "synexp", "rankup", "upgrade", "blab", "noble_num_info"})
MAX_TYPE_NAMES = 1000


class MessageError(ValueError):
    """A known message type whose fields lack what it must have."""


@dataclass(frozen=True, slots=True)
class GiftInfo:
    """What the room API says about one gift id."""

    name: str
    price: float  # CNY per gift; 0 for the free ones
    paid: bool


def _int(v: str | None, default: int = 0) -> int:
    n = ascii_int(v)
    return default if n is None else n


def _ms(v: str | None) -> float | None:
    t = _int(v) / 1000
    return t if 0 < t < 1e11 else None


class MessageParser:
    """One room's message fields -> Events. Keeps which type names were seen (bounded) and the
    gift table the room API gave, if any."""

    def __init__(self, room: str, *, anchor_uid: str | None = None) -> None:
        self.room = room
        self.anchor_uid = anchor_uid
        self.gifts: Mapping[str, GiftInfo] = {}
        #: messages of types the bot does not turn into events, by type (at most MAX_TYPE_NAMES names)
        self.other_types: Counter[str] = Counter()
        self._logged = LogOnce(MAX_TYPE_NAMES)
        self._handlers: dict[str, Callable[[dict[str, str]], list[Event]]] = {
            "chatmsg": self._chat,
            "dgb": self._gift,
            "uenter": self._enter,
            "rss": self._live_status,
        }

    def parse(self, fields: dict[str, str]) -> list[Event]:
        kind = fields.get("type", "")
        if not kind:
            raise MessageError("message without a type")
        handler = self._handlers.get(kind)
        if handler is not None:
            return handler(fields)
        if kind in self.other_types or len(self.other_types) < MAX_TYPE_NAMES:
            self.other_types[kind] += 1
        if kind not in QUIET and self._logged.first(kind):
            log.info("room %s: ignoring Douyu message type %r (logged once)", self.room, kind[:64])
        return []

    # --- helpers -----------------------------------------------------------------------------

    def _user(self, f: dict[str, str]) -> User:
        uid = f.get("uid", "")
        if ascii_int(uid, max_digits=20) is None or uid.startswith("-"):
            raise MessageError(f"{f.get('type')} without a numeric uid")
        roles: list[str] = []
        rg = f.get("rg", "")
        if rg == ROLE_ANCHOR or (self.anchor_uid and uid == self.anchor_uid):
            roles.append("anchor")
        if rg == ROLE_MODERATOR:
            roles.append("moderator")
        badge = f.get("bnn", "")
        return User(
            id=uid,
            name=f.get("nn", ""),
            roles=tuple(roles),
            level=_int(f.get("level")) or None,
            medal=Medal(name=badge, level=_int(f.get("bl"))) if badge else None,
        )

    def _common(self, f: dict[str, str], platform_ts: float | None = None) -> dict[str, Any]:
        return {"room": self.room, "platform": PLATFORM, "raw": f, "platform_ts": platform_ts}

    # --- types -------------------------------------------------------------------------------

    def _chat(self, f: dict[str, str]) -> list[Event]:
        if "txt" not in f:
            raise MessageError("chatmsg without txt")
        return [
            ChatMessage(
                **self._common(f, _ms(f.get("cst"))),
                user=self._user(f),
                text=f["txt"],
                msg_id=f.get("cid") or None,
            )
        ]

    def _gift(self, f: dict[str, str]) -> list[Event]:
        gfid = f.get("gfid", "")
        if not gfid or len(gfid) > 20:
            raise MessageError("dgb without gfid")
        count = max(1, _int(f.get("gfcnt"), 1))
        info = self.gifts.get(gfid)
        return [
            Gift(
                **self._common(f),
                user=self._user(f),
                gift_name=info.name if info else f"gift {gfid}",
                count=count,
                price=round(info.price * count, 2) if info and info.paid else 0.0,
                currency="CNY",
                # without the room API's gift table the value of a gift id is unknown: not claimed as paid
                paid=bool(info and info.paid),
            )
        ]

    def _enter(self, f: dict[str, str]) -> list[Event]:
        return [Enter(**self._common(f), user=self._user(f), kind="enter")]

    def _live_status(self, f: dict[str, str]) -> list[Event]:
        ss = f.get("ss")
        if ss not in ("0", "1"):
            raise MessageError(f"rss with ss {str(ss)[:10]!r} (want 0 or 1)")
        return [LiveStatus(**self._common(f), status="live" if ss == "1" else "offline")]
