"""Certificates: a new one is installed only when it validates; renewal at a third of the lifetime."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest

from gristops.edge.tls.certs import (
    CertInfo,
    CertPaths,
    describe,
    install,
    load_chain,
    read_info,
    validate,
)
from gristops.edge.tls.renewal import renew_at
from gristops.errors import CertificateError
from tests.support.tls_chain import make_chain

DAY = dt.timedelta(days=1)


def test_a_good_chain_validates_and_describes_the_leaf() -> None:
    chain = make_chain(("shop.example.com", "www.shop.example.com"), issuer_name="R12")
    info = validate(chain.fullchain, chain.key, ("shop.example.com", "www.shop.example.com"))
    assert info.names == ("shop.example.com", "www.shop.example.com")
    assert info.issuer == "R12"
    assert info.lifetime == 6 * DAY


def test_a_key_of_another_certificate_is_refused() -> None:
    chain, other = make_chain(("a.example.com",)), make_chain(("a.example.com",))
    with pytest.raises(CertificateError, match="does not match its private key"):
        validate(chain.fullchain, other.key, ("a.example.com",))


def test_a_certificate_missing_a_requested_name_is_refused() -> None:
    chain = make_chain(("a.example.com",))
    with pytest.raises(CertificateError, match=r"does not cover www\.a\.example\.com"):
        validate(chain.fullchain, chain.key, ("a.example.com", "www.a.example.com"))


def test_an_expired_or_future_certificate_is_refused() -> None:
    old = make_chain(("a.example.com",), not_before=dt.datetime.now(dt.UTC) - 10 * DAY)
    with pytest.raises(CertificateError, match="not valid now"):
        validate(old.fullchain, old.key, ("a.example.com",))
    later = make_chain(("a.example.com",), not_before=dt.datetime.now(dt.UTC) + DAY)
    with pytest.raises(CertificateError, match="not valid now"):
        validate(later.fullchain, later.key, ("a.example.com",))


def test_a_chain_whose_intermediate_did_not_sign_the_leaf_is_refused() -> None:
    one, two = make_chain(("a.example.com",)), make_chain(("a.example.com",))
    leaf_of_one = one.fullchain.split(b"-----END CERTIFICATE-----\n")[0]
    intermediate_of_two = two.fullchain.split(b"-----END CERTIFICATE-----\n")[1]
    broken = (
        leaf_of_one
        + b"-----END CERTIFICATE-----\n"
        + intermediate_of_two
        + b"-----END CERTIFICATE-----\n"
    )
    with pytest.raises(CertificateError, match="chain is broken"):
        validate(broken, one.key, ("a.example.com",))


def test_garbage_is_refused_with_a_clear_message() -> None:
    chain = make_chain(("a.example.com",))
    with pytest.raises(CertificateError, match="no readable PEM certificate"):
        validate(b"<html>502 Bad Gateway</html>", chain.key, ("a.example.com",))


def test_install_replaces_the_pair_and_keeps_the_key_private(tmp_path: Path) -> None:
    paths = CertPaths(tmp_path / "tls" / "a.example.com")
    first, second = make_chain(("a.example.com",)), make_chain(("a.example.com",))
    install(paths, first.fullchain, first.key)
    install(paths, second.fullchain, second.key)
    assert paths.fullchain.read_bytes() == second.fullchain
    assert paths.privkey.read_bytes() == second.key
    assert stat.S_IMODE(paths.privkey.stat().st_mode) == 0o600
    assert sorted(p.name for p in paths.directory.iterdir()) == ["fullchain.pem", "privkey.pem"]
    assert read_info(paths.fullchain).names == ("a.example.com",)


@pytest.mark.parametrize(("days", "renew_on_day"), [(6, 4), (64, 64 * 2 / 3), (90, 60)])
def test_renewal_comes_when_a_third_of_the_lifetime_remains(days: int, renew_on_day: float) -> None:
    start = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    chain = make_chain(("a.example.com",), not_before=start, lifetime=days * DAY)
    info = read_info_from(chain.fullchain)
    assert renew_at(info, 1 / 3, None) == start + renew_on_day * DAY


def test_renewal_information_from_the_ca_wins_when_it_comes_first() -> None:
    start = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    info = read_info_from(
        make_chain(("a.example.com",), not_before=start, lifetime=64 * DAY).fullchain
    )
    early = start + 10 * DAY  # e.g. the CA revokes a batch and asks for early renewal
    assert renew_at(info, 1 / 3, early) == early
    assert renew_at(info, 1 / 3, start + 60 * DAY) == renew_at(info, 1 / 3, None)


def read_info_from(fullchain: bytes) -> CertInfo:
    return describe(load_chain(fullchain, "test")[0])
