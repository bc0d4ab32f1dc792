"""Compliance engine for live-commerce speech, chat and titles (imports nothing else of livebot).

    engine = RuleEngine.load(packs=("builtin",))
    engine.scan(text, scope="speech") -> list[Hit]
    engine.stream(scope="speech").feed(segment, text, final) -> list[StreamHit]
"""

from .engine import RuleEngine
from .model import Hit, PackError, StreamHit
from .stream import SpeechStream

__all__ = ["Hit", "PackError", "RuleEngine", "SpeechStream", "StreamHit"]
