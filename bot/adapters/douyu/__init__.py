"""Douyu live rooms over the danmaku websocket (see shared/protocols/others.md).

``stt`` is the STT text codec, ``packets`` the binary framing, ``messages`` the message -> Event
mapping, ``room_api`` the optional room API and ``adapter`` the connection that ties them together.
"""

from bot.adapters.douyu.adapter import DouyuAdapter

__all__ = ["DouyuAdapter"]
