"""The ACME client's failures before any CA answers: clear errors, a private account key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gristops.edge.tls.acme import AcmeClient
from gristops.errors import AcmeError
from tests.gateway_harness import free_port


def test_a_missing_account_key_is_created_private_and_an_unreachable_ca_is_named(
    tmp_path: Path,
) -> None:
    key = tmp_path / "tls" / "acme-account.key"
    url = f"https://127.0.0.1:{free_port()}/dir"  # nothing listens there
    with pytest.raises(AcmeError, match="reading the ACME directory") as caught:
        AcmeClient(url, key)
    assert url in caught.value.message
    assert "acme_directory_url" in caught.value.hint
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_bytes()
    with pytest.raises(AcmeError):
        AcmeClient(url, key)
    assert key.read_bytes() == first  # the account key is kept, not replaced


def test_a_damaged_account_key_is_reported_not_replaced(tmp_path: Path) -> None:
    key = tmp_path / "acme-account.key"
    key.write_text("not a key")
    with pytest.raises(AcmeError, match="cannot use the ACME account key"):
        AcmeClient("https://127.0.0.1:1/dir", key)
    assert key.read_text() == "not a key"
