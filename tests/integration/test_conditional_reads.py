"""Conditional reads and the response cache on a running gateway: 304s, and never a stale answer.

Two real gateways serve the same documents folder: one with the response cache,
one without (`response_cache_bytes: 0`), which gives the uncached answer to
compare with. Writes come through the gateway, straight into the file from
another process (as a Grist server writing its own document does), and by a
restore that swaps the file for another one.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway_harness import Gateway, copy_shop, running_gateway

pytestmark = pytest.mark.integration

PRODUCTS = "/api/docs/Shop/tables/Products/records"
READS = [
    PRODUCTS,
    PRODUCTS + "?sort=-price&limit=3",
    PRODUCTS + '?filter={"category":["Fruit"]}',
    "/api/docs/Shop/tables/Products/records/1",
    "/api/docs/Shop/tables/Products/columns",
    "/api/docs/Shop/tables",
]
ADMIN = ("admin@shop.test", "Admin!2024")
ALICE = ("alice@shop.test", "alice-pass-1")


@dataclass
class Pair:
    cached: Gateway
    plain: Gateway
    cached_auth: dict[str, str]
    plain_auth: dict[str, str]

    @property
    def document(self) -> Path:
        return self.cached.dir / "data" / "docs" / "Shop.grist"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("cached")
    copy_shop(root)
    shutil.copyfile(root / "data/docs/Shop.grist", root / "pristine.grist")
    other = tmp_path_factory.mktemp("plain")
    (other / "data").mkdir()
    (other / "data" / "docs").symlink_to(root / "data" / "docs")
    with (
        running_gateway(root) as cached,
        running_gateway(other, extra="server: {response_cache_bytes: 0}\n") as plain,
    ):
        yield Pair(
            cached,
            plain,
            {"Authorization": f"Bearer {cached.login(*ADMIN)}"},
            {"Authorization": f"Bearer {plain.login(*ADMIN)}"},
        )


def test_a_current_etag_gets_304_with_no_body_from_httpx(pair: Pair) -> None:
    with pair.cached.client() as c:
        first = c.get(PRODUCTS, headers=pair.cached_auth)
        assert first.status_code == 200
        assert first.headers["cache-control"] == "private, no-cache"
        etag = first.headers["etag"]
        again = c.get(PRODUCTS, headers={**pair.cached_auth, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag


def test_a_current_etag_gets_304_from_curl(pair: Pair, tmp_path: Path) -> None:
    url = pair.cached.url + PRODUCTS
    auth = f"Authorization: {pair.cached_auth['Authorization']}"
    headers = tmp_path / "headers"
    body = subprocess.run(
        ["curl", "-sS", "-D", str(headers), "-H", auth, url], capture_output=True, check=True
    ).stdout
    assert json.loads(body)["records"]
    etag = next(
        line.split(":", 1)[1].strip()
        for line in headers.read_text().splitlines()
        if line.lower().startswith("etag:")
    )
    status = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
            "-H",
            auth,
            "-H",
            f"If-None-Match: {etag}",
            url,
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert status == "304 0"


def test_users_never_share_an_etag_or_a_cached_answer(pair: Pair) -> None:
    alice = {"Authorization": f"Bearer {pair.cached.login(*ALICE)}"}
    with pair.cached.client() as c:
        admin_read = c.get(PRODUCTS, headers=pair.cached_auth)
        alice_read = c.get(PRODUCTS, headers=alice)
        assert admin_read.headers["etag"] != alice_read.headers["etag"]
        # Alice presenting the admin's ETag is not told "not modified".
        probe = c.get(PRODUCTS, headers={**alice, "If-None-Match": admin_read.headers["etag"]})
        assert probe.status_code == 200
        assert probe.content == alice_read.content


def _read(gw: Gateway, auth: dict[str, str], path: str) -> tuple[int, object]:
    response = httpx.get(gw.url + path, headers=auth, timeout=30)
    return response.status_code, response.json()


def _write_through_gateway(pair: Pair, price: float) -> None:
    response = httpx.patch(
        pair.cached.url + PRODUCTS,
        headers=pair.cached_auth,
        json={"records": [{"id": 1, "fields": {"price": price}}]},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def _write_directly(pair: Pair, price: float) -> None:
    """Another process commits to the file, as a Grist server does to its documents."""
    with sqlite3.connect(pair.document, timeout=10) as db:
        db.execute("UPDATE Products SET price = ? WHERE id = 2", (price,))


def _restore(pair: Pair, price: float) -> None:
    """A restore: the file is replaced by another one (a new inode), as `backup restore` does."""
    staged = pair.document.with_name("staged.grist")
    shutil.copyfile(pair.cached.dir / "pristine.grist", staged)
    with sqlite3.connect(staged) as db:
        db.execute("UPDATE Products SET price = ? WHERE id = 3", (price,))
    staged.replace(pair.document)


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["read", "gateway", "direct", "restore"]),
        st.sampled_from(READS),
        st.floats(min_value=0, max_value=1000, allow_nan=False).map(lambda p: round(p, 2)),
    ),
    min_size=3,
    max_size=10,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_every_read_equals_an_uncached_read_at_the_same_moment(
    pair: Pair, steps: list[tuple[str, str, float]]
) -> None:
    writes = {"gateway": _write_through_gateway, "direct": _write_directly, "restore": _restore}
    etags: dict[str, str] = {}
    held: dict[str, tuple[int, object]] = {}
    for action, path, price in steps:
        if action in writes:
            writes[action](pair, price)
            continue
        with pair.cached.client() as c:
            conditional = {"If-None-Match": etags[path]} if path in etags else {}
            got = c.get(path, headers={**pair.cached_auth, **conditional})
        expected = _read(pair.plain, pair.plain_auth, path)
        if got.status_code == 304:
            # Only right if what the client holds is still the answer.
            assert expected == held[path]
        else:
            assert (got.status_code, got.json()) == expected
            held[path] = expected
            etags[path] = got.headers["etag"]
