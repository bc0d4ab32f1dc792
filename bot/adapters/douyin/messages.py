"""Douyin ``Message{method, payload}`` -> Events.

The payload is untrusted protobuf: a message that does not parse raises ``MessageError`` (the adapter
drops that one message and keeps the rest of its response), an unknown method is logged once by name.
64-bit ids stay exact: protobuf gives Python ints, and they travel as decimal strings (``User.id``,
``msg_id``) and in the audit log's ``raw`` (``MessageToDict`` writes 64-bit integers as strings).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as PbMessage

from bot.adapters.base import LogOnce
from bot.adapters.douyin import douyin_pb2 as pb
from bot.events import ChatMessage, Enter, Event, Gift, Like, LiveStatus, Medal, User, ViewerCount

log = logging.getLogger(__name__)

PLATFORM = "douyin"
#: 1 抖币 (diamond) = 0.1 CNY
CNY_PER_DIAMOND = 0.1
#: WebcastControlMessage status: the stream ended
CONTROL_ENDED = 3
SOCIAL_KINDS = {1: "follow", 3: "share"}

# Methods we know and deliberately turn into nothing (rankings, banners, effects); not "unknown".
IGNORED = frozenset(
    {
        "WebcastRoomRankMessage",
        "WebcastRoomStatsMessage",
        "WebcastInRoomBannerMessage",
        "WebcastRoomDataSyncMessage",
        "WebcastRanklistHourEntranceMessage",
        "WebcastRoomStreamAdaptationMessage",
        "WebcastProductChangeMessage",
        "WebcastUpdateFanTicketMessage",
    }
)


class MessageError(ValueError):
    """A known method whose payload is not the protobuf it should be."""


def _ts_ms(value: int) -> float | None:
    """A platform time in milliseconds, if it is a plausible one."""
    t = value / 1000
    return t if 1e9 < t < 1e11 else None


class MessageMapper:
    """Turns one room's messages into Events. Keeps what that needs: the anchor's and the bot's ids,
    which unknown methods were logged, and the gift combos in progress (Douyin resends a combo's
    running total; only the increase is a new gift)."""

    def __init__(self, room: str, *, anchor_uid: str | None = None, bot_uid: str | None = None) -> None:
        self.room = room
        self.anchor_uid = anchor_uid
        self.bot_uid = bot_uid
        self._unknown = LogOnce()
        self._combos: OrderedDict[tuple[str, int, int], int] = OrderedDict()
        self._last_viewers: tuple[int, int] | None = None
        self._handlers: dict[str, tuple[type[PbMessage], Callable[[Any, dict[str, Any]], list[Event]]]] = {
            "WebcastChatMessage": (pb.ChatMessage, self._chat),
            "WebcastGiftMessage": (pb.GiftMessage, self._gift),
            "WebcastMemberMessage": (pb.MemberMessage, self._member),
            "WebcastLikeMessage": (pb.LikeMessage, self._like),
            "WebcastSocialMessage": (pb.SocialMessage, self._social),
            "WebcastRoomUserSeqMessage": (pb.RoomUserSeqMessage, self._viewers),
            "WebcastControlMessage": (pb.ControlMessage, self._control),
        }

    def map(self, message: pb.Message) -> list[Event]:
        handler = self._handlers.get(message.method)
        if handler is None:
            if message.method not in IGNORED and self._unknown.first(message.method):
                log.info("room %s: ignoring Douyin method %r (logged once)", self.room, message.method[:64])
            return []
        cls, build = handler
        body = cls()
        try:
            body.ParseFromString(message.payload)
        except (DecodeError, RuntimeWarning) as exc:
            raise MessageError(f"{message.method}: bad protobuf: {exc}") from None
        raw = {
            "method": message.method,
            "msg_id": str(message.msgId),
            "payload": json_format.MessageToDict(body, preserving_proto_field_name=True),
        }
        return build(body, raw)

    # --- helpers -----------------------------------------------------------------------------

    def user(self, u: pb.User) -> User:
        uid = u.idStr or (str(u.id) if u.id else "")
        roles: list[str] = []
        if uid and uid == self.anchor_uid:
            roles.append("anchor")
        if uid and uid == self.bot_uid:
            roles.append("bot")
        club = u.fansClub.data
        return User(
            id=uid,
            name=u.nickName,
            roles=tuple(roles),
            level=u.payGrade.level or None,
            medal=Medal(name=club.clubName, level=club.level) if club.clubName else None,
        )

    def _common(self, common: pb.Common, raw: dict[str, Any]) -> dict[str, Any]:
        return {"room": self.room, "platform": PLATFORM, "raw": raw, "platform_ts": _ts_ms(common.createTime)}

    # --- methods -----------------------------------------------------------------------------

    def _chat(self, m: pb.ChatMessage, raw: dict[str, Any]) -> list[Event]:
        msg_id = str(m.common.msgId) if m.common.msgId else raw["msg_id"]
        return [
            ChatMessage(
                **self._common(m.common, raw),
                user=self.user(m.user),
                text=m.content,
                msg_id=None if msg_id == "0" else msg_id,
            )
        ]

    def _gift(self, m: pb.GiftMessage, raw: dict[str, Any]) -> list[Event]:
        user = self.user(m.user)
        gift_id = m.giftId or m.gift.id
        total = max(1, m.repeatCount) * max(1, m.groupCount)
        count = total
        if m.groupId:
            # one combo (groupId) is resent with its running total, and once more at its end
            # (repeatEnd): count only what is new
            key = (user.id, gift_id, m.groupId)
            before = self._combos.pop(key, 0)
            self._combos[key] = max(before, total)
            if len(self._combos) > 4096:
                self._combos.popitem(last=False)
            count = total - before
            if count <= 0:
                return []
        diamonds = max(0, m.gift.diamondCount)
        return [
            Gift(
                **self._common(m.common, raw),
                user=user,
                gift_name=m.gift.name or f"gift {gift_id}",
                count=count,
                price=round(diamonds * count * CNY_PER_DIAMOND, 2),
                currency="CNY",
                paid=diamonds > 0,
            )
        ]

    def _member(self, m: pb.MemberMessage, raw: dict[str, Any]) -> list[Event]:
        return [Enter(**self._common(m.common, raw), user=self.user(m.user), kind="enter")]

    def _social(self, m: pb.SocialMessage, raw: dict[str, Any]) -> list[Event]:
        kind = SOCIAL_KINDS.get(m.action)
        if kind is None:
            return []
        return [Enter(**self._common(m.common, raw), user=self.user(m.user), kind=kind)]

    def _like(self, m: pb.LikeMessage, raw: dict[str, Any]) -> list[Event]:
        return [Like(**self._common(m.common, raw), user=self.user(m.user), count=max(1, m.count), total=m.total)]

    def _viewers(self, m: pb.RoomUserSeqMessage, raw: dict[str, Any]) -> list[Event]:
        counts = (max(0, m.total), max(0, m.totalUser))
        if counts == self._last_viewers:
            return []  # Douyin repeats the counts every few seconds; only a change is news
        self._last_viewers = counts
        return [ViewerCount(**self._common(m.common, raw), online=counts[0], total=counts[1])]

    def _control(self, m: pb.ControlMessage, raw: dict[str, Any]) -> list[Event]:
        if m.status != CONTROL_ENDED:
            return []
        log.info("room %s: the Douyin stream ended (control status 3)", self.room)
        return [LiveStatus(**self._common(m.common, raw), status="offline")]
