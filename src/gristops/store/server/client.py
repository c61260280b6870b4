"""The HTTP door to a Grist server: one pooled client, limits, retries, breaker, errors.

Every request for a document goes through `GristClient.send`: it waits for a
slot of that document (Grist refuses more than 10 in flight with 429), asks
the circuit breaker, sends, and turns Grist's answers into gristops errors.
Idempotent requests are retried with jittered exponential backoff on
connection errors, timeouts, 502/503/504 and 429; writes never are, because a
write that timed out may still have been applied.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from gristops.config.model import GristSection
from gristops.errors import (
    BadRequest,
    ConfigError,
    GristopsError,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unavailable,
)
from gristops.store.server.breaker import CircuitBreaker
from gristops.store.server.limiter import DocLimiter

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# Statuses that say the server (or the proxy in front of it) is down, as opposed to
# Grist answering deliberately. Only these, timeouts and connection errors count
# against the breaker: a client asking for an unknown sort column (Grist: 500
# `unknown key x`) must not take the store down for everyone.
DOWN_STATUSES = frozenset({502, 503, 504})
BACKOFF_BASE = 0.1
BACKOFF_CAP = 2.0
MAX_RETRY_AFTER = 30.0


def doc_path(doc_id: str, *segments: str) -> str:
    """`/api/docs/{doc}/...` with every segment percent-encoded."""
    return "/".join(["/api/docs", *(quote(part, safe="") for part in (doc_id, *segments))])


def grist_message(response: httpx.Response) -> str:
    """Grist's own error text (`{"error": "..."}`), else the body or the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    text = response.text.strip()
    return text[:200] if text else response.reason_phrase


def _answered_deliberately(response: httpx.Response) -> bool:
    """True when Grist itself answered (even with an error), so the server is up."""
    if response.status_code in DOWN_STATUSES:
        return False
    if response.status_code < 500:
        return True
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("application/json")


