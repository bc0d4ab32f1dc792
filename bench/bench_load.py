"""Load: N Bilibili rooms x R viewer messages/s against a real ``livebot run``, plus timed speech.

    python bench/bench_load.py                        # 20 rooms x 200 msg/s for 20 s (4,000/s)
    python bench/bench_load.py --rate 400             # twice that: shedding as declared
    python bench/bench_load.py --rooms 500 --rate 0   # join test: 500 rooms must all connect

What runs:
- a loopback Bilibili server (``tests/loopback/bilibili.py``, serving many room ids) in this process,
  sending each room ``--rate`` DANMU_MSG per second as the real server does (brotli frames of many
  packets, ``--frames`` per second per room); every message text is unique, so the audit log tells
  which ones arrived. The frames are built before the clock starts, so sending costs little;
- ``livebot run`` as a subprocess with a generated config (every room with the demo FAQ and the
  built-in rule packs), its audit log in a temporary directory;
- once a second, a speech segment with a banned phrase is POSTed to a room's ingest and timed until
  its warning arrives on that room's overlay websocket;
- parse-only clients, each in its own subprocess (``--parse-only-client``), connected to every
  room at the same time and fed the same frames: ``bare`` does the least any client must
  (websocket, brotli, packet split, ``json.loads``, cmd and text out; a floor), ``blivedm`` the
  steps blivedm 1.1's client takes for each danmaku, written from its design
  (``bench/blivedm_like.py``), and ``blivedm11`` blivedm 1.1's own client code when it is installed
  (PyPI's ``blivedm`` stops at 0.1.1; ``sumiblivedm`` 1.1.0 packages blivedm 1.1:
  ``pip install --no-deps sumiblivedm==1.1.0``, see ``real_blivedm_rooms``). livebot's figure is
  printed as a share of each (``--no-baseline`` skips them).

Printed: messages handled/sent (from the audit log), livebot's messages per CPU-second next to the
parse-only clients', warning latency p50/p99 (and how many never came), shed counts from
``/healthz``, peak RSS of each process; in the join mode, the seconds until all rooms were
``connected``. The machine is whatever it is: run it twice and on a quiet machine for figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import brotli
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import blivedm_like  # noqa: E402 - bench/ is on sys.path when run as a script

from tests.loopback.bilibili import BilibiliLoopback, Conn, danmu, pack  # noqa: E402
from tests.loopback.common import free_port  # noqa: E402

FIRST_ROOM_ID = 9_100_001
VIOLATION = "家人们这款面霜是全网最低价，"
HDR = struct.Struct(">IHHII")
#: the parse-only clients run next to livebot, by style: what each stands for
BASELINE_STYLES = {"bare": "bare parse", "blivedm": "blivedm 1.1's steps"}
try:  # blivedm 1.1 itself, as PyPI's sumiblivedm 1.1.0 ships it (see real_blivedm_rooms)
    import sumiblivedm  # noqa: F401

    BASELINE_STYLES["blivedm11"] = "blivedm 1.1 itself"
except ImportError:
    pass


# --- the loopback server, many rooms ------------------------------------------------------------


class ManyRooms(BilibiliLoopback):
    """The loopback server answering for every room id in ``room_ids``.

    The parent checks one ``room_id``; each handler below points it at the room a request names
    and hands over at once. The parent's handlers do that check before their first ``await``, so
    no other request can interleave."""

    def __init__(self, room_ids: list[int]) -> None:
        super().__init__(room_id=room_ids[0], short_id=0, refusing_host_first=False)
        self.room_ids = set(room_ids)
        self.by_room: dict[int, list[Conn]] = {}

    def _point_at(self, value: str) -> bool:
        if value.isdigit() and int(value) in self.room_ids:
            self.room_id = int(value)
            return True
        return False

    async def _get_info(self, request: web.Request) -> web.Response:
        self._point_at(request.query.get("room_id", ""))
        return await super()._get_info(request)

    async def _danmu_info(self, request: web.Request) -> web.Response:
        self._point_at(request.query.get("id", ""))
        return await super()._danmu_info(request)

    async def _on_auth(self, conn: Conn, proto: int, body: bytes) -> None:
        with contextlib.suppress(ValueError, AttributeError):
            self._point_at(str(json.loads(body).get("roomid", "")))
        await super()._on_auth(conn, proto, body)
        if conn.authed.is_set():
            self.by_room.setdefault(self.room_id_of(conn), []).append(conn)

    @staticmethod
    def room_id_of(conn: Conn) -> int:
        return int((conn.auth or {}).get("roomid", 0))

    async def broadcast(self, room_id: int, frame: bytes) -> None:
        for conn in list(self.by_room.get(room_id, ())):
            if conn.ws.closed:
                self.by_room[room_id].remove(conn)
                continue
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.send_bytes(frame)


def build_frames(room_index: int, rate: int, seconds: float, frames_per_second: int) -> list[bytes]:
    """A room's whole load as brotli frames: ``rate`` messages a second, each text unique."""
    per_frame = max(1, rate // frames_per_second)
    total = int(rate * seconds)
    frames: list[bytes] = []
    n = 0
    while n < total:
        inner = []
        for _ in range(min(per_frame, total - n)):
            uid = 100_000 + (n % 5000)
            text = f"r{room_index}m{n} 请问这个有货吗" if n % 7 == 0 else f"r{room_index}m{n} 主播好"
            body = json.dumps(danmu(uid, f"观众{uid}", text), ensure_ascii=False, separators=(",", ":"))
            inner.append(pack(5, body.encode()))
            n += 1
        frames.append(pack(5, brotli.compress(b"".join(inner), quality=4), proto=3))
    return frames


async def send_load(server: ManyRooms, room_ids: list[int], frames: list[list[bytes]], fps: int) -> int:
    """Send every room's frames, ``fps`` per second per room, on one shared clock; returns frames sent."""
    start = time.monotonic()
    sent = 0
    longest = max((len(f) for f in frames), default=0)
    for i in range(longest):
        due = start + i / fps
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        for room_id, room_frames in zip(room_ids, frames, strict=True):
            if i < len(room_frames):
                await server.broadcast(room_id, room_frames[i])
                sent += 1
    return sent


# --- the livebot subprocess ---------------------------------------------------------------------


def write_config(directory: Path, server: ManyRooms, room_ids: list[int], port: int, faq: bool) -> Path:
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f'state_dir = "{directory / "state"}"',
        'admin_token = "bench-admin"',
        "[audit]",
        f'dir = "{directory / "audit"}"',
        "[reply]",
        "enabled = false",
        "[platforms.bilibili]",
    ]
    for key, value in server.settings_table(heartbeat_seconds=30.0, reconnect_base_seconds=0.5).items():
        lines.append(f"{key} = {json.dumps(value)}")
    for i, room_id in enumerate(room_ids):
        lines += [
            "[[rooms]]",
            f'name = "r{i}"',
            'platform = "bilibili"',
            f'room_id = "{room_id}"',
            f'overlay_token = "ov-{i}"',
            f'ingest_token = "in-{i}"',
        ]
        if faq:
            lines.append(f'faq = "{ROOT / "bot" / "demo" / "faq.toml"}"')
    path = directory / "livebot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Proc:
    """A subprocess whose CPU time and peak RSS we read from /proc."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.log = open(log_path, "wb")
        self.popen = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()
        return self.popen.returncode


async def healthz(http: aiohttp.ClientSession, base: str) -> dict[str, Any] | None:
    try:
        async with http.get(f"{base}/healthz", timeout=aiohttp.ClientTimeout(total=5)) as resp:
            return await resp.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


async def wait_connected(http: aiohttp.ClientSession, base: str, rooms: int, within: float) -> float | None:
    """Seconds until /healthz says every room is connected (None: not within ``within``)."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        status = await healthz(http, base)
        if status is not None and status.get("joining", {}).get("connected", 0) >= rooms:
            return time.monotonic() - start
        await asyncio.sleep(0.25)
    return None


