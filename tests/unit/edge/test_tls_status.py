"""tls status, the TLS metrics and the tls_domains config: read from disk and the state DB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gristops.config import Config
from gristops.edge.layout import CertPaths
from gristops.edge.tls.certs import install, read_info
from gristops.edge.tls.metrics import metric_families
from gristops.edge.tls.records import TlsRecords
from gristops.edge.tls.selfsigned import ensure_selfsigned
from gristops.edge.tls.status import certificate_status
from gristops.state.db import StateDB
from tests.support.tls_chain import make_chain

DAY = dt.timedelta(days=1)


def make_config(tmp_path: Path, **edge: Any) -> Config:
    return Config.model_validate(
        {"data_dir": str(tmp_path / "data"), "grist": {"document_id": "Shop"}, "edge": edge}
    )


def samples(config: Config, state: StateDB) -> dict[str, dict[str, float]]:
    return {
        family.name: {s.labels["domain"]: s.value for s in family.samples}
        for family in metric_families(config, state)
    }


def test_domains_accept_names_or_lists_and_refuse_what_http01_cannot_validate(
    tmp_path: Path,
) -> None:
    config = make_config(
        tmp_path, tls_domains=["Shop.Example.com", ["api.example.com", "x.example.com"]]
    )
    assert config.edge.tls_domains == (("shop.example.com",), ("api.example.com", "x.example.com"))
    for bad, said in [
        (["*.example.com"], "not a host name"),
        (["192.0.2.1 x"], "not a host name"),
        (["a.example.com", "A.example.com"], "two certificates are named"),
    ]:
        with pytest.raises(ValidationError, match=said):
            make_config(tmp_path, tls_domains=bad)
    with pytest.raises(ValidationError, match="https://"):
        make_config(tmp_path, acme_directory_url="http://ca.example.com/dir")
    with pytest.raises(ValidationError):
        make_config(tmp_path, tls_renew_fraction=1.5)


def test_before_any_issue_the_self_signed_bootstrap_is_reported(tmp_path: Path) -> None:
    config = make_config(tmp_path, tls_domains=["shop.example.com"])
    state = StateDB(config.state_path)
    tls = config.data_dir.resolve() / "tls"
    ensure_selfsigned(tls / "selfsigned.crt", tls / "selfsigned.key", "_")
    found = {c.name: c for c in certificate_status(config, state)}
    assert found["shop.example.com"].info is None
    assert found["selfsigned.crt"].source == "self-signed"
    assert found["selfsigned.crt"].info is not None
    assert samples(config, state)["gristops_tls_certificate_expiry_timestamp_seconds"].keys() == {
        "selfsigned.crt"
    }


def test_an_issued_certificate_reports_days_left_issuer_renewal_and_metrics(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, tls_domains=["shop.example.com"])
    state = StateDB(config.state_path)
    start = dt.datetime.now(dt.UTC) - DAY
    chain = make_chain(("shop.example.com",), not_before=start, lifetime=6 * DAY, issuer_name="E7")
    paths = CertPaths.of(config, "shop.example.com")
    install(paths, chain.fullchain, chain.key)
    info = read_info(paths.fullchain)
    TlsRecords(state).issued(
        ("shop.example.com",), "https://ca.example/dir", "acct", info, "issued"
    )
    now = start + 4.5 * DAY
    [status] = certificate_status(config, state)
    shown = status.as_json(now)
    assert shown["issuer"] == "E7"
    assert shown["days_left"] == 1.5
    assert shown["renewal_due"] is True  # day 4.5 of 6: less than a third left
    assert shown["ca"] == "https://ca.example/dir"
    assert status.as_json(start + 3 * DAY)["renewal_due"] is False
    metrics = samples(config, state)
    expiry = metrics["gristops_tls_certificate_expiry_timestamp_seconds"]["shop.example.com"]
    assert expiry == info.not_after.timestamp()
    assert metrics["gristops_tls_certificate_lifetime_seconds"] == {"shop.example.com": 6 * 86400}


def test_a_failed_attempt_is_shown_and_the_issuing_record_is_kept(tmp_path: Path) -> None:
    config = make_config(tmp_path, tls_domains=["shop.example.com"])
    state = StateDB(config.state_path)
    chain = make_chain(("shop.example.com",))
    install(CertPaths.of(config, "shop.example.com"), chain.fullchain, chain.key)
    records = TlsRecords(state)
    info = read_info(CertPaths.of(config, "shop.example.com").fullchain)
    records.issued(("shop.example.com",), "https://ca.example/dir", "acct", info, "issued")
    records.failed(("shop.example.com",), "https://ca.example/dir", "challenge: 404")
    [status] = certificate_status(config, state)
    shown = status.as_json(dt.datetime.now(dt.UTC))
    assert shown["last_outcome"] == "failed"
    assert shown["last_error"] == "challenge: 404"
    record = records.get("shop.example.com")
    assert record is not None and record.serial == info.serial


def test_ari_advice_moves_the_renewal_date_earlier(tmp_path: Path) -> None:
    config = make_config(tmp_path, tls_domains=["shop.example.com"])
    state = StateDB(config.state_path)
    chain = make_chain(("shop.example.com",), lifetime=64 * DAY)
    paths = CertPaths.of(config, "shop.example.com")
    install(paths, chain.fullchain, chain.key)
    info = read_info(paths.fullchain)
    records = TlsRecords(state)
    records.issued(("shop.example.com",), "https://ca.example/dir", "acct", info, "issued")
    early = dt.datetime.now(dt.UTC) + 2 * DAY
    records.set_ari("shop.example.com", early.timestamp())
    [status] = certificate_status(config, state)
    assert status.renew_at == early
    ignoring = make_config(tmp_path, tls_domains=["shop.example.com"], acme_ari=False)
    [status] = certificate_status(ignoring, state)
    assert status.renew_at == info.renew_at(1 / 3)
