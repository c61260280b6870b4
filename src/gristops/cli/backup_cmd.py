"""`gristops backup run|list|verify|restore|drill|prune|keygen`: snapshots and getting them back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from gristops.backup.archive import Archive
from gristops.backup.catalog import Catalog
from gristops.backup.configured_archives import open_archive, target_names
from gristops.backup.crypto import Keys, generate_identity
from gristops.backup.drill import drill as run_drill
from gristops.backup.manifest import snapshot_created
from gristops.backup.progress import Advance, Reporter, Silent
from gristops.backup.prune import prune as run_prune
from gristops.backup.restore import restore_snapshot
from gristops.backup.run import run_backup
from gristops.backup.verify import VerifyResult, resolve_snapshot, verify_snapshot
from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, err, load, out
from gristops.cli.replicate_cmd import restore_from_replica
from gristops.config import Config
from gristops.errors import BackupFailed, GristopsError, NotFound, SnapshotDamaged
from gristops.observe.logging import configure_logging
from gristops.state.db import StateDB

app = typer.Typer(
    help="Snapshots: back up, list, verify, restore, drill, prune.", no_args_is_help=True
)

TargetOption = Annotated[
    str | None, typer.Option("--target", "-t", help="Only this target (backup.targets name).")
]


class _Bars:
    """A Reporter drawing rich progress bars on stderr."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def task(self, label: str, total: int) -> Advance:
        task_id = self._progress.add_task(label, total=total)

        def advance(n: int) -> None:
            self._progress.advance(task_id, n)

        return advance


@contextmanager
def _reporter(quiet: bool) -> Iterator[Reporter]:
    if quiet:
        yield Silent()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        yield _Bars(progress)


def _age(created: float) -> str:
    seconds = max(0, int(time.time() - created))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _load(path: Path) -> Config:
    """The config, with logs on stderr so stdout stays clean for --json."""
    cfg = load(path)
    configure_logging(cfg.log.level, cfg.log.json_lines)
    return cfg


def _archive(config: Config, name: str) -> Archive:
    return open_archive(config, Keys.from_config(config.backup), name)


def _holding(config: Config, snapshot: str, target: str | None) -> tuple[Archive, str]:
    """The first target (or `target`) holding `snapshot`, and its resolved id."""
    last: GristopsError | None = None
    for name in target_names(config, target):
        archive = _archive(config, name)
        try:
            return archive, resolve_snapshot(archive, snapshot)
        except NotFound as exc:
            last = exc
    assert last is not None
    raise last


@app.command()
def run(
    target: TargetOption = None, config: ConfigOption = DEFAULT_CONFIG, json: JsonOption = False
) -> None:
    """Take a snapshot and store it on every target; a failing target does not stop the others."""
    cfg = _load(config)
    state = StateDB(cfg.state_location)
    with _reporter(json) as reporter:
        result = run_backup(cfg, state, target, reporter)
    if json:
        emit_json(
            {
                "snapshot": result.snapshot_id,
                "ok": result.ok,
                "targets": [o.__dict__ for o in result.outcomes],
            }
        )
    else:
        out.print(f"snapshot {result.snapshot_id}: {result.files} files")
        for o in result.outcomes:
            if o.ok:
                out.print(f"  {o.target}: ok, {_mb(o.new_bytes)} new of {_mb(o.size)}")
            else:
                out.print(f"  {o.target}: FAILED")
    failed = [o for o in result.outcomes if not o.ok]
    if failed:
        raise BackupFailed(
            "\n".join(f"target {o.target}: {o.error}" for o in failed),
            failed[0].hint or "fix the target; the other targets have the snapshot",
        )