# --- speech timed until its warning is on the overlay feed --------------------------------------


async def open_feeds(http: aiohttp.ClientSession, base: str, rooms: int) -> dict[int, Any]:
    """Overlay websockets (warnings only) of the first few rooms, opened before the load starts."""
    ws_base = base.replace("http", "ws", 1)
    return {i: await http.ws_connect(f"{ws_base}/overlay/r{i}/ws?token=ov-{i}&types=warning") for i in range(rooms)}


async def time_warnings(
    http: aiohttp.ClientSession, base: str, feeds: dict[int, Any], until: float, every: float
) -> tuple[list[float], int]:
    """Post a violating segment every ``every`` s (rooms in turn); latencies (s) and how many never came."""
    arrived: dict[str, float] = {}

    async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("op") == "event":
                arrived.setdefault(data["event"].get("segment", ""), time.monotonic())

    listeners = [asyncio.create_task(listen(ws)) for ws in feeds.values()]
    posted: dict[str, float] = {}
    n = 0
    try:
        while time.monotonic() < until:
            i = n % len(feeds)
            segment = f"bench-{n}-{secrets.token_hex(3)}"
            posted[segment] = time.monotonic()
            try:
                async with http.post(
                    f"{base}/api/rooms/r{i}/speech",
                    json={"text": VIOLATION, "segment": segment},
                    headers={"Authorization": f"Bearer in-{i}"},
                    timeout=aiohttp.ClientTimeout(total=30),
                ) as resp:
                    await resp.read()
            except (aiohttp.ClientError, TimeoutError):
                pass
            n += 1
            await asyncio.sleep(max(0.0, posted[segment] + every - time.monotonic()))
        grace = time.monotonic() + 5.0
        while len(arrived.keys() & posted.keys()) < len(posted) and time.monotonic() < grace:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    finally:
        for task in listeners:
            task.cancel()
        for ws in feeds.values():
            await ws.close()
    latencies = [arrived[s] - t for s, t in posted.items() if s in arrived]
    return latencies, len(posted) - len(latencies)


