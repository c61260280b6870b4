"""`gristops tls issue|renew|status`: the edge's ACME certificates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, err, load, out
from gristops.config import Config
from gristops.deploy.switch import current_target
from gristops.edge.layout import CertPaths
from gristops.edge.nginx import reload_edge
from gristops.edge.tls.renewal import CertificateManager, CertResult, raise_for_failures
from gristops.edge.tls.status import certificate_status
from gristops.errors import ConfigError
from gristops.observe.logging import configure_logging
from gristops.state.db import StateDB

app = typer.Typer(
    help="TLS certificates over ACME HTTP-01 (Let's Encrypt or any ACME CA).",
    no_args_is_help=True,
)
NamesArg = Annotated[
    list[str] | None,
    typer.Argument(help="Certificates to issue, by first name (default: all of edge.tls_domains)."),
]


def _load(path: Path) -> Config:
    cfg = load(path)
    configure_logging(cfg.log.level, cfg.log.json_lines)
    return cfg


def _need_domains(cfg: Config) -> None:
    if not cfg.edge.tls_domains:
        raise ConfigError(
            "edge.tls_domains is empty: there is no certificate to obtain",
            f"add your host names under edge: tls_domains: in {cfg.source_path or 'gristops.yaml'}",
        )


@contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[str], None]]:
    """A spinner naming the certificate being worked on (on stderr, gone when done)."""
    if quiet:
        yield lambda _name: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("", total=total)

        def step(name: str) -> None:
            progress.update(task, description=f"certificate {name}", advance=1)

        yield step


def _serving_hint(cfg: Config, results: list[CertResult]) -> None:
    """Say how to make nginx serve the first certificate when it is configured to serve another."""
    if cfg.edge.tls_certificate is None:
        return  # the edge serves the first issued certificate by itself
    served = cfg.edge.tls_certificate.resolve()
    first = cfg.edge.tls_domains[0][0]
    for r in results:
        paths = CertPaths.of(cfg, r.name)
        if r.name == first and r.result in ("issued", "renewed") and served != paths.fullchain:
            err.print(
                f"hint: nginx serves {served} (edge.tls_certificate); to serve "
                f"{r.name}, set edge.tls_certificate: {paths.fullchain} and "
                f"edge.tls_certificate_key: {paths.privkey}, then run `gristops edge reload`"
            )
            return


def _report(cfg: Config, results: list[CertResult], as_json: bool) -> None:
    if as_json:
        emit_json(
            [
                {
                    "name": r.name,
                    "result": r.result,
                    "detail": r.detail,
                    "not_after": r.not_after.isoformat() if r.not_after else None,
                }
                for r in results
            ]
        )
    else:
        for r in results:
            out.print(
                f"{r.name}: {r.result.upper() if r.result == 'failed' else r.result}, {r.detail}",
                markup=False,  # CA messages may hold brackets
            )
        counts = {
            kind: sum(r.result == kind for r in results)
            for kind in ("issued", "renewed", "not-due", "failed")
        }
        out.print(", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "nothing to do")
        _serving_hint(cfg, results)
    raise_for_failures(results)


@app.command("issue")
def issue(
    names: NamesArg = None, config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False
) -> None:
    """Obtain certificates now from edge.acme_directory_url, then reload a running nginx."""
    cfg = _load(config)
    _need_domains(cfg)
    known = {d[0] for d in cfg.edge.tls_domains}
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise ConfigError(
            f"not in edge.tls_domains: {', '.join(unknown)}",
            f"name a certificate by its first host name: {', '.join(sorted(known))}",
        )
    state = StateDB(cfg.state_location)
    manager = CertificateManager(cfg, state, lambda: reload_edge(cfg, *current_target(cfg, state)))
    with _progress(len(names or known), as_json) as step:
        results = manager.issue(tuple(names or ()), progress=step)
    _report(cfg, results, as_json)


@app.command("renew")
def renew(
    force: Annotated[
        bool, typer.Option("--force", help="Renew every certificate, due or not.")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    as_json: JsonOption = False,
) -> None:
    """Renew the certificates that are due, issue missing ones; ends with a summary.

    Due: a third of the lifetime left (edge.tls_renew_fraction), or the CA's ARI window.
    """
    cfg = _load(config)
    _need_domains(cfg)
    state = StateDB(cfg.state_location)
    manager = CertificateManager(cfg, state, lambda: reload_edge(cfg, *current_target(cfg, state)))
    with _progress(len(cfg.edge.tls_domains), as_json) as step:
        results = manager.renew(force=force, progress=step)
    _report(cfg, results, as_json)


@app.command("status")
def status(config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Each certificate: issuer, days left, when renewal is due, the last attempt."""
    cfg = _load(config)
    now = dt.datetime.now(dt.UTC)
    found = certificate_status(cfg, StateDB(cfg.state_location))
    if as_json:
        emit_json([c.as_json(now) for c in found])
        return
    if not found:
        out.print("no certificate yet (nginx makes a self-signed one at its first start)")
    for c in found:
        if c.info is None:
            out.print(f"{c.name} ({c.source}): {c.problem or 'not issued yet'}")
            continue
        days = c.days_left(now) or 0.0
        line = f"{c.name} ({c.source}): {days:.1f} days left, issuer {c.info.issuer}"
        if c.renew_at is not None:
            due = "due now" if now >= c.renew_at else f"due {c.renew_at:%Y-%m-%d %H:%M} UTC"
            line += f", renewal {due}"
        out.print(line)
        if c.record is not None and c.record.last_outcome == "failed":
            out.print(f"  last attempt failed: {c.record.last_error}", markup=False)
