"""Running an aiohttp app on a socket bound up front, and telling the user only once it listens.

Binding first gives two things: the real port when an ephemeral one (0) was asked for, or when a
busy default moved to one, and URLs printed only after the server accepts connections (aiohttp
calls the ``announce`` hook once every site has started, after the app's start-up), so a click on
a printed URL never gets "connection refused".
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable
from typing import Any

BACKLOG = 128


class ListenError(OSError):
    """The address cannot be listened on; ``str()`` is the line shown to the user."""


def bind(host: str, port: int, *, any_port_if_busy: bool = False) -> socket.socket:
    """A TCP socket bound to (host, port) and listening (connections wait in its backlog until the
    app serves them). With ``any_port_if_busy``, a port in use gives way to an ephemeral one (read
    the real port with ``bound_port``) instead of failing."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, kind, proto, _name, address = infos[0]
    try:
        return _listen(family, kind, proto, address)
    except OSError as exc:
        if any_port_if_busy and port and exc.errno == errno.EADDRINUSE:
            try:
                return _listen(family, kind, proto, (address[0], 0, *address[2:]))
            except OSError as again:
                exc = again
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _listen(family: int, kind: int, proto: int, address: tuple[Any, ...]) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        if sys.platform != "win32":
            # a restart may bind while the last run's connections linger in TIME_WAIT; two live
            # servers still cannot share the port, since the port is taken once one listens
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def run(app: Any, sock: socket.socket, announce: Callable[[], None]) -> None:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM; ``announce()`` runs once it listens."""
    from aiohttp import web

    web.run_app(
        app,
        sock=sock,
        print=lambda _message: announce(),
        shutdown_timeout=5.0,
        handle_signals=True,
        loop=new_event_loop(),
    )


#: ``LIVEBOT_EVENT_LOOP=uvloop`` runs the service on uvloop when it is installed (``pip install uvloop``)
LOOP_SWITCH = "LIVEBOT_EVENT_LOOP"


def new_event_loop() -> Any:
    """The event loop ``livebot run`` serves on: asyncio's, or uvloop's when asked for and installed."""
    import asyncio
    import logging
    import os

    wanted = os.environ.get(LOOP_SWITCH, "asyncio").strip().lower()
    if wanted == "uvloop":
        try:
            import uvloop
        except ImportError:
            logging.getLogger(__name__).warning("%s=uvloop, but uvloop is not installed: using asyncio", LOOP_SWITCH)
        else:
            return uvloop.new_event_loop()
    elif wanted not in ("", "asyncio"):
        logging.getLogger(__name__).warning("%s=%s is not a loop livebot knows: using asyncio", LOOP_SWITCH, wanted)
    return asyncio.new_event_loop()
