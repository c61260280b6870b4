"""How Grist's answers become gristops errors, and how long a retry waits."""

from __future__ import annotations

import httpx
import pytest

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
from gristops.store.server.client import BACKOFF_CAP, GristClient, backoff, error_for_response


def answer(status: int, error: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": error}, headers=headers)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (404, NotFound),
        (405, BadRequest),
        (413, PayloadTooLarge),
        (429, TooManyRequests),
    ],
)
def test_grist_client_errors_keep_grists_message(status: int, kind: type[GristopsError]) -> None:
    error = error_for_response(answer(status, 'Table not found "Nope"'), "doc1")
    assert type(error) is kind
    assert error.message == 'Table not found "Nope"'
    assert error.hint


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_api_key_is_the_gateways_problem_not_the_clients(status: int) -> None:
    error = error_for_response(answer(status, "Bad request: invalid API key"), "doc1")
    assert type(error) is Unavailable
    assert "Bad request: invalid API key" in error.message
    assert "grist.api_key" in error.hint
    assert "doc1" in error.hint


def test_throttling_carries_grists_retry_after() -> None:
    error = error_for_response(answer(429, "Too many", **{"Retry-After": "7"}), "doc1")
    assert isinstance(error, TooManyRequests)
    assert error.retry_after == 7


def test_a_500_that_grist_explains_keeps_its_status_and_message() -> None:
    error = error_for_response(answer(500, "Cannot read properties of undefined"), "doc1")
    assert type(error) is GristopsError
    assert error.http_status == 500
    assert error.message == "Cannot read properties of undefined"


def test_grists_500_for_an_unknown_sort_column_is_a_400() -> None:
    error = error_for_response(answer(500, "unknown key nope"), "doc1")
    assert type(error) is BadRequest
    assert error.message == 'Invalid sort: unknown column "nope"'


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_that_is_down_is_unavailable(status: int) -> None:
    response = httpx.Response(status, text="<html>Bad Gateway</html>")
    error = error_for_response(response, "doc1")
    assert type(error) is Unavailable
    assert f"HTTP {status}" in error.message
    assert "Bad Gateway" in error.message


def test_an_empty_error_answer_is_named_by_its_reason() -> None:
    assert error_for_response(httpx.Response(404), "doc1").message == "Not Found"


def test_backoff_grows_and_stays_under_the_cap() -> None:
    delays = [backoff(attempt) for attempt in range(12)]
    assert all(0 < delay <= BACKOFF_CAP for delay in delays)
    assert backoff(0) <= backoff(5)


def test_a_client_needs_the_servers_url() -> None:
    with pytest.raises(ConfigError, match=r"grist\.base_url"):
        GristClient(GristSection(document_id="doc1"), "key")
