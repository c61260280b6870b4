"""Contract test: schemathesis generates requests from the running gateway's own OpenAPI document.

Logged in as the admin, every generated request must get an answer that is
not a server error and that matches the documented status codes, content
types and response schemas. Generated document and table ids are mapped onto
the real `Shop` document and its tables, so the requests reach the store.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.gateway_harness import Gateway, copy_shop, running_gateway

pytestmark = pytest.mark.integration

TABLES = ("Products", "Orders", "Users", "Events", "Nope")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root: Path = tmp_path_factory.mktemp("contract")
    copy_shop(root)
    # Generated logins must not lock the admin out of the rest of the run. They are for
    # unknown emails, checked against a dummy hash of the configured cost: the lowest
    # allowed (this test is about the contract, not bcrypt).
    extra = (
        "auth: {max_failures_per_account: 100000, max_failures_per_client: 100000,"
        " bcrypt_rounds: 10}\n"
    )
    with running_gateway(root, extra=extra) as gw:
        yield gw


@pytest.fixture(scope="module")
def token(gateway: Gateway) -> str:
    return gateway.login("admin@shop.test", "Admin!2024")


@pytest.fixture(scope="module")
def api_schema(gateway: Gateway) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_gateway_honours_its_openapi_contract(
    case: schemathesis.Case, gateway: Gateway, token: str
) -> None:
    params = case.path_parameters or {}
    if "docId" in params:
        params["docId"] = "Shop"
    if "tableId" in params:
        params["tableId"] = TABLES[zlib.crc32(str(params["tableId"]).encode()) % len(TABLES)]
    case.call_and_validate(
        base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )
