"""Prometheus metrics, on a registry per app (tests run several apps in one process)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from server.api.common import Handler


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "halqa_http_requests_total",
            "HTTP requests by route and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "halqa_http_request_seconds",
            "HTTP request latency by route",
            ["route"],
            registry=self.registry,
        )
        self.registrations = Counter(
            "halqa_registrations_total", "New registrations", registry=self.registry
        )
        self.socket_connections = Gauge(
            "halqa_socket_connections", "Open Socket.IO connections", registry=self.registry
        )
        self.socket_refused = Counter(
            "halqa_socket_refused_total",
            "Socket.IO connections refused at connect",
            registry=self.registry,
        )

    def watch(self, prefix: str, read: Callable[[], Mapping[str, float]], doc: str) -> None:
        """Expose `read()`'s figures as gauges, read at scrape time (no bookkeeping)."""
        self.registry.register(_Snapshot(prefix, read, doc))

    def middleware(self) -> Middleware:
        @web.middleware
        async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
            start = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                # The route's pattern, not the path: bounded label cardinality.
                info = request.match_info.route.resource
                route = info.canonical if info is not None else "unmatched"
                self.http_requests.labels(route, request.method, str(status)).inc()
                self.http_latency.labels(route).observe(time.perf_counter() - start)

        return measure

    def render(self) -> web.Response:
        resp = web.Response(body=generate_latest(self.registry))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp


class _Snapshot(Collector):
    def __init__(self, prefix: str, read: Callable[[], Mapping[str, float]], doc: str) -> None:
        self.prefix, self.read, self.doc = prefix, read, doc

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, value in self.read().items():
            yield GaugeMetricFamily(f"{self.prefix}_{name}", f"{self.doc}: {name}", value=value)
