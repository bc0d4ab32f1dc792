from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HeadersEntry(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class PushFrame(_message.Message):
    __slots__ = ("seqId", "logId", "service", "method", "headers", "payloadEncoding", "payloadType", "payload")
    SEQID_FIELD_NUMBER: _ClassVar[int]
    LOGID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    PAYLOADENCODING_FIELD_NUMBER: _ClassVar[int]
    PAYLOADTYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    seqId: int
    logId: int
    service: int
    method: int
    headers: _containers.RepeatedCompositeFieldContainer[HeadersEntry]
    payloadEncoding: str
    payloadType: str
    payload: bytes
    def __init__(self, seqId: _Optional[int] = ..., logId: _Optional[int] = ..., service: _Optional[int] = ..., method: _Optional[int] = ..., headers: _Optional[_Iterable[_Union[HeadersEntry, _Mapping]]] = ..., payloadEncoding: _Optional[str] = ..., payloadType: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class Response(_message.Message):
    __slots__ = ("messages", "cursor", "fetchInterval", "now", "internalExt", "fetchType", "heartbeatDuration", "needAck", "pushServer")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    FETCHINTERVAL_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    INTERNALEXT_FIELD_NUMBER: _ClassVar[int]
    FETCHTYPE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEATDURATION_FIELD_NUMBER: _ClassVar[int]
    NEEDACK_FIELD_NUMBER: _ClassVar[int]
    PUSHSERVER_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    cursor: str
    fetchInterval: int
    now: int
    internalExt: str
    fetchType: int
    heartbeatDuration: int
    needAck: bool
    pushServer: str
    def __init__(self, messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., cursor: _Optional[str] = ..., fetchInterval: _Optional[int] = ..., now: _Optional[int] = ..., internalExt: _Optional[str] = ..., fetchType: _Optional[int] = ..., heartbeatDuration: _Optional[int] = ..., needAck: _Optional[bool] = ..., pushServer: _Optional[str] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("method", "payload", "msgId", "msgType", "offset")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    MSGID_FIELD_NUMBER: _ClassVar[int]
    MSGTYPE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    method: str
    payload: bytes
    msgId: int
    msgType: int
    offset: int
    def __init__(self, method: _Optional[str] = ..., payload: _Optional[bytes] = ..., msgId: _Optional[int] = ..., msgType: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class Common(_message.Message):
    __slots__ = ("method", "msgId", "roomId", "createTime")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    MSGID_FIELD_NUMBER: _ClassVar[int]
    ROOMID_FIELD_NUMBER: _ClassVar[int]
    CREATETIME_FIELD_NUMBER: _ClassVar[int]
    method: str
    msgId: int
    roomId: int
    createTime: int
    def __init__(self, method: _Optional[str] = ..., msgId: _Optional[int] = ..., roomId: _Optional[int] = ..., createTime: _Optional[int] = ...) -> None: ...

class FollowInfo(_message.Message):
    __slots__ = ("followingCount", "followerCount", "followStatus")
    FOLLOWINGCOUNT_FIELD_NUMBER: _ClassVar[int]
    FOLLOWERCOUNT_FIELD_NUMBER: _ClassVar[int]
    FOLLOWSTATUS_FIELD_NUMBER: _ClassVar[int]
    followingCount: int
    followerCount: int
    followStatus: int
    def __init__(self, followingCount: _Optional[int] = ..., followerCount: _Optional[int] = ..., followStatus: _Optional[int] = ...) -> None: ...

class PayGrade(_message.Message):
    __slots__ = ("level",)
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    level: int
    def __init__(self, level: _Optional[int] = ...) -> None: ...

class FansClubData(_message.Message):
    __slots__ = ("clubName", "level")
    CLUBNAME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    clubName: str
    level: int
    def __init__(self, clubName: _Optional[str] = ..., level: _Optional[int] = ...) -> None: ...

class FansClub(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: FansClubData
    def __init__(self, data: _Optional[_Union[FansClubData, _Mapping]] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("id", "shortId", "nickName", "gender", "level", "followInfo", "payGrade", "fansClub", "displayId", "secUid", "idStr")
    ID_FIELD_NUMBER: _ClassVar[int]
    SHORTID_FIELD_NUMBER: _ClassVar[int]
    NICKNAME_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    FOLLOWINFO_FIELD_NUMBER: _ClassVar[int]
    PAYGRADE_FIELD_NUMBER: _ClassVar[int]
    FANSCLUB_FIELD_NUMBER: _ClassVar[int]
    DISPLAYID_FIELD_NUMBER: _ClassVar[int]
    SECUID_FIELD_NUMBER: _ClassVar[int]
    IDSTR_FIELD_NUMBER: _ClassVar[int]
    id: int
    shortId: int
    nickName: str
    gender: int
    level: int
    followInfo: FollowInfo
    payGrade: PayGrade
    fansClub: FansClub
    displayId: str
    secUid: str
    idStr: str
    def __init__(self, id: _Optional[int] = ..., shortId: _Optional[int] = ..., nickName: _Optional[str] = ..., gender: _Optional[int] = ..., level: _Optional[int] = ..., followInfo: _Optional[_Union[FollowInfo, _Mapping]] = ..., payGrade: _Optional[_Union[PayGrade, _Mapping]] = ..., fansClub: _Optional[_Union[FansClub, _Mapping]] = ..., displayId: _Optional[str] = ..., secUid: _Optional[str] = ..., idStr: _Optional[str] = ...) -> None: ...

class ChatMessage(_message.Message):
    __slots__ = ("common", "user", "content", "eventTime")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    EVENTTIME_FIELD_NUMBER: _ClassVar[int]
    common: Common
    user: User
    content: str
    eventTime: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., user: _Optional[_Union[User, _Mapping]] = ..., content: _Optional[str] = ..., eventTime: _Optional[int] = ...) -> None: ...

class GiftStruct(_message.Message):
    __slots__ = ("describe", "id", "combo", "type", "diamondCount", "name")
    DESCRIBE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    COMBO_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DIAMONDCOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    describe: str
    id: int
    combo: bool
    type: int
    diamondCount: int
    name: str
    def __init__(self, describe: _Optional[str] = ..., id: _Optional[int] = ..., combo: _Optional[bool] = ..., type: _Optional[int] = ..., diamondCount: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class GiftMessage(_message.Message):
    __slots__ = ("common", "giftId", "fanTicketCount", "groupCount", "repeatCount", "comboCount", "user", "toUser", "repeatEnd", "groupId", "gift", "logId", "totalCount")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    GIFTID_FIELD_NUMBER: _ClassVar[int]
    FANTICKETCOUNT_FIELD_NUMBER: _ClassVar[int]
    GROUPCOUNT_FIELD_NUMBER: _ClassVar[int]
    REPEATCOUNT_FIELD_NUMBER: _ClassVar[int]
    COMBOCOUNT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    TOUSER_FIELD_NUMBER: _ClassVar[int]
    REPEATEND_FIELD_NUMBER: _ClassVar[int]
    GROUPID_FIELD_NUMBER: _ClassVar[int]
    GIFT_FIELD_NUMBER: _ClassVar[int]
    LOGID_FIELD_NUMBER: _ClassVar[int]
    TOTALCOUNT_FIELD_NUMBER: _ClassVar[int]
    common: Common
    giftId: int
    fanTicketCount: int
    groupCount: int
    repeatCount: int
    comboCount: int
    user: User
    toUser: User
    repeatEnd: int
    groupId: int
    gift: GiftStruct
    logId: str
    totalCount: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., giftId: _Optional[int] = ..., fanTicketCount: _Optional[int] = ..., groupCount: _Optional[int] = ..., repeatCount: _Optional[int] = ..., comboCount: _Optional[int] = ..., user: _Optional[_Union[User, _Mapping]] = ..., toUser: _Optional[_Union[User, _Mapping]] = ..., repeatEnd: _Optional[int] = ..., groupId: _Optional[int] = ..., gift: _Optional[_Union[GiftStruct, _Mapping]] = ..., logId: _Optional[str] = ..., totalCount: _Optional[int] = ...) -> None: ...

class LikeMessage(_message.Message):
    __slots__ = ("common", "count", "total", "user")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    common: Common
    count: int
    total: int
    user: User
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., count: _Optional[int] = ..., total: _Optional[int] = ..., user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class MemberMessage(_message.Message):
    __slots__ = ("common", "user", "memberCount", "enterType", "action")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    MEMBERCOUNT_FIELD_NUMBER: _ClassVar[int]
    ENTERTYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    common: Common
    user: User
    memberCount: int
    enterType: int
    action: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., user: _Optional[_Union[User, _Mapping]] = ..., memberCount: _Optional[int] = ..., enterType: _Optional[int] = ..., action: _Optional[int] = ...) -> None: ...

class SocialMessage(_message.Message):
    __slots__ = ("common", "user", "shareType", "action", "shareTarget", "followCount")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    SHARETYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SHARETARGET_FIELD_NUMBER: _ClassVar[int]
    FOLLOWCOUNT_FIELD_NUMBER: _ClassVar[int]
    common: Common
    user: User
    shareType: int
    action: int
    shareTarget: str
    followCount: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., user: _Optional[_Union[User, _Mapping]] = ..., shareType: _Optional[int] = ..., action: _Optional[int] = ..., shareTarget: _Optional[str] = ..., followCount: _Optional[int] = ...) -> None: ...

class RoomUserSeqMessage(_message.Message):
    __slots__ = ("common", "total", "popStr", "popularity", "totalUser", "totalUserStr", "totalStr")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    POPSTR_FIELD_NUMBER: _ClassVar[int]
    POPULARITY_FIELD_NUMBER: _ClassVar[int]
    TOTALUSER_FIELD_NUMBER: _ClassVar[int]
    TOTALUSERSTR_FIELD_NUMBER: _ClassVar[int]
    TOTALSTR_FIELD_NUMBER: _ClassVar[int]
    common: Common
    total: int
    popStr: str
    popularity: int
    totalUser: int
    totalUserStr: str
    totalStr: str
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., total: _Optional[int] = ..., popStr: _Optional[str] = ..., popularity: _Optional[int] = ..., totalUser: _Optional[int] = ..., totalUserStr: _Optional[str] = ..., totalStr: _Optional[str] = ...) -> None: ...

class ControlMessage(_message.Message):
    __slots__ = ("common", "status")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    common: Common
    status: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., status: _Optional[int] = ...) -> None: ...
