"""Pure ASGI middleware: request ids, one access-log line and RED metrics per request, body limit.

Pure ASGI rather than BaseHTTPMiddleware: no extra task per request, and
streamed bodies are counted as they arrive.
"""

from __future__ import annotations

import json
import re
import secrets
import time

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gristops.errors import PayloadTooLarge
from gristops.observe.logging import ACCESS
from gristops.observe.metrics import GatewayMetrics

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")  # a caller's X-Request-ID we accept as ours


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Give every request an id (X-Request-ID), time it, count it, and log one JSON line.

    `request_metrics` False: requests are neither counted nor timed (for measuring what
    that costs; the status page's request history needs them)."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: GatewayMetrics,
        access_log: bool = True,
        request_metrics: bool = True,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.request_metrics = request_metrics
        # The labelled series by (method, route, status): labels() takes a lock and builds
        # a key on every call, a measurable share of a cached answer's cost.
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def _count(self, method: str, template: str, status: int, duration: float) -> None:
        series = self._series.get((method, template, status))
        if series is None:
            series = (
                self.metrics.requests.labels(method, template, str(status)),
                self.metrics.request_duration.labels(method, template),
            )
            self._series[method, template, status] = series
        series[0].inc()
        series[1].observe(duration)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _CLIENT_ID.match(incoming) else secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - start
            route = scope.get("route")
            # Route templates keep label values bounded; unmatched paths share one label.
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            if self.request_metrics:
                self._count(method, template, status, duration)
            if self.access_log:
                ACCESS.write(
                    {
                        "method": method,
                        "route": template,
                        "status": status,
                        "duration_ms": round(duration * 1000, 2),
                        "user_id": scope["state"].get("user_id"),
                        "client": (scope.get("client") or ("-",))[0],
                        "request_id": request_id,
                    }
                )
            structlog.contextvars.unbind_contextvars("request_id")


# A refused body up to this size is read and dropped before the 413 goes out: a
# client that writes its whole body before reading (urllib, Dart's http) would
# otherwise see the connection reset instead of the answer. Past it, who sends
# that much gets the 413 at once and the connection closes.
DRAIN_BYTES = 16 << 20


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            if length.isdigit() and int(length) <= DRAIN_BYTES:
                await _drain(scope, receive, 0)
            await _refuse(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _drain(scope, receive, received)
                await _refuse(send)


class _BodyTooLarge(PayloadTooLarge):
    """Raised inside the app when the streamed body passes the limit."""

    def __init__(self) -> None:
        super().__init__("request entity too large", "send a smaller body, or split the records")


async def _drain(scope: Scope, receive: Receive, received: int) -> None:
    """Read and drop the rest of the body, up to DRAIN_BYTES in all.

    Not when the client asked `Expect: 100-continue`: it waits for our answer
    before it sends anything, and reading would invite the body.
    """
    if _header(scope, b"expect") is not None:
        return
    while received <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(send: Send) -> None:
    """The 413, closing the connection (what is left of the body is not read)."""
    data = json.dumps({"error": "request entity too large"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
