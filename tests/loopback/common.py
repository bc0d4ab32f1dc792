"""What every loopback server shares: an aiohttp app on 127.0.0.1 that tests can kill and restart
on the same port, and the websocket clients it has accepted, each ``ready`` once it has done the
platform's handshake (Bilibili's auth, Twitch's JOIN)."""

from __future__ import annotations

import abc
import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from aiohttp import web

#: adapter settings that make reconnects quick in tests (backoff and connect timeout)
FAST_RECONNECT: dict[str, Any] = {
    "reconnect_base_seconds": 0.02,
    "reconnect_cap_seconds": 0.1,
    "connect_timeout_seconds": 2.0,
}


def free_port() -> int:
    """A port nothing listens on (for "a host that refuses")."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Peer:
    """One websocket client of a loopback server."""

    ws: web.WebSocketResponse
    #: set once the client has done the platform's handshake
    ready: asyncio.Event = field(default_factory=asyncio.Event)


P = TypeVar("P", bound=Peer)


class LoopbackServer(abc.ABC, Generic[P]):
    """Serves ``app()`` on 127.0.0.1: an ephemeral port on the first ``start()``, the same port after
    ``kill()`` / ``restart()``. ``async with`` starts and stops it. ``stall`` makes it stop answering."""

    def __init__(self) -> None:
        self.peers: list[P] = []
        self.stall = False
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._ready = asyncio.Condition()

    @abc.abstractmethod
    def app(self) -> web.Application: ...

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if not self.port:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def kill(self) -> None:
        """Stop serving at once: open websockets are cut, the port refuses until ``restart()``."""
        for p in list(self.peers):
            await p.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        await self.start()

    async def stop(self) -> None:
        await self.kill()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def drop(self) -> None:
        """Close every open websocket; the server goes on accepting new ones."""
        for p in list(self.peers):
            if not p.ws.closed:
                await p.ws.close()

    # --- peers -----------------------------------------------------------------------------------

    async def _accept(self, request: web.Request, peer: Callable[[web.WebSocketResponse], P]) -> P:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        new = peer(ws)
        self.peers.append(new)
        return new

    async def _mark_ready(self, peer: P) -> None:
        async with self._ready:
            peer.ready.set()
            self._ready.notify_all()

    @property
    def ready_peers(self) -> list[P]:
        """Clients that did the handshake and are still connected, oldest first."""
        return [p for p in self.peers if p.ready.is_set() and not p.ws.closed]

    async def wait_ready(self, count: int, within: float = 10.0) -> P:
        """Wait until ``count`` clients in total have done the handshake; returns the latest."""

        async def done() -> P:
            async with self._ready:
                await self._ready.wait_for(lambda: sum(p.ready.is_set() for p in self.peers) >= count)
            return [p for p in self.peers if p.ready.is_set()][-1]

        return await asyncio.wait_for(done(), within)
