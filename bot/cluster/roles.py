"""Scaling out on Redis: the ``livebot worker`` and ``livebot web`` roles, and ``livebot run``
with both in one process when ``[redis] url`` is set.

- ``livebot worker --config FILE [--port N]``: runs the rooms it holds leases for (adapters,
  pipelines, replies); serves only ``/healthz`` and ``/metrics`` (``[redis] worker_port``, or a
  free port when another worker on the machine has it; the port is printed).
- ``livebot web --config FILE [--port N]``: the web app (overlay pages and feed, console, admin,
  speech ingest, ``/healthz``, ``/metrics``) for every configured room, wherever it runs.

Start as many of each as you like against one Redis, with the same config file.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable
from typing import Any

from bot.config import ConfigError, Settings, ensure_tokens, load_config, require_rooms

log = logging.getLogger("livebot")


def _settings(args: argparse.Namespace) -> Settings | None:
    try:
        settings = load_config(args.config)
        require_rooms(settings)
    except ConfigError as exc:
        print(f"livebot: config error: {exc}", file=sys.stderr)
        return None
    if not settings.redis.url:
        print(
            f"livebot: config error: {settings.source}: redis.url: missing value "
            f"(`livebot {args.command}` shares rooms through Redis; `livebot run` needs none)",
            file=sys.stderr,
        )
        return None
    settings, notes = ensure_tokens(settings)
    for note in notes:
        log.info("%s", note)
    return settings


def build_app(settings: Settings, *, worker: bool, web: bool):  # type: ignore[no-untyped-def]
    """The aiohttp app of a node with the given roles, its parts started and stopped by the app."""
    from aiohttp import web as aioweb

    from bot.bus.redis import RedisBus
    from bot.cluster.webnode import WebNode
    from bot.cluster.worker import Worker
    from bot.metrics import NodeCollector, add_metrics

    bus = RedisBus.from_settings(settings, watch_rooms=[r.name for r in settings.rooms] if web else ())
    work = Worker(settings, bus=bus) if worker else None
    front = WebNode(settings, bus, node=work.worker_id if work else "") if web else None

    def status() -> dict[str, Any]:
        if front is None:
            assert work is not None
            return work.status()
        out = front.status()
        if work is not None:
            # rooms this process runs: their live state rather than the copy in Redis
            local = work.status()
            out["rooms"].update(local["rooms"])
            out["role"] = "run"
            out["cluster"] = local["cluster"]
        return out

    if front is not None:
        from overlay.app import create_app

        app = create_app(settings, bus=bus, ingest=front.ingest, status=status)
        app.cleanup_ctx.append(front.cleanup_ctx)
    else:
        app = aioweb.Application()

        async def healthz(request: aioweb.Request) -> aioweb.Response:
            current = status()
            return aioweb.json_response(current, status=200 if current.get("ok") else 503)

        app.router.add_get("/healthz", healthz)
    if work is not None:
        # registered after the web node's: stopped before it, so rooms hand back while the bus is up
        app.cleanup_ctx.append(work.cleanup_ctx)
    role = "run" if worker and web else ("worker" if worker else "web")
    add_metrics(app, NodeCollector(role, service=work, web_node=front, bus=bus))
    return app


def run_node(
    settings: Settings,
    *,
    worker: bool,
    web: bool,
    port: int | None = None,
    announce: Callable[[], None] | None = None,
) -> int:
    """Serve a node with the given roles until interrupted; ``announce`` runs once it listens.

    A worker without ``--port`` listens on ``[redis] worker_port``, or on a free port when that
    one is taken (several workers on one machine with one config all run); the port it got is
    printed. An explicit ``--port`` that is taken is an error."""
    from bot.serving import ListenError, bind, bound_port, run

    host = settings.server.host
    if port is not None:
        wanted, movable = port, False
    elif web:
        wanted, movable = settings.server.port, False
    else:
        wanted, movable = settings.redis.worker_port, True
    try:
        sock = bind(host, wanted, any_port_if_busy=movable)
    except ListenError as exc:
        print(f"livebot: {exc}", file=sys.stderr)
        return 1
    actual = bound_port(sock)
    app = build_app(settings, worker=worker, web=web)
    roles = "+".join(r for r, on in (("worker", worker), ("web", web)) if on)

    def listening() -> None:
        if announce is not None:
            announce()
        print(f"livebot {roles}: redis {_safe(settings)}")
        if actual != wanted:
            print(f"port {wanted} is taken (another worker?): listening on {actual} instead")
        shown = f"[{host}]" if ":" in host else host
        print(f"health: http://{shown}:{actual}/healthz  metrics: http://{shown}:{actual}/metrics", flush=True)

    run(app, sock, listening)
    return 0


def _safe(settings: Settings) -> str:
    url = settings.redis.url
    if "@" in url:  # never print a password
        scheme, _, rest = url.partition("://")
        url = f"{scheme}://***@{rest.rpartition('@')[2]}"
    return f"{url} (prefix {settings.redis.prefix!r})"


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return 2
    return run_node(settings, worker=True, web=False, port=args.port)


def cmd_web(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return 2
    if args.port is not None:
        settings = dataclasses.replace(settings, server=dataclasses.replace(settings.server, port=args.port))
    from bot.urls import print_urls

    return run_node(settings, worker=False, web=True, announce=lambda: print_urls(settings))


def register(sub: Any) -> None:
    worker = sub.add_parser("worker", help="run the rooms this worker is assigned through Redis (no web pages)")
    worker.add_argument("--config", required=True, help="path of the TOML config (with [redis] url)")
    worker.add_argument(
        "--port",
        type=int,
        default=None,
        help="/healthz and /metrics port (default: [redis] worker_port, or a free port when that one is taken)",
    )
    worker.set_defaults(func=cmd_worker)

    web = sub.add_parser("web", help="serve overlays, console, admin and ingest for rooms run by workers")
    web.add_argument("--config", required=True, help="path of the TOML config (with [redis] url)")
    web.add_argument("--port", type=int, default=None, help="listen port (default: [server] port)")
    web.set_defaults(func=cmd_web)
