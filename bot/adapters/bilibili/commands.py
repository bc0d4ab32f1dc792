"""Bilibili command JSON (op 5 bodies) -> Events.

Field positions follow the public protocol notes (``shared/protocols/bilibili.md``). The payload is
untrusted: every field is read defensively, a command that is malformed where it matters raises
``CommandError`` (the adapter drops it with a log line), and an unknown command is logged once by
name and otherwise ignored.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

try:  # typed decoding of the usual danmaku: only the fields an event needs become Python objects
    import msgspec
except ImportError:  # pragma: no cover - optional: the orjson path gives the same events
    msgspec = None  # type: ignore[assignment]

from bot.adapters.base import LogOnce, ascii_int
from bot.adapters.bilibili import pb
from bot.events import (
    ChatMessage,
    Enter,
    Event,
    Gift,
    GuardBuy,
    LiveStatus,
    Medal,
    PlatformNotice,
    SuperChat,
    SuperChatDelete,
    User,
)

log = logging.getLogger(__name__)

PLATFORM = "bilibili"

# Commands we understand and deliberately turn into nothing (counters, effects, duplicates of
# commands we do handle). They are not "unknown", so they are not logged.
IGNORED = frozenset(
    {
        "WATCHED_CHANGE",
        "ONLINE_RANK_COUNT",
        "ONLINE_RANK_V2",
        "ONLINE_RANK_V3",
        "ONLINE_RANK_TOP3",
        "STOP_LIVE_ROOM_LIST",
        "LIKE_INFO_V3_UPDATE",
        "LIKE_INFO_V3_CLICK",
        "ENTRY_EFFECT",
        "ENTRY_EFFECT_MUST_RECEIVE",
        "COMBO_SEND",  # a combo summary of SEND_GIFTs already counted
        "USER_TOAST_MSG",  # the same purchase as GUARD_BUY
        "USER_TOAST_MSG_V2",
        "SUPER_CHAT_MESSAGE_JPN",  # a translated copy of SUPER_CHAT_MESSAGE
        "NOTICE_MSG",
        "ROOM_REAL_TIME_MESSAGE_UPDATE",
        "HOT_RANK_CHANGED",
        "HOT_RANK_CHANGED_V2",
        "DM_INTERACTION",
        "WIDGET_BANNER",
        "POPULAR_RANK_CHANGED",
        "AREA_RANK_CHANGED",
        "PK_BATTLE_PROCESS",
        "PK_BATTLE_PROCESS_NEW",
    }
)

# SEND_GIFT_V2's protobuf schema is only known from third-party reverse engineering that we could
# not check against a recorded frame; SEND_GIFT (JSON) still carries every gift, so V2 is skipped.
UNDECODED = frozenset({"SEND_GIFT_V2"})

INTERACT_KINDS = {1: "enter", 2: "follow", 3: "share", 4: "follow", 5: "follow"}

MAX_UNKNOWN_NAMES = 1000
MAX_EXTRA_JSON = 64 * 1024
#: viewers whose User is kept for their next line (then the memo starts afresh)
USERS_REMEMBERED = 1024


if msgspec is not None:
    _Raw = msgspec.Raw

    class _Meta15(msgspec.Struct):
        """``info[0][15]``: only its ``extra`` JSON string; the user object beside it (most of the
        payload) is skipped, not built."""

        extra: Any = None

    class _Meta(msgspec.Struct, array_like=True):
        """``info[0]``: 16 or more elements; the ones no event needs stay undecoded (``Raw``)."""

        m0: _Raw
        m1: _Raw
        m2: _Raw
        m3: _Raw
        ts: Any
        m5: _Raw
        m6: _Raw
        m7: _Raw
        m8: _Raw
        m9: _Raw
        m10: _Raw
        m11: _Raw
        emoticon: Any
        m13: _Raw
        m14: _Raw
        m15: _Meta15

    class _Info(msgspec.Struct, array_like=True):
        """``info``: 8 or more elements."""

        meta: _Meta
        text: Any
        sender: Any
        medal: Any
        level: Any
        i5: _Raw
        i6: _Raw
        guard: Any

    class _Danmu(msgspec.Struct):
        cmd: Any = None
        info: _Info | None = None

    class _Extra(msgspec.Struct):
        id_str: Any = None
        reply_uname: Any = None

    _DANMU_DECODER: Any = msgspec.json.Decoder(_Danmu)
    _EXTRA_DECODER: Any = msgspec.json.Decoder(_Extra)
    _TYPED_ERRORS: tuple[type[BaseException], ...] = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
else:  # pragma: no cover
    _DANMU_DECODER = _EXTRA_DECODER = None
    _TYPED_ERRORS = ()

#: the integers orjson keeps as integers (beyond them it gives floats): [-2**63, 2**64)
_JSON_INT_MIN, _JSON_INT_END = -(1 << 63), 1 << 64


def _json_ints(*ints: int) -> bool:
    """Whether orjson would read each of these as an integer, as msgspec did."""
    return _JSON_INT_MIN <= min(ints) and max(ints) < _JSON_INT_END


#: how the body of a usual danmaku starts (anything else takes the general path)
_DANMU_PREFIX = b'{"cmd":"DANMU_MSG'


class CommandError(ValueError):
    """A known command whose payload lacks what it must have."""


# --- defensive field access ----------------------------------------------------------------------


def _at(seq: Any, i: int, default: Any = None) -> Any:
    return seq[i] if isinstance(seq, list) and 0 <= i < len(seq) else default


def _int(v: Any, default: int = 0) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v == v and abs(v) < 1e18:
        return int(v)
    if isinstance(v, str):
        n = ascii_int(v.strip())
        return default if n is None else n
    return default


def _str(v: Any, default: str = "") -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return default


def _ts(v: Any, scale: float = 1.0) -> float | None:
    """A platform timestamp (seconds, or ms with scale=1000) if it is a plausible one."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    t = v / scale
    return float(t) if 0 < t < 1e11 else None  # also rejects inf and nan


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _medal(name: Any, level: Any) -> Medal | None:
    name = _str(name)
    return Medal(name=name, level=_int(level)) if name else None


