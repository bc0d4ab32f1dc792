"""Bilibili live rooms over the web danmaku protocol (see shared/protocols/bilibili.md).

``frames`` is the packet codec, ``setup`` the HTTP room set-up, ``commands`` the cmd -> Event
mapping and ``adapter`` the connection that ties them together.
"""

from bot.adapters.bilibili.adapter import BilibiliAdapter

__all__ = ["BilibiliAdapter"]