def count_audited(audit_dir: Path) -> tuple[int, int]:
    """(viewer chat lines of the bench, unique among them) in the audit log."""
    total = 0
    seen: set[str] = set()
    for path in audit_dir.glob("*/*.jsonl"):
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if '"type":"chat"' not in line and '"type": "chat"' not in line:
                    continue
                try:
                    text = json.loads(line).get("text", "")
                except ValueError:
                    continue
                if text.startswith("r") and "m" in text:
                    total += 1
                    seen.add(text.split(" ", 1)[0])
    return total, len(seen)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the parse-only client ----------------------------------------------------------------------


async def parse_only_client(port: int, room_ids: list[int], out: Path, style: str) -> None:
    """A parse-only client on the same frames: ``bare`` (websocket, brotli, packets, json, cmd/text:
    a floor) or ``blivedm`` (the steps of blivedm 1.1's client, ``bench/blivedm_like.py``)."""
    counts = {"messages": 0}
    decoder = json.JSONDecoder()

    def parse(data: bytes) -> None:
        pos = 0
        while pos + 16 <= len(data):
            plen, hlen, proto, op, _ = HDR.unpack_from(data, pos)
            body = data[pos + hlen : pos + plen]
            pos += plen
            if op != 5:
                continue
            if proto == 3:
                parse(brotli.decompress(body))
            elif proto == 0:
                cmd = decoder.decode(body.decode("utf-8"))
                if cmd.get("cmd", "").startswith("DANMU_MSG"):
                    info = cmd["info"]
                    _text, _uid, _name = info[1], info[2][0], info[2][1]
                    counts["messages"] += 1

    def on_danmaku(_message: blivedm_like.DanmakuMessage) -> None:
        counts["messages"] += 1

    async def room(http: aiohttp.ClientSession, room_id: int) -> None:
        auth = json.dumps({"uid": 0, "roomid": room_id, "protover": 3, "platform": "web", "type": 2}).encode()
        like = blivedm_like.Parser(blivedm_like.Handler(on_danmaku))
        async with http.ws_connect(f"ws://127.0.0.1:{port}/sub", max_msg_size=1 << 22) as ws:
            await ws.send_bytes(HDR.pack(16 + len(auth), 16, 1, 7, 1) + auth)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    continue
                if style == "blivedm":
                    await like.on_ws_message(msg.data)
                else:
                    parse(msg.data)

    def report(*_: Any) -> None:
        out.write_text(json.dumps(counts))

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, report)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        if style == "blivedm11":
            await real_blivedm_rooms(http, port, room_ids, counts)
        else:
            await asyncio.gather(*(room(http, r) for r in room_ids), return_exceptions=True)