class CommandParser:
    """Turns one room's command payloads into Events. Keeps the little state that needs: which
    unknown names were already logged, whether the login notice was shown, recent enters (the
    server may send INTERACT_WORD and INTERACT_WORD_V2 for the same viewer)."""

    def __init__(self, room: str, *, anchor_uid: str | None = None, bot_uid: str | None = None) -> None:
        self.room = room
        self.anchor_uid = anchor_uid
        self.bot_uid = bot_uid
        self._unknown_seen = LogOnce(MAX_UNKNOWN_NAMES)
        self._login_notice_shown = False
        self._recent_enters: OrderedDict[tuple[int, str, int], None] = OrderedDict()
        self._raw: Any = None  # the raw payload of the command being parsed (see ``parse``)
        self._users: dict[tuple[Any, ...], User] = {}
        self._users_for: tuple[str | None, str | None] = (anchor_uid, bot_uid)
        self._handlers: dict[str, Callable[[dict[str, Any]], list[Event]]] = {
            "DANMU_MSG": self._danmu,
            "SEND_GIFT": self._gift,
            "SUPER_CHAT_MESSAGE": self._super_chat,
            "SUPER_CHAT_MESSAGE_DELETE": self._super_chat_delete,
            "GUARD_BUY": self._guard_buy,
            "INTERACT_WORD": self._interact,
            "INTERACT_WORD_V2": self._interact_v2,
            "LIVE": self._live,
            "PREPARING": self._preparing,
            "WARNING": self._warning,
            "CUT_OFF": self._cut_off,
            "LOG_IN_NOTICE": self._login_notice,
        }

    # --- entry point -------------------------------------------------------------------------

    def parse(self, payload: Any, raw: Any = None) -> list[Event]:
        """The events of one command. ``raw``: what the events keep as their raw payload for the audit
        log (the adapter passes the packet's own JSON bytes as ``EncodedRaw``: written as they came,
        never re-encoded); ``payload`` itself when not given."""
        self._raw = payload if raw is None else raw
        if not isinstance(payload, dict):
            raise CommandError("command is not a JSON object")
        cmd = payload.get("cmd")
        if not isinstance(cmd, str) or not cmd:
            raise CommandError("command has no cmd")
        # DANMU_MSG:4:0:2:2:2:0 and friends: the suffix carries nothing we need
        name = cmd.split(":", 1)[0]
        handler = self._handlers.get(name)
        if handler is not None:
            try:
                return handler(payload)
            except pb.PbError as exc:
                raise CommandError(f"{name}: bad protobuf: {exc}") from None
        if name not in IGNORED:
            self._log_unknown(name)
        return []

    def _log_unknown(self, name: str) -> None:
        if not self._unknown_seen.first(name):
            return
        if name in UNDECODED:
            log.info(
                "room %s: skipping Bilibili %s (protobuf schema not verified; SEND_GIFT still arrives)",
                self.room,
                name,
            )
        else:
            log.info("room %s: ignoring unknown Bilibili command %r (logged once)", self.room, name[:64])

    # --- helpers -----------------------------------------------------------------------------

    def _user(
        self,
        uid: int,
        name: str,
        *,
        moderator: bool = False,
        level: int | None = None,
        medal: Medal | None = None,
        guard: int = 0,
    ) -> User:
        uid_s = str(uid)
        roles: list[str] = []
        # uid 0 is every masked viewer after LOG_IN_NOTICE: it is nobody in particular
        if uid and uid_s == self.anchor_uid:
            roles.append("anchor")
        if uid and uid_s == self.bot_uid:
            roles.append("bot")
        if moderator:
            roles.append("moderator")
        return User(
            id=uid_s,
            name=name,
            roles=tuple(roles),
            level=level,
            medal=medal,
            guard=guard if guard in (1, 2, 3) else 0,
        )

    def _common(self, payload: dict[str, Any], platform_ts: float | None = None) -> dict[str, Any]:
        return {"room": self.room, "platform": PLATFORM, "raw": self._raw, "platform_ts": platform_ts}

    # --- commands ----------------------------------------------------------------------------

    def _danmu(self, p: dict[str, Any]) -> list[Event]:
        fast = self._danmu_fast(p)
        if fast is not None:
            return fast
        info = p.get("info")
        meta, sender = _at(info, 0), _at(info, 2)
        text = _at(info, 1)
        if not isinstance(meta, list) or not isinstance(sender, list) or not isinstance(text, str):
            raise CommandError("DANMU_MSG without info[0], info[1] text and info[2] sender")
        medal_arr = _at(info, 3)
        medal = _medal(_at(medal_arr, 1), _at(medal_arr, 0)) if isinstance(medal_arr, list) else None
        level_arr = _at(info, 4)
        level = _int(_at(level_arr, 0)) if isinstance(level_arr, list) else None
        extra = self._extra(_at(meta, 15))
        user = self._user(
            _int(_at(sender, 0)),
            _str(_at(sender, 1)),
            moderator=_int(_at(sender, 2)) == 1,
            level=level,
            medal=medal,
            guard=_int(_at(info, 7)),
        )
        reply = _str(extra.get("reply_uname"))
        return [
            ChatMessage(
                **self._common(p, _ts(_at(meta, 4), 1000)),
                user=user,
                text=text,
                msg_id=_str(extra.get("id_str")) or None,
                emoticon=_int(_at(meta, 12)) == 1,
                reply_to=reply or None,
            )
        ]

    def _danmu_fast(self, p: dict[str, Any]) -> list[Event] | None:
        """The common shape of a danmaku (every field where and what the protocol notes say), read
        without the defensive helpers: about half the cost of ``_danmu`` on the hot path. Anything
        else returns None and takes the careful path, which gives the same event for this shape."""
        info = p.get("info")
        if type(info) is not list or len(info) < 8:
            return None
        meta = info[0]
        if type(meta) is not list or len(meta) < 16:
            return None
        return self._danmu_of(meta[4], meta[12], meta[15], info[1], info[2], info[3], info[4], info[7], typed=False)

    def danmu_bytes(self, body: bytes, raw: Any) -> list[Event] | None:
        """The events of a packet body that is a usual danmaku, decoded straight from its bytes into
        only the fields an event needs (msgspec); the same events as ``parse(json_body(...), raw)``.
        None for anything else (another command, another shape, JSON that any of the decoders
        refuses, no ``raw``): the caller then takes that general path, which decides as before."""
        if _DANMU_DECODER is None or raw is None or not body.startswith(_DANMU_PREFIX):
            return None
        try:
            body.decode("utf-8")  # msgspec does not check the strings it skips; the general path does
            d = _DANMU_DECODER.decode(body)
        except (UnicodeDecodeError, *_TYPED_ERRORS):
            return None
        cmd, info = d.cmd, d.info
        if info is None or type(cmd) is not str or cmd.split(":", 1)[0] != "DANMU_MSG":
            return None
        meta = info.meta
        self._raw = raw
        return self._danmu_of(
            meta.ts, meta.emoticon, meta.m15, info.text, info.sender, info.medal, info.level, info.guard, typed=True
        )

    def _danmu_of(
        self,
        ts: Any,
        emoticon: Any,
        meta15: Any,
        text: Any,
        sender: Any,
        medal_arr: Any,
        level_arr: Any,
        guard: Any,
        *,
        typed: bool,
    ) -> list[Event] | None:
        if (
            type(text) is not str
            or type(sender) is not list
            or len(sender) < 3
            or type(medal_arr) is not list
            or type(level_arr) is not list
            or not level_arr
            or type(guard) is not int
        ):
            return None
        uid, name, moderator, level = sender[0], sender[1], sender[2], level_arr[0]
        if type(uid) is not int or type(name) is not str or type(moderator) is not int or type(level) is not int:
            return None
        if type(emoticon) is not int:
            return None
        medal_name, medal_level = (medal_arr[1], medal_arr[0]) if len(medal_arr) >= 2 else ("", 0)
        if type(medal_name) is not str or type(medal_level) is not int:
            return None
        if typed and not _json_ints(uid, moderator, level, emoticon, guard, medal_level):
            # orjson (the general path) reads an integer beyond 64 bits as a float, which the
            # careful path then refuses: msgspec's exact integer must get the same verdict
            return None
        # viewers chat again and again: their User (immutable) is made once, while the roles hold
        key = (uid, name, moderator, level, medal_name, medal_level, guard)
        if self._users_for != (self.anchor_uid, self.bot_uid) or len(self._users) >= USERS_REMEMBERED:
            self._users.clear()
            self._users_for = (self.anchor_uid, self.bot_uid)
        user = self._users.get(key)
        if user is None:
            medal = Medal(name=medal_name, level=medal_level) if medal_name else None
            user = self._users[key] = self._user(
                uid, name, moderator=moderator == 1, level=level, medal=medal, guard=guard
            )
        platform_ts = _ts(ts, 1000)
        msg_id, reply = self._extra_fields(meta15) if typed else self._extra_dict_fields(meta15)
        return [
            ChatMessage(
                room=self.room,
                platform=PLATFORM,
                raw=self._raw,
                platform_ts=platform_ts,
                user=user,
                text=text,
                msg_id=msg_id or None,
                emoticon=emoticon == 1,
                reply_to=reply or None,
            )
        ]

    def _extra_dict_fields(self, meta15: Any) -> tuple[str, str]:
        extra = self._extra(meta15)
        return _str(extra.get("id_str")), _str(extra.get("reply_uname"))

    def _extra_fields(self, meta15: Any) -> tuple[str, str]:
        """(id_str, reply_uname) of the JSON document in ``meta15.extra`` (a typed ``_Meta15``),
        decoding only those two (msgspec); anything that decoder refuses gets ``_extra``'s verdict,
        so both read the same."""
        raw = meta15.extra
        if not isinstance(raw, str) or not raw or len(raw) > MAX_EXTRA_JSON:
            return "", ""
        try:
            e = _EXTRA_DECODER.decode(raw)
        except _TYPED_ERRORS:
            return self._extra_dict_fields({"extra": raw})
        return _str(e.id_str), _str(e.reply_uname)

    @staticmethod
    def _extra(meta15: Any) -> dict[str, Any]:
        raw = _dict(meta15).get("extra")
        if not isinstance(raw, str) or not raw or len(raw) > MAX_EXTRA_JSON:
            return {}
        try:
            value = orjson.loads(raw)  # the second parse of every danmaku; orjson keeps it cheap
        except orjson.JSONDecodeError:
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError):
                return {}
        return _dict(value)

    def _gift(self, p: dict[str, Any]) -> list[Event]:
        d = _dict(p.get("data"))
        name = _str(d.get("giftName"))
        if not name:
            raise CommandError("SEND_GIFT without data.giftName")
        count = max(1, _int(d.get("num"), 1))
        gold = _str(d.get("coin_type")) == "gold"
        # prices are in 金瓜子 (gold melon seeds): 1000 = 1 CNY; silver gifts are free
        coins = _int(d.get("total_coin")) or _int(d.get("price")) * count
        medal_info = _dict(d.get("medal_info"))
        user = self._user(
            _int(d.get("uid")),
            _str(d.get("uname")),
            medal=_medal(medal_info.get("medal_name"), medal_info.get("medal_level")),
            guard=_int(d.get("guard_level")),
        )
        return [
            Gift(
                **self._common(p, _ts(d.get("timestamp"))),
                user=user,
                gift_name=name,
                count=count,
                price=coins / 1000 if gold else 0.0,
                currency="CNY",
                paid=gold,
            )
        ]

    def _super_chat(self, p: dict[str, Any]) -> list[Event]:
        d = _dict(p.get("data"))
        message = d.get("message")
        if not isinstance(message, str):
            raise CommandError("SUPER_CHAT_MESSAGE without data.message")
        ui = _dict(d.get("user_info"))
        medal_info = _dict(d.get("medal_info"))
        user = self._user(
            _int(d.get("uid")),
            _str(ui.get("uname")),
            level=_int(ui.get("user_level")) or None,
            medal=_medal(medal_info.get("medal_name"), medal_info.get("medal_level")),
            guard=_int(ui.get("guard_level")),
        )
        return [
            SuperChat(
                **self._common(p, _ts(d.get("start_time")) or _ts(d.get("ts"))),
                user=user,
                text=message,
                sc_id=_str(d.get("id")),
                price=float(_int(d.get("price"))),  # already in CNY
                currency="CNY",
                duration=_int(d.get("time")),
            )
        ]

    def _super_chat_delete(self, p: dict[str, Any]) -> list[Event]:
        ids = _dict(p.get("data")).get("ids")
        if not isinstance(ids, list):
            raise CommandError("SUPER_CHAT_MESSAGE_DELETE without data.ids")
        sc_ids = tuple(s for s in (_str(i) for i in ids[:1000]) if s)
        return [SuperChatDelete(**self._common(p), sc_ids=sc_ids)]

    def _guard_buy(self, p: dict[str, Any]) -> list[Event]:
        d = _dict(p.get("data"))
        level = _int(d.get("guard_level"))
        if level not in (1, 2, 3):
            raise CommandError("GUARD_BUY without a guard_level of 1-3")
        months = max(1, _int(d.get("num"), 1))
        user = self._user(_int(d.get("uid")), _str(d.get("username")), guard=level)
        return [
            GuardBuy(
                **self._common(p, _ts(d.get("start_time"))),
                user=user,
                text=_str(d.get("gift_name")),
                level=level,
                months=months,
                price=_int(d.get("price")) * months / 1000,  # unit price in 金瓜子
                currency="CNY",
            )
        ]

    def _enter(
        self, p: dict[str, Any], uid: int, name: str, msg_type: int, ts: int, medal: Medal | None
    ) -> list[Event]:
        kind = INTERACT_KINDS.get(msg_type)
        if kind is None:
            return []
        key = (uid, kind, ts)
        if uid and key in self._recent_enters:
            return []  # the V1 and V2 copies of one enter
        self._recent_enters[key] = None
        if len(self._recent_enters) > 512:
            self._recent_enters.popitem(last=False)
        return [Enter(**self._common(p, _ts(ts)), user=self._user(uid, name, medal=medal), kind=kind)]

    def _interact(self, p: dict[str, Any]) -> list[Event]:
        d = _dict(p.get("data"))
        if "msg_type" not in d:
            raise CommandError("INTERACT_WORD without data.msg_type")
        fm = _dict(d.get("fans_medal"))
        return self._enter(
            p,
            _int(d.get("uid")),
            _str(d.get("uname")),
            _int(d.get("msg_type")),
            _int(d.get("timestamp")),
            _medal(fm.get("medal_name"), fm.get("medal_level")),
        )

    def _interact_v2(self, p: dict[str, Any]) -> list[Event]:
        # InteractWord: uid 1, uname 2, msg_type 5, roomid 6, timestamp 7, fans_medal 9
        # (fans_medal: medal_level 2, medal_name 3), matching the JSON INTERACT_WORD field order.
        fields = pb.from_base64(_dict(p.get("data")).get("pb"))
        if 5 not in fields:
            raise CommandError("INTERACT_WORD_V2 protobuf without msg_type")
        fm = pb.first_msg(fields, 9)
        medal = _medal(pb.first_str(fm, 3), pb.first_int(fm, 2)) if fm else None
        return self._enter(
            p,
            pb.first_int(fields, 1),
            pb.first_str(fields, 2),
            pb.first_int(fields, 5),
            pb.first_int(fields, 7),
            medal,
        )

    def _live(self, p: dict[str, Any]) -> list[Event]:
        return [LiveStatus(**self._common(p), status="live")]

    def _preparing(self, p: dict[str, Any]) -> list[Event]:
        return [LiveStatus(**self._common(p), status="preparing")]

    def _notice_text(self, p: dict[str, Any]) -> str:
        return _str(p.get("msg")) or _str(_dict(p.get("data")).get("msg")) or _str(p.get("message"))

    def _warning(self, p: dict[str, Any]) -> list[Event]:
        text = self._notice_text(p)
        log.warning("room %s: Bilibili sent the anchor a WARNING: %r", self.room, text[:200])
        return [PlatformNotice(**self._common(p), kind="warning", text=text)]

    def _cut_off(self, p: dict[str, Any]) -> list[Event]:
        text = self._notice_text(p)
        log.warning("room %s: Bilibili CUT OFF the stream: %r", self.room, text[:200])
        return [PlatformNotice(**self._common(p), kind="cut_off", text=text)]

    def _login_notice(self, p: dict[str, Any]) -> list[Event]:
        if self._login_notice_shown:
            return []
        self._login_notice_shown = True
        text = _str(_dict(p.get("data")).get("notice_msg")) or "未登录无法查看他人昵称"
        log.warning(
            "room %s: Bilibili now masks viewer names (提***) and sends uid 0 "
            "because the bot is not logged in. Chat lines can no longer be told apart by user, "
            "and the anchor's own chat lines are not recognised as anchor text. "
            "Set [platforms.bilibili] sessdata (or LIVEBOT_BILIBILI_SESSDATA) "
            "to a logged-in account's cookie to see names.",
            self.room,
        )
        return [PlatformNotice(**self._common(p), kind="login_notice", text=text)]