def _listing(cfg: Config, state: StateDB) -> tuple[list[dict[str, Any]], dict[str, GristopsError]]:
    """Snapshots of every target, and the targets that could not be listed (the rest go on)."""
    catalog = Catalog(state)
    rows: dict[str, dict[str, Any]] = {}
    failed: dict[str, GristopsError] = {}
    for name in target_names(cfg):
        try:
            archive = _archive(cfg, name)
            snapshot_ids = archive.snapshot_ids()
        except GristopsError as exc:
            failed[name] = exc
            continue
        known = catalog.snapshots(name)
        for snapshot_id in snapshot_ids:
            size, new_bytes, verified = known.get(snapshot_id, (-1, -1, None))
            if size < 0:
                try:
                    manifest = archive.manifest(snapshot_id)
                    size, new_bytes = manifest.size, manifest.new_bytes
                except GristopsError:
                    size = new_bytes = -1
            row = rows.setdefault(
                snapshot_id,
                {"id": snapshot_id, "size": size, "new_bytes": 0, "targets": [], "verified": []},
            )
            row["new_bytes"] += max(new_bytes, 0)
            row["targets"].append(name)
            if verified:
                row["verified"].append(name)
    return [rows[k] for k in sorted(rows)], failed


@app.command("list")
def list_(config: ConfigOption = DEFAULT_CONFIG, json: JsonOption = False) -> None:
    """Every snapshot: id, age, size (new bytes / total), targets, verified or not."""
    cfg = _load(config)
    rows, failed = _listing(cfg, StateDB(cfg.state_location))
    for name, exc in failed.items():
        err.print(f"[yellow]warning:[/] target {name}: {exc.message}")
    if json:
        emit_json(rows)
        if failed:
            raise typer.Exit(1)
        return
    table = Table("snapshot", "age", "new / total", "targets", "verified")
    for r in rows:
        total = _mb(r["size"]) if r["size"] >= 0 else "?"
        table.add_row(
            r["id"],
            _age(snapshot_created(r["id"])),
            f"{_mb(r['new_bytes'])} / {total}",
            ", ".join(r["targets"]),
            ", ".join(r["verified"]) or "no",
        )
    out.print(table if rows else "no snapshots yet: run `gristops backup run`")
    if failed:
        raise GristopsError(
            f"{len(failed)} target(s) could not be listed: {', '.join(failed)}",
            "the snapshots above are from the targets that answered",
        )


@app.command()
def verify(
    snapshot: Annotated[str, typer.Argument(help="Snapshot id or 'latest'.")] = "latest",
    all_: Annotated[bool, typer.Option("--all", help="Verify every snapshot.")] = False,
    target: TargetOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    json: JsonOption = False,
) -> None:
    """Fetch, decrypt and check a snapshot: checksums, integrity_check, row counts."""
    cfg = _load(config)
    state = StateDB(cfg.state_location)
    results: list[VerifyResult] = []
    with _reporter(json) as reporter:
        for name in target_names(cfg, target):
            archive = _archive(cfg, name)
            ids = archive.snapshot_ids() if all_ else []
            if not all_:
                try:
                    ids = [resolve_snapshot(archive, snapshot)]
                except NotFound:
                    if target is not None or snapshot == "latest":
                        raise
                    continue
            results.extend(verify_snapshot(cfg, state, archive, i, reporter) for i in ids)
    if not results:
        raise NotFound(f"no target holds snapshot {snapshot}", "see `gristops backup list`")
    if json:
        emit_json([{**r.__dict__, "ok": r.ok} for r in results])
    else:
        for r in results:
            out.print(f"{r.snapshot_id} on {r.target}: {'ok' if r.ok else 'DAMAGED'}")
            for problem in r.problems:
                out.print(f"  {problem}")
    if not all(r.ok for r in results):
        bad = next(r for r in results if not r.ok)
        raise SnapshotDamaged(
            f"{sum(not r.ok for r in results)} snapshot(s) failed verification: {bad.problems[0]}",
            "restore refuses damaged snapshots; take a new backup and check the target's disk",
        )


