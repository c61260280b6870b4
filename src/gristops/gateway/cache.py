"""Conditional reads and a cache of serialized answers, never stale.

Every cacheable read (tables, columns, records) gets an ETag: a digest of the
document's version (see `Store.version`: it changes with every commit by any
process and with a restore), the request (path, query string, the X-Sort and
X-Limit headers), the caller (user id and role, which decide what rows and
columns they see) and the permissions of this configuration. `If-None-Match`
with the current ETag answers 304 without running the query. Answers are kept
serialized in a byte-bounded LRU keyed by the ETag, so a repeated read costs a
version check and a copy. A new version gives new keys: nothing is invalidated
by hand, so no write path (the gateway, a Grist server on the same file, a
restore) can be missed; old entries age out of the LRU.

A store that cannot tell its version (a Grist server over REST) is never cached.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Gauge

# Clients must revalidate on every use: they never show an answer the server did not confirm.
CACHE_CONTROL = "private, no-cache"


def request_etag(
    request: Request, version: str, user_id: int, role: str, salt: bytes, rule: str = ""
) -> str:
    """The strong ETag of this read of this document version by this user.

    `rule` is the caller's access rule with their values in place: a change of
    the user's own fields (kept in the users table, maybe in another document)
    changes the rows they see."""
    digest = hashlib.blake2b(salt, digest_size=16)
    scope = request.scope  # read directly: building request.url costs more than the digest
    query = scope["query_string"].decode("latin-1").split("&")
    for part in (
        version,
        scope["path"],
        # Sorted by name, so the order of parameters in the URL does not split the cache;
        # a stable sort keeps a repeated parameter's values in order (the last one counts).
        "&".join(sorted(query, key=lambda item: item.partition("=")[0])),
        request.headers.get("x-sort", ""),
        request.headers.get("x-limit", ""),
        str(user_id),
        role,
        rule,
    ):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return f'"{digest.hexdigest()}"'


def matches(request: Request, etag: str) -> bool:
    """True when the request's If-None-Match names `etag` (or is `*`)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in tags or "*" in tags


class ResponseCache:
    """Serialized answers by ETag, least recently used dropped first past `max_bytes`."""

    def __init__(self, max_bytes: int, registry: CollectorRegistry) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = Counter(
            "gristops_response_cache_hits", "Reads answered from the cache.", registry=registry
        )
        self.misses = Counter(
            "gristops_response_cache_misses",
            "Cacheable reads that ran the query.",
            registry=registry,
        )
        self.not_modified = Counter(
            "gristops_response_cache_not_modified",
            "Conditional reads answered 304 Not Modified.",
            registry=registry,
        )
        self.evictions = Counter(
            "gristops_response_cache_evictions",
            "Answers dropped from the cache to stay within its size.",
            registry=registry,
        )
        self.size = Gauge(
            "gristops_response_cache_bytes",
            "Bytes of answers held in the cache (of every live worker: each has its own).",
            registry=registry,
            multiprocess_mode="livesum",
        )

    def get(self, etag: str) -> bytes | None:
        with self._lock:
            body = self._items.get(etag)
            if body is not None:
                self._items.move_to_end(etag)
        (self.hits if body is not None else self.misses).inc()
        return body

    def put(self, etag: str, body: bytes) -> None:
        if len(body) > self.max_bytes // 4:  # one huge answer must not flush everything else
            return
        evicted = 0
        with self._lock:
            if etag in self._items:
                return
            self._items[etag] = body
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)
                evicted += 1
            held = self._bytes
        if evicted:
            self.evictions.inc(evicted)
        self.size.set(held)
