"""The Redis key layout, in one place.

Every key of one room carries the room name in a hash tag (``{room}``), so a room's keys live in
one slot and the multi-key Lua scripts also work on a Redis Cluster.
"""

from __future__ import annotations


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _room(self, room: str, what: str) -> str:
        return f"{self.prefix}:{{{room}}}:{what}"

    def events(self, room: str) -> str:
        """The room's event stream (entry id ``<seq>-0``, field ``e`` = event JSON)."""
        return self._room(room, "events")

    def kept(self, room: str) -> str:
        """The room's events that are not bulk viewer traffic (warnings, FAQ replies, speech, status),
        a second copy trimmed on its own, so a chat flood cannot push them out of a replay."""
        return self._room(room, "kept")

    def seq(self, room: str) -> str:
        """The highest sequence id published to the room (survives trimming of the stream)."""
        return self._room(room, "seq")

    def lease(self, room: str) -> str:
        """Which worker runs the room: its id, with an expiry the owner keeps renewing."""
        return self._room(room, "lease")

    def ingest(self, room: str) -> str:
        """Speech accepted by any web node, waiting for the room's worker."""
        return self._room(room, "ingest")

    def ingest_pos(self, room: str) -> str:
        """The id of the last ingest entry whose results are on the event stream."""
        return self._room(room, "ingest_pos")

    def ingest_seen(self, room: str, uid: str) -> str:
        """Marks an ingest request id as stored, so a retried XADD does not store it twice."""
        return self._room(room, f"ingest_seen:{uid}")

    def reply_state(self, room: str) -> str:
        """The room's FAQ reply cooldowns (JSON), saved by its worker for the next one."""
        return self._room(room, "reply_state")

    @property
    def workers(self) -> str:
        """Sorted set of live workers, scored by the Redis time of their last heartbeat (ms)."""
        return f"{self.prefix}:workers"

    @property
    def room_status(self) -> str:
        """Hash room -> JSON status written by the room's worker, read by web nodes."""
        return f"{self.prefix}:room_status"

    def shared_file(self, digest: str) -> str:
        """Hash with the shared content of one configured FAQ file or rule pack path."""
        return f"{self.prefix}:file:{digest}"
