"""Backup benchmark: a 200 MB document, gristops snapshots against baselines in the same run.

    python -m bench.backup [--mb 200]

Prints: snapshot throughput of `gristops backup run` (plain and age-encrypted)
against SQLite's backup API + zstd -3 (the CLI, or zstandard when it is
absent) and against restic on the same file; restore + verify time against
`restic restore`; size and time of a second snapshot of the unchanged file.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import shutil
import sqlite3
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import zstandard

from gristops.backup.configured_archives import open_archive
from gristops.backup.crypto import Keys
from gristops.backup.restore import restore_snapshot
from gristops.backup.run import run_backup
from gristops.config import Config, load_config
from gristops.errors import ExternalProgramError
from gristops.runtime.process import find_program, run
from gristops.state.db import StateDB

SHOP = Path(__file__).parent.parent / "tests" / "fixtures" / "grist" / "docs" / "Shop.grist"
WORDS = ["apple", "pear", "fig", "kiwi", "plum", "grape", "melon", "lime", "date", "mango"]


def make_document(path: Path, megabytes: int) -> None:
    shutil.copyfile(SHOP, path)
    rng = random.Random(42)
    with sqlite3.connect(path) as conn:
        while path.stat().st_size < megabytes << 20:
            rows = [
                (
                    " ".join(rng.choices(WORDS, k=3))
                    + " "
                    + "".join(rng.choices(string.ascii_letters, k=12)),
                    rng.choice(WORDS),
                    round(rng.uniform(0.1, 99.0), 2),
                    rng.randint(0, 500),
                    "".join(rng.choices(string.ascii_letters + " ", k=rng.randint(40, 160))),
                )
                for _ in range(20000)
            ]
            conn.executemany(
                "INSERT INTO Products (name, category, price, stock, photo) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            conn.commit()


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def pipeline(doc: Path, out: Path) -> None:
    """The baseline: SQLite's backup API to a file, then zstd -3 of that file."""
    copy = out / "copy.grist"
    src, dst = sqlite3.connect(doc), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    try:
        run(
            [find_program("zstd"), "-3", "-q", "-f", str(copy), "-o", str(out / "copy.zst")],
            timeout=600,
        )
    except ExternalProgramError:
        with copy.open("rb") as f, (out / "copy.zst").open("wb") as g:
            zstandard.ZstdCompressor(level=3).copy_stream(f, g)


def install(root: Path, doc: Path, backup_yaml: str) -> Config:
    (root / "data" / "docs").mkdir(parents=True)
    os.link(doc, root / "data" / "docs" / "Shop.grist")
    (root / "gristops.yaml").write_text(
        f"data_dir: data\ngrist: {{document_id: Shop}}\n{backup_yaml}"
    )
    return load_config(root / "gristops.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(
        prefix="bench-backup-", dir=os.environ.get("BENCH_DIR")
    ) as tmp:
        root = Path(tmp)
        doc = root / "Shop.grist"
        make_document(doc, args.mb)
        size = doc.stat().st_size
        mb = size / 1e6
        print(f"document: {mb:.0f} MB ({size} bytes)")

        (root / "pipe").mkdir()
        t_pipe = timed(lambda: pipeline(doc, root / "pipe"))
        print(
            f"baseline sqlite backup + zstd -3: {t_pipe:.2f} s ({mb / t_pipe:.0f} MB/s), "
            f"{(root / 'pipe' / 'copy.zst').stat().st_size / 1e6:.1f} MB"
        )

        env = {"RESTIC_PASSWORD": "bench-only", "RESTIC_REPOSITORY": str(root / "restic")}
        restic = find_program("restic")
        run([restic, "init", "-q"], env=env, timeout=60)
        t_restic = timed(lambda: run([restic, "backup", "-q", str(doc)], env=env, timeout=600))
        t_restic2 = timed(lambda: run([restic, "backup", "-q", str(doc)], env=env, timeout=600))
        print(
            f"restic backup: {t_restic:.2f} s ({mb / t_restic:.0f} MB/s); second: {t_restic2:.2f} s"
        )

        for label, yaml in (
            ("plain", ""),
            ("age", "backup: {encryption: {passphrase: bench-only}}\n"),
        ):
            config = install(root / label, doc, yaml)
            state = StateDB(config.state_path)
            first = timed(functools.partial(run_backup, config, state))
            start = time.perf_counter()
            second = run_backup(config, state)
            t_second = time.perf_counter() - start
            archive = open_archive(config, Keys.from_config(config.backup), "local")
            out = root / label / "restored"
            t_restore = timed(
                functools.partial(
                    restore_snapshot, config, state, archive, second.snapshot_id, to_dir=out
                )
            )
            print(
                f"gristops backup run ({label}): {first:.2f} s ({mb / first:.0f} MB/s) = "
                f"{t_pipe / first:.2f}x the baseline, {t_restic / first:.2f}x restic's speed; "
                f"second snapshot {t_second:.2f} s adding {second.outcomes[0].new_bytes} bytes "
                f"({100 * second.outcomes[0].new_bytes / size:.3f} % of the document); "
                f"restore + verify {t_restore:.2f} s"
            )
            state.close()

        target = root / "restic-out"
        t_rrestore = timed(
            lambda: run(
                [restic, "restore", "latest", "-q", "--target", str(target)], env=env, timeout=600
            )
        )
        print(f"restic restore: {t_rrestore:.2f} s")


if __name__ == "__main__":
    main()