@app.command()
def restore(
    snapshot: Annotated[
        str | None, typer.Argument(help="Snapshot id, or 'latest' (not with --point-in-time).")
    ] = None,
    doc: Annotated[list[str] | None, typer.Option("--doc", help="Only this document.")] = None,
    to: Annotated[
        Path | None, typer.Option("--to", help="Write files under DIR; touch nothing live.")
    ] = None,
    target: TargetOption = None,
    point_in_time: Annotated[
        str | None,
        typer.Option(
            "--point-in-time",
            help="From the continuous replica (gristops replicate) as of TIME, e.g. "
            "2026-05-01T12:00:00Z; needs --doc.",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Replace live documents without asking.")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    json: JsonOption = False,
) -> None:
    """Restore documents (verified first, swapped in atomically), or every file --to DIR.

    Replacing live documents asks first (the previous files are kept beside them).
    """
    cfg = _load(config)
    if snapshot is None or point_in_time is not None:
        restore_from_replica(
            cfg,
            snapshot,
            point_in_time,
            doc or [],
            to,
            json,
            confirm=lambda: _confirm_live_restore(cfg, doc or [], to, yes),
        )
        return
    state = StateDB(cfg.state_location)
    archive, snapshot_id = _holding(cfg, snapshot, target)
    _confirm_live_restore(cfg, doc or [], to, yes)
    with _reporter(json) as reporter:
        result = restore_snapshot(
            cfg, state, archive, snapshot_id, doc_ids=tuple(doc or ()), to_dir=to, reporter=reporter
        )
    if json:
        emit_json(
            {
                "snapshot": snapshot_id,
                "target": result.target,
                "files": [f.__dict__ for f in result.files],
            }
        )
        return
    out.print(f"restored snapshot {snapshot_id} from {result.target}:")
    for f in result.files:
        kept = f" (previous kept as {f.previous})" if f.previous else ""
        out.print(f"  {f.placed_at}{kept}")


def _confirm_live_restore(cfg: Config, docs: list[str], to: Path | None, yes: bool) -> None:
    """Ask before documents that exist are replaced; refuse when nobody says yes."""
    if to is not None or yes:
        return
    live = sorted(p.name for p in cfg.docs_dir.glob("*.grist") if not docs or p.stem in docs)
    if not live:
        return
    question = f"replace the live {', '.join(live)} in {cfg.docs_dir} with the restored copy?"
    try:
        replace = typer.confirm(question, default=False, err=True)
    except typer.Abort:  # no answer: stdin closed
        replace = False
    if not replace:
        raise GristopsError(
            "restore cancelled: the live documents are untouched",
            "pass --yes to restore without asking, or --to DIR to write the files elsewhere",
        )


@app.command()
def drill(
    target: TargetOption = None, config: ConfigOption = DEFAULT_CONFIG, json: JsonOption = False
) -> None:
    """Restore the latest snapshot to a scratch dir, verify, read every table; time it (RTO)."""
    cfg = _load(config)
    state = StateDB(cfg.state_location)
    name = target_names(cfg, target)[0]
    with _reporter(json) as reporter:
        result = run_drill(cfg, state, _archive(cfg, name), reporter)
    if json:
        emit_json(result.__dict__)
    elif result.ok:
        out.print(
            f"drill ok: snapshot {result.snapshot_id} from {result.target}: {result.documents}"
            f" documents, {result.tables} tables, {result.records} records read in"
            f" {result.seconds:.2f} s (measured RTO)"
        )
    if not result.ok:
        raise SnapshotDamaged(
            f"drill failed on target {name}: {result.error}", "run `gristops backup verify --all`"
        )


@app.command()
def prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    target: TargetOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    json: JsonOption = False,
) -> None:
    """Forget snapshots outside backup.retention and delete chunks nothing references."""
    cfg = _load(config)
    state = StateDB(cfg.state_location)
    results = [run_prune(cfg, state, _archive(cfg, n), dry_run) for n in target_names(cfg, target)]
    if json:
        emit_json([r.__dict__ for r in results])
        return
    verb = "would delete" if dry_run else "deleted"
    for r in results:
        out.print(
            f"{r.target}: keeps {len(r.kept)} snapshots; {verb} {len(r.deleted)} snapshots"
            f" and {r.chunks_deleted} chunks"
        )
        for snapshot_id in r.deleted:
            out.print(f"  {snapshot_id}")


@app.command()
def keygen(
    path: Annotated[
        Path | None, typer.Option("--out", help="Identity file (default data_dir/keys/backup.age).")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Make an age key pair for backup encryption; prints the public key (recipient)."""
    cfg = _load(config)
    dest = path or cfg.keys_dir / "backup.age"
    recipient = generate_identity(dest)
    out.print(f"wrote {dest} (0600): keep a copy off this host, it is needed to restore")
    out.print("add to gristops.yaml:")
    # markup=False: rich would take "[age1...]" for a style tag and drop it.
    out.print(
        f"backup:\n  encryption:\n    recipients: [{recipient}]\n    identity_file: {dest}",
        markup=False,
    )
