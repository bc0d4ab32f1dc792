"""One node's connection to Redis and its view of whether Redis is reachable.

Every Redis user on a node (bus writers and readers, leases, ingest, shared files) goes through
one ``RedisLink``: a ``redis.asyncio`` client with short timeouts, and one health state that any
of them may mark down when a command fails for lack of a connection. While it is down a single
prober pings with backoff; the first successful ping marks it up again and wakes every waiter,
so a node logs one line when Redis goes away and one when it is back, however many tasks noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.adapters.base import Backoff
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: what a command raises when Redis is unreachable, restarting or still loading its data
#: (BusyLoadingError is a ConnectionError in redis-py)
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


#: connections one node's shared pool may open; more concurrent commands wait for a free one
POOL_SIZE = 128


def make_client(url: str, *, socket_timeout: float | None = 5.0, single: bool = False) -> aioredis.Redis:
    """A client that fails fast: one immediate retry (a pooled connection may be stale after a
    Redis restart), then the error reaches the caller, which marks the link down and buffers.

    The shared client uses a *blocking* pool: a burst of commands from many rooms waits for a
    free connection instead of failing (which would look like an outage)."""
    options = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": 2.0,
        "retry": Retry(NoBackoff(), 1),
        "health_check_interval": 0,
    }
    if single:
        return aioredis.Redis.from_url(url, single_connection_client=True, **options)  # type: ignore[arg-type]
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=10.0, **options)
    return aioredis.Redis(connection_pool=pool)


class RedisLink:
    def __init__(self, url: str, *, socket_timeout: float = 5.0) -> None:
        self.url = url
        self.client = make_client(url, socket_timeout=socket_timeout)
        self.up = False
        self.down_since: float | None = time.time()
        self.last_error = "not connected yet"
        self.reconnects = 0
        self.outages = 0
        self._up_event = asyncio.Event()
        self._down_event = asyncio.Event()
        self._prober: asyncio.Task[None] | None = None
        self._on_reconnect: list[Callable[[float], Any]] = []
        self._ever_up = False

    def on_reconnect(self, callback: Callable[[float], Any]) -> None:
        """``callback(outage_seconds)`` after each outage ends (not at the first connect)."""
        self._on_reconnect.append(callback)

    async def start(self) -> None:
        if self._prober is not None:
            return
        try:
            await self.client.ping()
            self.mark_up()
        except OUTAGE_ERRORS as exc:
            self.mark_down(exc)
        self._prober = asyncio.create_task(self._probe(), name="redis-prober")

    def mark_down(self, exc: BaseException | str) -> None:
        self.last_error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        if self.up:
            self.up = False
            self.outages += 1
            self.down_since = time.time()
            log.warning("redis %s unreachable (%s); buffering and retrying", self._where(), self.last_error)
        elif not self._down_event.is_set():
            # not connected since start-up: say so once, then the prober keeps trying
            log.warning("redis %s not reachable yet (%s); retrying", self._where(), self.last_error)
        self._up_event.clear()
        self._down_event.set()

    def mark_up(self) -> None:
        if self.up:
            return
        outage = time.time() - self.down_since if self.down_since is not None else 0.0
        self.up = True
        self._down_event.clear()
        self._up_event.set()
        if self._ever_up:
            self.reconnects += 1
            log.info("redis %s reachable again after %.1f s", self._where(), outage)
            for callback in list(self._on_reconnect):
                try:
                    result = callback(outage)
                    if asyncio.iscoroutine(result):
                        asyncio.get_running_loop().create_task(result)
                except Exception:
                    log.exception("a reconnect callback failed")
        else:
            log.info("redis %s connected", self._where())
        self._ever_up = True
        self.down_since = None

    async def wait_up(self, within: float | None = None) -> bool:
        if self.up:
            return True
        try:
            await asyncio.wait_for(self._up_event.wait(), within)
        except TimeoutError:
            return False
        return True

    async def _probe(self) -> None:
        backoff = Backoff(base=0.1, cap=2.0)
        while True:
            await self._down_event.wait()
            await asyncio.sleep(backoff.delay())
            try:
                await self.client.ping()
            except OUTAGE_ERRORS as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            except Exception as exc:  # e.g. an auth error: report it, keep probing
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            backoff.reset()
            self.mark_up()

    def _where(self) -> str:
        # never log a password that may be in the URL
        kw = self.client.connection_pool.connection_kwargs
        return f"{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.up, "redis": self._where(), "reconnects": self.reconnects}
        if not self.up:
            since = self.down_since or time.time()
            out["detail"] = f"redis unreachable for {time.time() - since:.1f} s: {self.last_error}"
            out["down_since"] = since
        return out

    async def close(self) -> None:
        if self._prober is not None:
            await cancel_and_wait(self._prober)
            self._prober = None
        with contextlib.suppress(Exception):
            await self.client.aclose(close_connection_pool=True)


class ScriptBatcher:
    """Auto-pipelining for one Lua script: calls made at the same moment (by many rooms) go to
    Redis in one pipeline, one round trip, instead of one round trip and one pooled connection each.
    Each caller still gets its own result (or its own error), in the order it called."""

    def __init__(self, client: aioredis.Redis, script: str, *, max_batch: int = 500) -> None:
        self.client = client
        self.script = client.register_script(script)
        self.max_batch = max_batch
        self._queue: list[tuple[list[str], list[Any], asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None
        self.round_trips = 0

    async def __call__(self, *, keys: list[str], args: list[Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="redis-script-batcher")
        return await future

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let every caller of this loop iteration join the batch
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                results = await self._execute(batch)
            except BaseException as exc:
                for _keys, _args, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RedisConnectionError(str(exc)))
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_keys, _args, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _execute(self, batch: list[tuple[list[str], list[Any], asyncio.Future[Any]]]) -> list[Any]:
        results = await self._pipeline(batch)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            # a restarted Redis forgot the script: load it and send those calls again (a call that
            # failed with NOSCRIPT did not run, so nothing is applied twice)
            await self.client.script_load(self.script.script)
            retried = await self._pipeline([batch[i] for i in missing])
            for i, result in zip(missing, retried, strict=True):
                results[i] = result
        return results

    async def _pipeline(self, batch: list[tuple[list[str], list[Any], asyncio.Future[Any]]]) -> list[Any]:
        async with self.client.pipeline(transaction=False) as pipe:
            for keys, args, _future in batch:
                pipe.evalsha(self.script.sha, len(keys), *keys, *args)
            results = await pipe.execute(raise_on_error=False)
        self.round_trips += 1
        return list(results)
