"""``/metrics`` in the Prometheus text format, on every node (run, worker, web).

Why prometheus_client rather than a hand-written page: the exposition format has escaping rules
(label values), ``_total``/TYPE/HELP conventions and content negotiation that the maintained
client gets right, and it is one small pure-Python package. We use it without its global
registry and mutable metric objects: each node gets its own ``CollectorRegistry`` with one
collector that reads the live figures the node already keeps (pipeline counters, bus and lease
state) at scrape time, so several nodes can live in one process (tests, ``livebot run``) and
nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)


class NodeCollector(Collector):
    """Reads a node's figures. ``service`` runs rooms (Service or Worker), ``web`` serves them."""

    def __init__(self, role: str, *, service: Any = None, web_node: Any = None, bus: Any = None) -> None:
        self.role = role
        self.service = service
        self.web_node = web_node
        self.bus = bus if bus is not None else getattr(service, "bus", None) or getattr(web_node, "bus", None)

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("livebot_node", "This node's role (always 1).", labels=["role"])
        info.add_metric([self.role], 1)
        yield info
        if self.service is not None:
            yield from self._rooms()
        if self.web_node is not None:
            yield from self._ingest()
        yield from self._bus()
        leases = getattr(self.service, "leases", None)
        if leases is not None:
            yield from self._leases(leases)

    def _rooms(self) -> Iterator[Metric]:
        runners = dict(self.service.runners)
        joined = GaugeMetricFamily("livebot_rooms_joined", "Rooms whose pipeline runs on this node.")
        joined.add_metric([], len(runners))
        yield joined
        families = {
            "events": CounterMetricFamily(
                "livebot_messages_in", "Events handled by room pipelines on this node.", labels=["room"]
            ),
            "warnings": CounterMetricFamily("livebot_warnings", "Compliance warnings raised.", labels=["room"]),
            "replies": CounterMetricFamily("livebot_replies", "FAQ chat replies sent.", labels=["room"]),
            "errors": CounterMetricFamily(
                "livebot_pipeline_errors", "Events a pipeline failed on (logged, skipped).", labels=["room"]
            ),
        }
        queued = GaugeMetricFamily("livebot_room_queue", "Events waiting for a room's pipeline.", labels=["room"])
        shed = CounterMetricFamily(
            "livebot_shed",
            "Work shed under overload, per room and step in the declared order: 'faq' (viewer chat not "
            "matched against the FAQ), 'rules' (rule checks on viewer chat), 'feed' (viewer events written "
            "to the audit log only). Every message is still audited.",
            labels=["room", "what"],
        )
        states = GaugeMetricFamily("livebot_rooms_by_state", "Rooms per connection state.", labels=["state"])
        by_state: dict[str, int] = {}
        for name, runner in sorted(runners.items()):
            counters = runner.pipeline.counters
            for key, family in families.items():
                family.add_metric([name], counters.get(key, 0))
            queued.add_metric([name], runner.queued)
            for what, count in runner.shed.items():
                shed.add_metric([name, what], count)
            by_state[runner.state] = by_state.get(runner.state, 0) + 1
        for state, count in sorted(by_state.items()):
            states.add_metric([state], count)
        yield from families.values()
        yield queued
        yield shed
        yield states

    def _ingest(self) -> Iterator[Metric]:
        accepted = CounterMetricFamily(
            "livebot_ingest_accepted", "Speech segments stored for the rooms' workers.", labels=["room"]
        )
        for room, count in sorted(self.web_node.ingest_accepted.items()):
            accepted.add_metric([room], count)
        yield accepted
        refused = CounterMetricFamily("livebot_ingest_refused", "Speech segments refused with 503 (Redis away).")
        refused.add_metric([], self.web_node.ingest_refused)
        yield refused

    def _bus(self) -> Iterator[Metric]:
        bus = self.bus
        link = getattr(bus, "link", None)
        connected = GaugeMetricFamily("livebot_bus_connected", "1 when the bus's backend is reachable.")
        connected.add_metric([], 1 if link is None or link.up else 0)
        yield connected
        reconnects = CounterMetricFamily("livebot_bus_reconnects", "Times the bus reconnected after an outage.")
        reconnects.add_metric([], link.reconnects if link is not None else 0)
        yield reconnects
        if link is None:
            return
        buffered = GaugeMetricFamily("livebot_bus_buffered_events", "Events waiting in outboxes for Redis.")
        buffered.add_metric([], bus.buffered())
        yield buffered
        lag = GaugeMetricFamily(
            "livebot_bus_lag_seconds",
            "Bus lag per room: 'outbox' = age of the oldest event waiting to be written (writers); "
            "'delivery' = event age when the last batch reached this node's subscribers (readers).",
            labels=["room", "kind"],
        )
        for room, writer in sorted(bus._writers.items()):
            lag.add_metric([room, "outbox"], writer.lag())
        for room, seconds in sorted(bus.delivery_lag.items()):
            lag.add_metric([room, "delivery"], seconds)
        yield lag
        subscribers = GaugeMetricFamily("livebot_bus_subscribers", "Live subscribers (overlay pages) on this node.")
        subscribers.add_metric([], sum(len(s) for s in bus._subs.values()))
        yield subscribers
        dropped = CounterMetricFamily("livebot_bus_dropped_subscribers", "Subscribers dropped for being too slow.")
        dropped.add_metric([], bus.dropped_subscribers)
        yield dropped

    def _leases(self, leases: Any) -> Iterator[Metric]:
        live = GaugeMetricFamily("livebot_live_workers", "Workers alive, as this worker last saw them.")
        live.add_metric([], len(leases.live))
        yield live
        moves = CounterMetricFamily(
            "livebot_room_leases", "Room leases taken, lost and handed back by this worker.", labels=["what"]
        )
        moves.add_metric(["acquired"], leases.acquired)
        moves.add_metric(["lost"], leases.lost)
        moves.add_metric(["released"], leases.released)
        yield moves


def registry_for(collector: NodeCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


async def metrics_page(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def add_metrics(app: web.Application, collector: NodeCollector) -> None:
    app[REGISTRY] = registry_for(collector)
    app.router.add_get("/metrics", metrics_page)
