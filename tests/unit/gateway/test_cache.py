"""The response cache keeps to its size, and If-None-Match is read as HTTP says."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from starlette.requests import Request

from gristops.gateway.cache import ResponseCache, matches, request_etag


def _request(query: str = "", **headers: str) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/docs/Shop/tables/Products/records",
        "query_string": query.encode(),
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope)


def test_the_oldest_answers_go_first_and_the_size_stays_bounded() -> None:
    registry = CollectorRegistry()
    cache = ResponseCache(1000, registry)
    for n in range(5):
        cache.put(f'"{n}"', bytes(240))
    assert cache.get('"0"') is None  # evicted: 5 x 240 > 1000
    assert cache.get('"4"') == bytes(240)
    assert registry.get_sample_value("gristops_response_cache_evictions_total") == 1
    assert registry.get_sample_value("gristops_response_cache_bytes") == 960
    assert registry.get_sample_value("gristops_response_cache_hits_total") == 1
    assert registry.get_sample_value("gristops_response_cache_misses_total") == 1


def test_an_answer_over_a_quarter_of_the_cache_is_not_kept() -> None:
    cache = ResponseCache(1000, CollectorRegistry())
    cache.put('"big"', bytes(251))
    assert cache.get('"big"') is None


def test_etags_differ_by_version_query_user_and_role_but_not_parameter_order() -> None:
    base = request_etag(_request("limit=3&sort=-price"), "v1", 7, "user", b"")
    assert base == request_etag(_request("sort=-price&limit=3"), "v1", 7, "user", b"")
    assert base != request_etag(_request("limit=3&sort=-price"), "v2", 7, "user", b"")
    assert base != request_etag(_request("limit=4&sort=-price"), "v1", 7, "user", b"")
    assert base != request_etag(_request("limit=3&sort=-price"), "v1", 8, "user", b"")
    assert base != request_etag(_request("limit=3&sort=-price"), "v1", 7, "admin", b"")
    assert base != request_etag(
        _request("limit=3&sort=-price", x_sort="price"), "v1", 7, "user", b""
    )
    assert base != request_etag(_request("limit=3&sort=-price"), "v1", 7, "user", b"roles v2")
    ward = request_etag(_request("limit=3&sort=-price"), "v1", 7, "user", b"", "RowEq('ward', 'A')")
    assert ward not in (
        base,
        request_etag(_request("limit=3&sort=-price"), "v1", 7, "user", b"", "RowEq('ward', 'B')"),
    )


def test_if_none_match_lists_weak_tags_and_star() -> None:
    assert matches(_request(if_none_match='"a", W/"b"'), '"b"')
    assert matches(_request(if_none_match="*"), '"z"')
    assert not matches(_request(if_none_match='"a"'), '"b"')
    assert not matches(_request(), '"b"')


def test_a_repeated_parameter_in_another_order_is_another_etag() -> None:
    # The last value of a repeated parameter counts: `limit=3&limit=4` reads 4 rows.
    assert request_etag(_request("limit=3&limit=4"), "v1", 7, "user", b"") != request_etag(
        _request("limit=4&limit=3"), "v1", 7, "user", b""
    )
