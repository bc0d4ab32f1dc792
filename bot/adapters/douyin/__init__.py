"""Douyin (抖音) live rooms, read through the room page running in a real Chromium."""

from bot.adapters.douyin.adapter import DouyinAdapter

__all__ = ["DouyinAdapter"]
