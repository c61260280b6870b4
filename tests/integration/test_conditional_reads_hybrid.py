"""The response cache in hybrid mode, beside a live grist-core: writes Grist makes on its own
(its API, as its UI does) are never hidden by a cached answer or a 304."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SHOP_GRIST
from tests.gateway_harness import Gateway, running_gateway
from tests.support.grist_peer import GristPeer

pytestmark = [pytest.mark.integration, pytest.mark.grist_live]

ADMIN = ("admin@shop.test", "Admin!2024")
READS = ["/tables/Products/records", "/tables/Products/records?sort=-price&limit=3"]


@pytest.fixture(scope="module")
def hybrid(
    grist_peer: GristPeer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, str, dict[str, str]]]:
    root: Path = tmp_path_factory.mktemp("hybrid-cache")
    doc = grist_peer.upload(SHOP_GRIST, "ShopCache")
    config = (
        f"grist:\n  document_id: {doc}\n{grist_peer.server_keys(root)}"
        f"  docs_dir: {grist_peer.docs_dir}\n"
    )
    with running_gateway(root, grist=config) as gateway:
        yield gateway, doc, {"Authorization": f"Bearer {gateway.login(*ADMIN)}"}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.booleans(), st.sampled_from(READS), st.integers(1, 999)),
        min_size=2,
        max_size=8,
    )
)
def test_reads_after_grist_writes_equal_what_grist_serves(
    grist_peer: GristPeer,
    hybrid: tuple[Gateway, str, dict[str, str]],
    steps: list[tuple[bool, str, int]],
) -> None:
    gateway, doc, auth = hybrid
    held: dict[str, tuple[str, object]] = {}
    for write, path, price in steps:
        if write:  # straight to Grist, not through the gateway
            grist_peer.call(
                "PATCH",
                f"/api/docs/{doc}/tables/Products/records",
                json={"records": [{"id": 1, "fields": {"price": price}}]},
            )
            continue
        url = f"{gateway.url}/api/docs/{doc}{path}"
        conditional = {"If-None-Match": held[path][0]} if path in held else {}
        got = httpx.get(url, headers={**auth, **conditional}, timeout=30)
        truth = grist_peer.call("GET", f"/api/docs/{doc}{path}")
        if got.status_code == 304:
            assert held[path][1] == truth  # what the client holds is still Grist's answer
        else:
            assert got.status_code == 200, got.text
            assert got.json() == truth
            held[path] = (got.headers["etag"], truth)