def error_for_response(response: httpx.Response, doc_id: str) -> GristopsError:
    """The gristops error for a Grist error answer, carrying Grist's message unchanged."""
    status = response.status_code
    message = grist_message(response)
    if status in (401, 403):
        return Unavailable(
            f"Grist refused the gateway's API key: {message}",
            hint=f"Check grist.api_key (or grist.api_key_file): the key is wrong, revoked, "
            f"or its owner has no access to document {doc_id}.",
        )
    if status == 404:
        return NotFound(message, hint="Check the document, table and column ids (case-sensitive).")
    if status == 413:
        return PayloadTooLarge(
            message, hint="Send fewer or smaller records per request (Grist accepts up to 1 MB)."
        )
    if status == 429:
        return TooManyRequests(
            message,
            hint="Grist is throttling this document; try again shortly.",
            retry_after=max(1, round(_retry_after(response) or 1)),
        )
    if status < 500:
        return BadRequest(message, hint="Grist refused the request as sent; fix what it names.")
    if _answered_deliberately(response) and message.startswith("unknown key "):
        # Grist answers 500 for an unknown sort column: a client mistake, so 400 here.
        column = message.removeprefix("unknown key ")
        return BadRequest(
            f'Invalid sort: unknown column "{column}"',
            hint="sort names columns of the table, e.g. sort=-price,name",
        )
    if _answered_deliberately(response):
        return GristopsError(message, hint=f"Grist failed on this request (HTTP {status}).")
    return Unavailable(
        f"Grist server answered HTTP {status}: {message}",
        hint="Grist (or the proxy in front of it) is down or overloaded; check its logs.",
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


def backoff(attempt: int) -> float:
    """Delay before retry number `attempt` + 1: exponential, capped, half of it jittered."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt)
    # Jitter spreads the retries of many callers; it needs no cryptographic quality.
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311


class GristClient:
    """One pooled httpx client to one Grist server, shared by every document."""

    def __init__(
        self,
        settings: GristSection,
        api_key: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_breaker_change: Callable[[bool], None] | None = None,
    ) -> None:
        if settings.base_url is None:
            raise ConfigError(
                "grist.base_url is not set", hint="Set it to the Grist server's URL to use it."
            )
        self._settings = settings
        self._base_url = settings.base_url
        self._api_key = api_key
        self._client: httpx.AsyncClient | None = None
        self.limiter = DocLimiter(settings.max_parallel_per_doc)
        self.breaker = CircuitBreaker(
            "Grist server",
            settings.breaker_failures,
            settings.breaker_reset,
            clock,
            on_breaker_change,
        )

    def _http(self) -> httpx.AsyncClient:
        # Created on first use, so inside the event loop that will use it.
        if self._client is None:
            size = self._settings.max_parallel_per_doc
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                # Without a key, no header: Grist then answers as for an anonymous user.
                headers={"Authorization": f"Bearer {self._api_key}"} if self._api_key else {},
                timeout=httpx.Timeout(self._settings.timeout),
                # Room for a few documents at their full per-document parallelism.
                limits=httpx.Limits(max_connections=4 * size, max_keepalive_connections=size),
                # The key goes only to the configured server, never to a proxy from the env.
                trust_env=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def send(
        self,
        method: str,
        doc_id: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        idempotent: bool = False,
        accept: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send one request about `doc_id`; a 2xx answer (or one in `accept`) is returned.

        Anything else raises: Grist's 4xx as the matching gristops error, the
        server being down (or the circuit open) as Unavailable.
        """
        attempts = self._settings.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            outcome = await self._attempt(method, doc_id, path, params, body)
            status = outcome.status_code if isinstance(outcome, httpx.Response) else None
            retry = attempt + 1 < attempts and (status is None or status in RETRYABLE_STATUSES)
            if not retry:
                break
            asked = _retry_after(outcome) if isinstance(outcome, httpx.Response) else None
            delay = backoff(attempt) if asked is None else asked
            reason = outcome if isinstance(outcome, Unavailable) else f"HTTP {status}"
            log.warning(
                "Grist %s %s failed (%s); retry %d of %d in %.2fs",
                method,
                path,
                reason,
                attempt + 1,
                attempts - 1,
                delay,
            )
            await asyncio.sleep(delay)
        if isinstance(outcome, Unavailable):
            raise outcome
        if outcome.is_success or outcome.status_code in accept:
            return outcome
        raise error_for_response(outcome, doc_id)

    async def _attempt(
        self, method: str, doc_id: str, path: str, params: dict[str, str] | None, body: Any
    ) -> httpx.Response | Unavailable:
        """One try: the answer, or Unavailable when the server could not be reached.

        The try ends within grist.timeout, its wait for a slot included: a hung
        Grist holds every slot, and the calls queued behind them must not wait longer.
        """
        client = self._http()
        self.breaker.check()  # an open circuit fails fast, without queueing for a slot
        admitted = False
        try:
            async with asyncio.timeout(self._settings.timeout), self.limiter.slot(doc_id):
                # Asked again once a slot is free: the circuit may have opened meanwhile.
                self.breaker.admit()
                admitted = True
                response = await client.request(method, path, params=params, json=body)
        except (httpx.TimeoutException, TimeoutError):
            if admitted:
                self.breaker.failed()
            return Unavailable(
                f"Grist server at {self._base_url} did not answer {method} {path} "
                f"within {self._settings.timeout:g}s",
                hint="Grist is overloaded or down; check it, or raise grist.timeout.",
            )
        except httpx.TransportError as exc:
            self.breaker.failed()
            detail = str(exc) or type(exc).__name__
            return Unavailable(
                f"Cannot reach the Grist server at {self._base_url}: {detail}",
                hint="Check that Grist is running and that grist.base_url is right.",
            )
        except BaseException:
            if admitted:
                self.breaker.abandoned()
            raise
        if _answered_deliberately(response):
            self.breaker.succeeded()
        else:
            self.breaker.failed()
        return response
