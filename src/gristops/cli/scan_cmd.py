"""`gristops scan`: a security audit of this deployment, as a table, JSON or SARIF."""

from __future__ import annotations

import json
import os
import pwd
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, err, load, out
from gristops.cli.users_cmd import add_user, remove_user
from gristops.config import Config
from gristops.errors import BadRequest
from gristops.gateway.passwords import generate_password
from gristops.observe.logging import configure_logging
from gristops.scan.deployment import Target
from gristops.scan.findings import Severity
from gristops.scan.output import print_table, to_json
from gristops.scan.records import ScanRecords
from gristops.scan.run import FAMILIES, ScanOptions, all_rules, run_scan
from gristops.scan.sarif import to_sarif
from gristops.state.db import StateDB


class Format(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


class Level(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


@contextmanager
def throwaway_account(config: Config) -> Iterator[tuple[str, str]]:
    """A scan-only user with a random password, removed (and its logins revoked) afterwards."""
    email = f"gristops-scan-{secrets.token_hex(6)}@example.com"
    password = generate_password()
    role = next((r for r in sorted(config.roles) if r != "admin"), "admin")
    user_id = add_user(config, email, role, password)
    try:
        yield email, password
    finally:
        remove_user(config, user_id, "scan account removed")


def _service_uid(name: str | None) -> int:
    if name is None:
        return os.geteuid()
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise BadRequest(
            f"--service-user {name}: no such user", hint="name the user gristops runs as"
        ) from None


def scan(
    url: Annotated[
        str | None,
        typer.Option(help="The deployment's base URL, e.g. https://app.example.com (the edge)."),
    ] = None,
    output_format: Annotated[
        Format, typer.Option("--format", "-f", help="Output format.")
    ] = Format.table,
    fail_on: Annotated[
        Level, typer.Option(help="Exit 1 when a finding is at or above this severity.")
    ] = Level.high,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    ca_file: Annotated[
        Path | None, typer.Option(help="PEM CA to trust for --url (a private or test CA).")
    ] = None,
    advisories: Annotated[
        Path | None,
        typer.Option(
            help="Offline advisory DB: OSV's PyPI export (all.zip) or a folder of records."
        ),
    ] = None,
    outside_address: Annotated[
        str | None,
        typer.Option(help="Non-loopback address of this host to test private routes from."),
    ] = None,
    service_user: Annotated[
        str | None, typer.Option(help="User that must own secrets and data (default: you).")
    ] = None,
    skip: Annotated[
        list[str] | None, typer.Option(help=f"Check family to skip: {', '.join(FAMILIES)}.")
    ] = None,
    no_account: Annotated[
        bool, typer.Option("--no-account", help="Do not create the throwaway login account.")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Audit the config, file permissions, the running deployment (--url) and dependencies.

    Exit codes: 0 no finding at or above --fail-on, 1 some, 2 usage errors.
    """
    cfg = load(config)
    configure_logging(cfg.log.level, cfg.log.json_lines)  # to stderr: stdout is the report
    unknown = sorted(set(skip or ()) - set(FAMILIES))
    if unknown:
        raise BadRequest(f"--skip {unknown[0]}: no such check", hint=f"use {', '.join(FAMILIES)}")
    if url is not None and not url.startswith(("http://", "https://")):
        raise BadRequest(f"--url {url}: not an http(s) URL", hint="e.g. https://app.example.com")
    if ca_file is not None and not ca_file.is_file():
        raise BadRequest(f"--ca-file {ca_file}: no such file", hint="pass a PEM CA certificate")
    if advisories is not None and not advisories.exists():
        raise BadRequest(
            f"--advisories {advisories}: no such file or folder",
            hint="pass OSV's PyPI export (all.zip) or a folder of its .json records",
        )
    options = ScanOptions(
        target=Target(url, ca_file, outside_address) if url else None,
        advisories=advisories,
        service_uid=_service_uid(service_user),
        account=None if no_account else (lambda: throwaway_account(cfg)),
        skip=frozenset(skip or ()),
    )
    state = StateDB(cfg.state_location)
    try:
        with err.status("scanning") as status:
            report = run_scan(cfg, state, options, lambda name: status.update(f"scanning: {name}"))
        ScanRecords(state).record(report, url)
    finally:
        state.close()
    if output_format is Format.table and output is None:
        print_table(report, out)
    else:
        document = (
            to_sarif(report, all_rules()) if output_format is Format.sarif else to_json(report)
        )
        text = json.dumps(document, indent=2, sort_keys=output_format is Format.json)
        if output is None:
            typer.echo(text)
        else:
            output.write_text(text + "\n", encoding="utf-8")
            err.print(f"report written to {output}")
    if report.at_or_above(Severity.parse(fail_on.value)):
        raise typer.Exit(1)
