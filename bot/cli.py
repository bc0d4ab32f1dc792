"""The ``livebot`` command. The only place that wires adapters, pipelines and the web app together."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from bot.config import ConfigError, Settings, ensure_tokens, load_config, parse_config, require_rooms

log = logging.getLogger("livebot")

DEMO_PORT = 8765


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)


def serve(settings: Settings, intro: Sequence[str] = ()) -> int:
    """Run the bot and its web app until interrupted (SIGINT/SIGTERM shut down gracefully).

    The URLs (after the ``intro`` lines) are printed once the server listens, not before: a
    click on one never meets "connection refused"."""
    from bot.serving import ListenError, bind, run
    from bot.urls import print_urls

    def announce() -> None:
        for line in intro:
            print(line)
        print_urls(settings)

    if settings.redis.url:
        # rooms shared through Redis: this process is one worker and one web node at once
        from bot.cluster.roles import run_node

        return run_node(settings, worker=True, web=True, announce=announce)
    from bot.metrics import NodeCollector, add_metrics
    from bot.service import Service
    from overlay.admin import FAQ_STORES
    from overlay.app import create_app

    try:
        sock = bind(settings.server.host, settings.server.port)
    except ListenError as exc:
        print(f"livebot: {exc}", file=sys.stderr)
        return 1
    service = Service(settings)
    service.settle_heap_after_start = True
    app = create_app(settings, bus=service.bus, ingest=service.ingest, status=service.status)
    app[FAQ_STORES] = service.faq_stores  # the admin page edits the very stores the rooms answer from
    app.cleanup_ctx.append(service.cleanup_ctx)
    add_metrics(app, NodeCollector("run", service=service))
    run(app, sock, announce)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.config)
        require_rooms(settings)
    except ConfigError as exc:
        print(f"livebot: config error: {exc}", file=sys.stderr)
        return 2
    settings, notes = ensure_tokens(settings)
    for note in notes:
        log.info("%s", note)
    return serve(settings)


def demo_settings(args: argparse.Namespace) -> Settings:
    demo = resources.files("bot") / "demo"
    state = Path(args.state_dir)
    data = {
        "server": {"host": args.host, "port": args.port, "state_dir": str(state)},
        "audit": {"dir": str(state / "audit")},
        "rooms": [
            {
                "name": "demo",
                "platform": "replay",
                "recording": str(demo / "recording.jsonl"),
                "faq": str(demo / "faq.toml"),
                "speed": args.speed,
                "loop": not args.once,
            }
        ],
    }
    return parse_config(data, "<demo>")


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        settings = demo_settings(args)
    except ConfigError as exc:
        print(f"livebot: {exc}", file=sys.stderr)
        return 2
    settings, _notes = ensure_tokens(settings)
    print("livebot demo: starting (the URLs follow once the server listens) ...", flush=True)
    return serve(
        settings,
        intro=(
            "livebot demo: replaying a recorded live-commerce show through the real pipeline.",
            "Paste the warnings URL into an OBS Browser source (1920x1080), or open it in a browser.",
        ),
    )


def cmd_douyin_login(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        print(f"livebot: config error: {exc}", file=sys.stderr)
        return 2
    import asyncio

    from bot.adapters.douyin.login import login

    return asyncio.run(login(settings.platforms.douyin, settings.server.state_dir, headless=args.headless))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livebot",
        description="Live-room bot and OBS overlay for live commerce: warns the anchor about banned phrases "
        "and answers viewers' after-sales questions.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot and its web app from a config file")
    run.add_argument("--config", required=True, help="path of the TOML config (see config.example.toml)")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="replay a recorded show through the real pipeline and serve the overlay")
    demo.add_argument("--speed", type=float, default=1.0, help="play the recording N times faster (default 1)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=DEMO_PORT)
    demo.add_argument("--once", action="store_true", help="play the recording once instead of looping")
    demo.add_argument("--state-dir", default="var/demo", help="where the demo keeps its audit log and tokens")
    demo.set_defaults(func=cmd_demo)

    douyin = sub.add_parser(
        "douyin-login", help="log the bot's Douyin account in once, in a browser window (kept in state_dir)"
    )
    douyin.add_argument("--config", required=True, help="path of the TOML config (its state_dir holds the profile)")
    douyin.add_argument("--headless", action="store_true", help=argparse.SUPPRESS)  # the tests: no window
    douyin.set_defaults(func=cmd_douyin_login)

    from bot.faq import cli as faq_cli
    from bot.report import cli as report_cli
    from rules import cli as rules_cli

    rules_cli.register(sub)
    faq_cli.register(sub)
    report_cli.register(sub)

    from bot.cluster import roles

    roles.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