async def real_blivedm_rooms(http: aiohttp.ClientSession, port: int, room_ids: list[int], counts: dict) -> None:
    """blivedm 1.1's own web client (``BLiveClient``, as PyPI's sumiblivedm 1.1.0 packages it: the same
    modules under both names; ``pip install --no-deps sumiblivedm==1.1.0``, as its pins would
    downgrade aiohttp and brotli) on every room, its ``BaseHandler`` building each ``DanmakuMessage``.
    Only where it connects changes: the room set-up it would ask api.live.bilibili.com for (room id,
    danmaku hosts, a buvid cookie) is filled in by hand, and the websocket is the loopback's. Its
    frame, packet and command handling run as released."""
    import sumiblivedm

    class LoopbackClient(sumiblivedm.BLiveClient):
        async def init_room(self) -> bool:
            self._room_id, self._room_owner_uid, self._uid = self._tmp_room_id, 0, 0
            self._host_server_list = [{"host": "127.0.0.1", "port": port, "wss_port": port, "ws_port": port}]
            self._host_server_token = None
            return True

        def _get_ws_url(self, retry_count: int) -> str:
            return f"ws://127.0.0.1:{port}/sub"

    class Counting(sumiblivedm.BaseHandler):
        def _on_danmaku(self, client: Any, message: Any) -> None:
            counts["messages"] += 1

    clients = []
    for room_id in room_ids:
        client = LoopbackClient(room_id, uid=0, session=http)
        client.set_handler(Counting())
        client.start()
        clients.append(client)
    await asyncio.gather(*(c.join() for c in clients), return_exceptions=True)


