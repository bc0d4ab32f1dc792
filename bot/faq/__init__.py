"""Merchant FAQ answers: load and hot-reload the FAQ file, match viewer questions, reply politely.

store = FaqStore.load(path)          # FaqFileError names file, entry and field
store.match(text) -> FaqMatch        # faq_id None = abstain
responder = FaqResponder(room, platform, store, reply_settings, emit, send, max_length, bot_user_ids)
await responder.handle(chat_message); await responder.close()
"""

from bot.faq.faqfile import FaqEntry, FaqFile, FaqFileError, load_faq, parse_faq
from bot.faq.matcher import FaqMatch, FaqMatcher, Thresholds
from bot.faq.responder import FaqResponder
from bot.faq.store import FaqStore, Unanswered

__all__ = [
    "FaqEntry",
    "FaqFile",
    "FaqFileError",
    "FaqMatch",
    "FaqMatcher",
    "FaqResponder",
    "FaqStore",
    "Thresholds",
    "Unanswered",
    "load_faq",
    "parse_faq",
]
