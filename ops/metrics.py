"""Prometheus metrics, one set per process (exposed at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("pitwall_http_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "pitwall_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
LIVE_CONNECTIONS = Gauge("pitwall_live_connections", "Open SSE and WebSocket connections", ["kind"])
EVENTS_PUBLISHED = Counter("pitwall_events_published_total", "Events appended to the live log", ["path"])
LIVE_MESSAGES = Counter("pitwall_live_messages_total", "Live messages queued to clients")
LIVE_WRITES = Counter(
    "pitwall_live_writes_total", "Writes of live messages to connections (busy boards share writes)"
)
LIVE_OVERFLOWS = Counter("pitwall_live_overflows_total", "Clients disconnected with reset for falling behind")
RELAY_LAG = Gauge("pitwall_relay_lag_seconds", "Age of the oldest committed event not yet in the live log")

# The series exist from the start, so a scrape of a fresh process reads 0 instead of finding nothing.
for connection_kind in ("sse", "ws"):
    LIVE_CONNECTIONS.labels(connection_kind)
for publish_path in ("commit", "relay"):
    EVENTS_PUBLISHED.labels(publish_path)