# --- the run ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    room_ids = [FIRST_ROOM_ID + i for i in range(args.rooms)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    print(f"building {args.rooms} rooms x {args.rate} msg/s x {args.seconds:.0f} s of frames ...", flush=True)
    frames = [build_frames(i, args.rate, args.seconds, args.frames) for i in range(args.rooms)] if args.rate else []
    server = ManyRooms(room_ids)
    await server.start()
    port = free_port()
    config = write_config(tmp, server, room_ids, port, faq=not args.no_faq)
    base = f"http://127.0.0.1:{port}"
    bot = Proc([sys.executable, "-m", "bot", "run", "--config", str(config)], tmp / "livebot.log")
    # the parse-only clients by style, each in its own process (see parse_only_client)
    baselines: dict[str, Proc] = {}
    if args.rate and not args.no_baseline:
        for style in BASELINE_STYLES:
            client_args = ["--parse-only-client", str(server.port), str(tmp / f"parse_only_{style}.json")]
            baselines[style] = Proc(
                [sys.executable, __file__, *client_args, str(args.rooms), style], tmp / f"parse_only_{style}.log"
            )
    rows: list[tuple[str, str]] = []
    try:
        async with aiohttp.ClientSession() as http:
            joined = await wait_connected(http, base, args.rooms, within=args.join_within)
            rows.append(("rooms connected", f"all {args.rooms} in {joined:.1f} s" if joined is not None else "NOT ALL"))
            if joined is None:
                status = await healthz(http, base)
                rows.append(("joining", json.dumps((status or {}).get("joining"))))
            if not args.rate:
                rows.append(("livebot peak RSS", f"{bot.peak_rss_mb():.0f} MB"))
                return print_table(args, rows, tmp)
            want = args.rooms * (1 + len(baselines))
            deadline = time.monotonic() + 30
            while sum(len(c) for c in server.by_room.values()) < want and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # start-up work (rule and FAQ tables) is not the load
            # nor is the sentence encoder embedding the FAQ's entries (a background thread at start)
            encoder_ready = time.monotonic() + 120
            while time.monotonic() < encoder_ready:
                status = await healthz(http, base)
                if status is not None and not status.get("faq", {}).get("encoder_loading", 0):
                    break
                await asyncio.sleep(0.25)
            before = await healthz(http, base) or {}
            cpu0 = bot.cpu_seconds()
            base_cpu0 = {style: proc.cpu_seconds() for style, proc in baselines.items()}
            # the speech client runs in its own process: this one is busy sending the load, and
            # its own loop delays must not count as livebot's latency
            speech_out = tmp / "speech.json"
            speech_args = ["--speech-client", base, str(min(args.rooms, 4)), str(args.seconds), str(speech_out)]
            speech = Proc([sys.executable, __file__, *speech_args], tmp / "speech.log")
            ready = time.monotonic() + 30
            while not speech_out.exists() and time.monotonic() < ready:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            spy = None
            if args.py_spy:
                py_spy = Path(sys.executable).with_name("py-spy")
                spy_args = [
                    "record",
                    "-p",
                    str(bot.popen.pid),
                    "-d",
                    str(int(args.seconds)),
                    "-r",
                    str(args.py_spy_rate),
                ]
                spy_args += ["-f", "raw", "-o", args.py_spy, "--nonblocking"]
                spy = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for in a thread
                    [str(py_spy), *spy_args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            t0 = time.monotonic()
            sender = asyncio.create_task(send_load(server, room_ids, frames, args.frames))
            speech_out.unlink(missing_ok=True)
            speech.popen.send_signal(signal.SIGUSR1)  # start posting
            await sender
            await asyncio.to_thread(speech.popen.wait, 120)
            result = json.loads(speech_out.read_text()) if speech_out.exists() else {}
            latencies, missing = result.get("latencies", []), result.get("missing", -1)
            if spy is not None:
                await asyncio.to_thread(spy.wait)
            # let livebot finish what it received (bounded wait): until its queues are empty and its
            # audit log has stopped growing for 3 s (what is still in a socket keeps it growing)
            drain_until = time.monotonic() + 60
            status = await healthz(http, base)
            last, still_since = -1, time.monotonic()
            while time.monotonic() < drain_until:
                status = await healthz(http, base)
                if status is not None:
                    lines = status.get("audit", {}).get("lines_written", 0)
                    queued = sum(r.get("queued", 0) for r in status["rooms"].values())
                    if lines != last or queued:
                        last, still_since = lines, time.monotonic()
                    elif time.monotonic() - still_since >= 3.0:
                        break
                await asyncio.sleep(0.25)
            wall = time.monotonic() - t0
            cpu = bot.cpu_seconds() - cpu0
            base_cpu = {style: proc.cpu_seconds() - base_cpu0[style] for style, proc in baselines.items()}
            for proc in baselines.values():
                proc.popen.send_signal(signal.SIGUSR1)
            if baselines:
                await asyncio.sleep(0.5)
        sent = args.rooms * int(args.rate * args.seconds)
        peak = bot.peak_rss_mb()
        code = bot.stop()
        audited, unique = count_audited(tmp / "audit")
        shed = (status or {}).get("shed", {})
        gc = (status or {}).get("gc", {})
        faq_cpu = (status or {}).get("faq", {}).get("match_cpu_seconds", 0.0) - before.get("faq", {}).get(
            "match_cpu_seconds", 0.0
        )
        lag_after = (status or {}).get("loop", {}).get("over_ms", {})
        lag_before = before.get("loop", {}).get("over_ms", {})
        lag = {k: v - lag_before.get(k, 0) for k, v in lag_after.items()}
        ours = unique / max(cpu, 1e-9)
        rows += [
            ("messages sent", f"{sent:,} ({args.rooms} rooms x {args.rate}/s x {args.seconds:.0f} s)"),
            ("in the audit log", f"{unique:,} = {100 * unique / max(1, sent):.2f}% (lines {audited:,})"),
            ("livebot CPU", f"{cpu:.1f} s over {wall:.1f} s wall"),
            ("livebot msgs per CPU-second", f"{ours:,.0f} (handled / CPU seconds)"),
            (
                "  of which FAQ matching",
                f"{faq_cpu:.1f} CPU s (without it: {unique / max(cpu - faq_cpu, 1e-9):,.0f} per CPU-second)",
            ),
        ]
        for style, proc in baselines.items():
            counts_file = tmp / f"parse_only_{style}.json"
            parsed = json.loads(counts_file.read_text()).get("messages", 0) if counts_file.exists() else 0
            theirs = parsed / max(base_cpu[style], 1e-9)
            rows += [
                (
                    f"parse-only ({BASELINE_STYLES[style]}) msgs per CPU-second",
                    f"{theirs:,.0f} ({parsed:,} parsed; livebot at {100 * ours / max(theirs, 1e-9):.0f}% of it)",
                ),
                (f"parse-only ({style}) peak RSS", f"{proc.peak_rss_mb():.0f} MB"),
            ]
        rows += [
            (
                "warning latency p50 / p99",
                f"{1000 * pct(latencies, 0.5):.0f} / {1000 * pct(latencies, 0.99):.0f} ms "
                f"({len(latencies)} timed, {missing} missing)",
            ),
            ("shed (faq / rules / feed)", f"{shed.get('faq', 0)} / {shed.get('rules', 0)} / {shed.get('feed', 0)}"),
            ("livebot peak RSS", f"{peak:.0f} MB"),
            (
                "livebot GC (collections, longest ms per gen)",
                f"{gc.get('collections')} {gc.get('longest_ms')} wall, {gc.get('longest_cpu_ms')} CPU "
                f"(total {gc.get('total_ms')} ms)",
            ),
            (
                "loop lag during the load",
                ", ".join(f">{k} ms: {lag[k]}" for k in ("50", "100", "250", "500") if k in lag)
                + f" (ticks every 50 ms; longest since start {(status or {}).get('loop', {}).get('longest_ms')} ms)",
            ),
            ("livebot exit code", str(code)),
        ]
        return print_table(args, rows, tmp)
    finally:
        for proc in baselines.values():
            proc.stop()
        bot.stop()
        await server.stop()


def print_table(args: argparse.Namespace, rows: list[tuple[str, str]], tmp: Path) -> int:
    print()
    print(f"bench_load: {args.rooms} rooms x {args.rate} msg/s, {args.seconds:.0f} s, {os.cpu_count()} cores")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    print(f"  (livebot log and audit log under {tmp})")
    return 0


async def speech_client(base: str, rooms: int, seconds: float, out: Path) -> None:
    """Open the overlay feeds, say so (``out`` appears), wait for SIGUSR1, then post and time speech."""
    go = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, go.set)
    async with aiohttp.ClientSession() as http:
        feeds = await open_feeds(http, base, rooms)
        _write(out, "{}")
        await go.wait()
        latencies, missing = await time_warnings(http, base, feeds, until=time.monotonic() + seconds, every=0.5)
    _write(out, json.dumps({"latencies": latencies, "missing": missing}))


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--speech-client":
        base, rooms, seconds, out = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5])
        asyncio.run(speech_client(base, rooms, seconds, out))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--parse-only-client":
        port, out, rooms = int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
        style = sys.argv[5] if len(sys.argv) > 5 else "bare"
        with contextlib.suppress(KeyboardInterrupt):  # how the run stops it, once its counts are read
            asyncio.run(parse_only_client(port, [FIRST_ROOM_ID + i for i in range(rooms)], out, style))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--rate", type=int, default=200, help="viewer messages per second per room (0: join test)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--frames", type=int, default=10, help="websocket frames per second per room")
    parser.add_argument("--join-within", type=float, default=45.0, help="seconds the rooms get to connect")
    parser.add_argument("--no-faq", action="store_true", help="rooms without the demo FAQ")
    parser.add_argument("--no-baseline", action="store_true", help="skip the parse-only clients")
    parser.add_argument("--py-spy", metavar="FILE", help="profile livebot during the load (py-spy raw output)")
    parser.add_argument("--py-spy-rate", type=int, default=50, help="py-spy samples per second")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
