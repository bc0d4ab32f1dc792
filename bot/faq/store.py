"""One merchant FAQ file, served hot: matched against, reloaded when it changes, edited by ops.

``FaqStore.load(path)`` validates the file and builds the matcher (or raises ``FaqFileError``).
After that the store always serves its *last good* version: an edit that does not validate is
logged once, kept in ``last_error`` (the admin page shows it) and otherwise ignored until the file
changes again.

Hot reload is polling, on purpose: it works the same on every OS, on network and bind-mounted
volumes and with editors that replace the file instead of writing it. Each poll is one ``stat``;
the file is read only when its (mtime, size, inode) changed, and rebuilt only when its bytes did.
Two ways to run it::

    async with store.watching(interval=1.0):    # a task for the duration of the block
        ...
    task = asyncio.create_task(store.watch(1.0))  # or a task the pipeline owns (cancel to stop)

Building the matcher is CPU work (word cutting, indexing: ~0.1-0.5 s), so it runs in a worker
thread and the event loop keeps serving the old version meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.faq.faqfile import FaqEntry, FaqFile, FaqFileError, load_faq, parse_faq
from bot.faq.matcher import FaqMatch, FaqMatcher, Thresholds, split_question
from bot.faq.semantic import SemanticIndex, disabled_reason
from bot.faq.vocab import build_vocabulary
from bot.loop_budget import CpuShare
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 300  # danmaku are short; longer input is cut before matching (hostile input stays cheap)
UNANSWERED_KEEP = 200
# Sentence-encoder queries running at once in this process. The encoder takes tens of milliseconds
# of CPU a question; a busy process with many rooms would otherwise fill every core with them and
# starve the event loop, the anchor's warnings included. While one runs, other new questions are
# matched on words alone (counted in ``semantic_skipped``), exactly as without the extra.
ENCODER_IN_FLIGHT = 1
#: and all of them together take at most this share of one core over each ``ENCODER_WINDOW`` seconds
#: (CPU time of the matches that asked it): under a flood of questions a 28 ms second opinion each
#: took most of the FAQ's CPU. Past it, new questions are matched on words alone, counted in
#: ``semantic_skipped`` like those that came while the encoder was busy.
ENCODER_SHARE = 0.02
ENCODER_WINDOW = 10.0


class CpuMeter:
    """CPU seconds spent matching, process-wide, in whichever thread matched (the loop's budget
    for FAQ work reads it: see ``bot.loop_budget.FAQ_BUDGET``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds

    def __call__(self) -> float:
        return self.seconds


MATCH_CPU = CpuMeter()
#: the part of it spent in matches that may ask the sentence encoder (in its worker thread)
ENCODER_CPU = CpuMeter()
ENCODER_BUDGET = CpuShare(ENCODER_CPU, ENCODER_SHARE, ENCODER_WINDOW)


@dataclass(frozen=True, slots=True)
class Unanswered:
    """A question the FAQ could not answer (for ops, to grow the FAQ)."""

    ts: float  # wall time
    room: str
    user: str
    text: str
    best_id: str | None
    score: float
    reason: str


def build_matcher(faq: FaqFile, thresholds: Thresholds | None = None, *, semantic: bool | None = None) -> FaqMatcher:
    """The matcher for one FAQ version. ``semantic`` None: with the sentence encoder when it is
    installed and not switched off (``semantic.disabled_reason``)."""
    if semantic is None:
        semantic = disabled_reason() is None
    index = SemanticIndex(faq.entries, split_question) if semantic else None
    vocab = build_vocabulary(faq.synonyms, faq.classes, faq.cues)
    return FaqMatcher(faq.entries, vocab, thresholds, chatter=faq.chatter, semantic=index)


class _EncoderUse:
    """How many sentence-encoder queries of this process are running (all rooms share the CPU)."""

    in_flight = 0


_encoder = _EncoderUse()


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class FaqStore:
    def __init__(
        self,
        path: str | os.PathLike[str],
        faq: FaqFile,
        matcher: FaqMatcher,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.path = Path(path)
        self.faq = faq
        self.matcher = matcher
        self.thresholds = thresholds
        self.last_error: FaqFileError | None = None
        self.version = 1
        self.loaded_at = time.time()
        #: new questions matched on words alone because the encoder was busy with another
        self.semantic_skipped = 0
        self.unanswered: deque[Unanswered] = deque(maxlen=UNANSWERED_KEEP)
        self._stat = _stat_key(self.path)
        self._bad_digest: str | None = None
        self._reload_lock = asyncio.Lock()
        self._edit_lock = asyncio.Lock()
        self._semantic_thread: threading.Thread | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str], thresholds: Thresholds | None = None) -> FaqStore:
        """Validate and index the file; raises FaqFileError (one line naming file, entry and field).

        The words are indexed at once; the sentence encoder (when installed) embeds the entries in a
        background thread, so a bot starts answering in well under a second even where embedding a
        large FAQ takes a while (``wait_semantic`` waits for it: the CLI and the tests do)."""
        faq = load_faq(path)
        store = cls(path, faq, build_matcher(faq, thresholds, semantic=False), thresholds)
        if disabled_reason() is None:
            store._semantic_thread = threading.Thread(
                target=store._attach_semantic, args=(store.matcher,), name=f"faq-embed:{store.path.name}", daemon=True
            )
            store._semantic_thread.start()
        return store

    def _attach_semantic(self, matcher: FaqMatcher) -> None:
        try:
            index = SemanticIndex(matcher.entries, split_question)
        except Exception:  # the encoder is an extra: without it the words still answer
            log.exception("FAQ %s: the sentence encoder failed; answering on words alone", self.path)
            return
        matcher.attach_semantic(index)
        log.info("FAQ %s: sentence encoder ready (%d entries)", self.path, len(matcher.entries))

    @property
    def semantic_loading(self) -> bool:
        """True while the sentence encoder is still embedding this FAQ's entries (at start)."""
        return self._semantic_thread is not None and self._semantic_thread.is_alive()

    def wait_semantic(self, timeout: float | None = None) -> None:
        """Block until the background embedding of the first version is done (no-op without it)."""
        if self._semantic_thread is not None:
            self._semantic_thread.join(timeout)

    @property
    def entries(self) -> tuple[FaqEntry, ...]:
        return self.faq.entries

    def entry(self, faq_id: str) -> FaqEntry | None:
        return self.faq.entry(faq_id)

    def match(self, text: str, *, second_opinion: bool = True) -> FaqMatch:
        """Match one viewer message against the current good version. Never raises on odd text."""
        text = text[:MAX_MESSAGE_CHARS] if isinstance(text, str) else ""
        started = time.thread_time()
        try:
            return self.matcher.match(text, second_opinion=second_opinion)
        except Exception:  # a bug must not kill a room loop; the message is simply not answered
            log.exception("FAQ matcher failed on %r", text[:80])
            return FaqMatch(None, 0.0, None, gate="keyword", reason="error", why="matcher error (logged)")
        finally:
            MATCH_CPU.add(time.thread_time() - started)

    async def match_async(self, text: str, *, rationed: bool = False) -> FaqMatch:
        """``match``, in a worker thread when it may ask the sentence encoder (tens of milliseconds a new
        message on a busy PC: too long for the event loop); memoized messages are answered inline.
        ``rationed`` (viewer chat): the encoder is asked only while the process's encoder share
        (``ENCODER_SHARE``) has CPU left; ops pages trying a text always get its opinion."""
        matcher = self.matcher
        if matcher.semantic is None or matcher.cached(text[:MAX_MESSAGE_CHARS] if isinstance(text, str) else ""):
            return self.match(text)
        if _encoder.in_flight >= ENCODER_IN_FLIGHT or (rationed and not ENCODER_BUDGET.available()):
            self.semantic_skipped += 1
            return self.match(text, second_opinion=False)
        _encoder.in_flight += 1  # only the event loop's thread counts, so no lock is needed
        try:
            return await asyncio.to_thread(self._match_metered, text)
        finally:
            _encoder.in_flight -= 1

    def _match_metered(self, text: str) -> FaqMatch:
        started = time.thread_time()
        try:
            return self.match(text)
        finally:
            ENCODER_CPU.add(time.thread_time() - started)

    def record_unanswered(self, room: str, user: str, text: str, m: FaqMatch) -> None:
        self.unanswered.appendleft(
            Unanswered(time.time(), room, user, text[:MAX_MESSAGE_CHARS], m.best_id, m.score, m.reason)
        )

    # --- hot reload -----------------------------------------------------------------------------

    async def reload_if_changed(self) -> bool:
        """Reload when the file's bytes changed. True when a new version is now served.

        A bad edit is logged (once per distinct content), kept in ``last_error``, and the last good
        version keeps serving.
        """
        async with self._reload_lock:
            stat = _stat_key(self.path)
            if stat == self._stat:
                return False
            if stat is None:
                err = FaqFileError(self.path, "cannot read: file is missing; still serving the last good version")
                if self.last_error is None or str(self.last_error) != str(err):
                    log.error("%s", err)
                self.last_error = err
                self._stat = None
                return False
            try:
                data = await asyncio.to_thread(self.path.read_bytes)
            except OSError as exc:
                self.last_error = FaqFileError(self.path, f"cannot read: {exc.strerror or exc}")
                log.error("%s", self.last_error)
                return False
            self._stat = stat
            return await self._install(data)

    async def _install(self, data: bytes) -> bool:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        if digest == self.faq.digest:
            self.last_error = None
            return False
        if digest == self._bad_digest:
            return False
        try:
            faq = parse_faq(data, str(self.path))
            matcher = await asyncio.to_thread(build_matcher, faq, self.thresholds)
        except FaqFileError as exc:
            self._bad_digest = digest
            self.last_error = exc
            log.error("FAQ edit rejected, still serving version %d: %s", self.version, exc)
            return False
        self.faq, self.matcher = faq, matcher
        self.version += 1
        self.loaded_at = time.time()
        self.last_error = None
        self._bad_digest = None
        log.info("FAQ %s reloaded: version %d, %d entries", self.path, self.version, len(faq.entries))
        return True

    async def watch(self, interval: float = 1.0) -> None:
        """Poll for changes until cancelled. Errors are logged; the loop never dies on them."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload_if_changed()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("FAQ reload of %s failed", self.path)

    @contextlib.asynccontextmanager
    async def watching(self, interval: float = 1.0) -> AsyncIterator[FaqStore]:
        task = asyncio.create_task(self.watch(interval), name=f"faq-watch:{self.path.name}")
        try:
            yield self
        finally:
            await cancel_and_wait(task)

    # --- editing (admin page) -------------------------------------------------------------------

    def validate_text(self, text: str) -> FaqFile:
        """Parse edited file content without touching anything; raises FaqFileError."""
        return parse_faq(text.encode("utf-8"), str(self.path))

    async def save(self, text: str) -> FaqFile:
        """Validate, then write atomically and serve the new version. A bad edit raises FaqFileError
        and leaves the file on disk and the served version untouched."""
        data = text.encode("utf-8")
        faq = parse_faq(data, str(self.path))
        matcher = await asyncio.to_thread(build_matcher, faq, self.thresholds)
        async with self._reload_lock:
            await asyncio.to_thread(_atomic_write, self.path, data)
            self.faq, self.matcher = faq, matcher
            self.version += 1
            self.loaded_at = time.time()
            self.last_error = None
            self._bad_digest = None
            self._stat = _stat_key(self.path)
        log.info("FAQ %s saved from the admin page: version %d", self.path, self.version)
        return faq

    async def edit(self, change: Callable[[str], tuple[str, bool]]) -> bool:
        """Apply ``change`` (file text -> (new text, changed), see ``edit.py``) to the file on disk and
        serve the result. Edits are serialized, so two ops clicking at once both land. Raises
        FaqFileError when the file cannot be read or the result does not validate (nothing written)."""
        async with self._edit_lock:
            try:
                text = await asyncio.to_thread(self.path.read_text, "utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise FaqFileError(self.path, f"cannot read: {exc}") from None
            new, changed = change(text)
            if changed:
                await self.save(new)
            return changed

    def read_text(self) -> str:
        """The file as it is on disk (it may hold a bad edit); the served version's path if unreadable."""
        try:
            return self.path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            return ""


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
