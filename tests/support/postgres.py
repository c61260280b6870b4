"""A throwaway PostgreSQL cluster (Debian's `postgresql`) for the state DB tests.

`postgres_cluster` is session-scoped: one cluster per pytest process (so one per
xdist worker), on a free port and a unix socket in its own folder, stopped at
the end. `postgres_url` gives each test a schema of its own in it, and
`state_location` parametrizes a test over both state engines.

PostgreSQL refuses to run as root: as root, initdb and the server run as the
`postgres` user (setpriv), in a folder that user owns.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from gristops.runtime.process import Service
from gristops.state.postgres import PostgresEngine
from tests.gateway_harness import free_port

USER = "gristops"


def find_bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


@dataclass
class Cluster:
    port: int
    password: str
    bin_dir: Path
    names: Iterator[int]
    log: Path

    def url(self, database: str = "postgres", schema: str | None = None) -> str:
        url = f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"
        return f"{url}?options=-csearch_path%3D{schema}" if schema else url

    def create_database(self) -> str:
        name = f"db_{next(self.names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name

    def create_schema(self) -> str:
        """A new schema: the state DB of one test (cheaper than a database of its own)."""
        name = f"state_{next(self.names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return name

    def drop_schema(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def _as_postgres(args: list[str]) -> list[str]:
    # setpriv execs the program (no parent left between us and it): signals reach postgres.
    as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    return [*as_user, *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: run make install-system")
        pytest.skip("PostgreSQL is not installed (make install-system)")
    with running_cluster(bin_dir) as cluster:
        yield cluster


@contextmanager
def running_cluster(bin_dir: Path, settings: tuple[str, ...] = ()) -> Iterator[Cluster]:
    """initdb a new cluster in a temporary folder, start it, and always stop and delete it.

    `settings`: more `name=value` server settings (e.g. log_statement=all)."""
    # Not under pytest's root-only temp folder: the postgres user must reach it.
    root = Path(tempfile.mkdtemp(prefix="gristops-pg-"))
    password = secrets.token_urlsafe(16)
    (root / "pw").write_text(password)
    (root / "socket").mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        for path in root.iterdir():
            shutil.chown(path, "postgres")
    data = root / "data"
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "scram-sha-256",
                      f"--pwfile={root / 'pw'}", "--no-sync", "-E", "UTF8", "--locale=C"]),
        check=True, capture_output=True,
    )  # fmt: skip
    (root / "pw").unlink()
    port = free_port()
    server = Service(
        "postgres",
        _as_postgres([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                      "-k", str(root / "socket"), "-c", "listen_addresses=127.0.0.1",
                      "-c", "fsync=off", "-c", "synchronous_commit=off",
                      "-c", "full_page_writes=off", "-c", "max_connections=200",
                      *(arg for setting in settings for arg in ("-c", setting))]),
        log_path=root / "postgres.log",
        stop_signal=signal.SIGINT,  # fast shutdown
    )  # fmt: skip
    cluster = Cluster(port, password, bin_dir, itertools.count(1), root / "postgres.log")

    def ready() -> bool:
        psycopg.connect(cluster.url(), connect_timeout=2).close()
        return True

    try:
        server.start(ready, timeout=60)
        yield cluster
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A postgresql:// URL of a new, empty state DB (a schema), dropped after the test.

    Every engine the test opens is kept here and closed after it: a pool left to the
    garbage collector may be collected in one of its own threads, which cannot join
    themselves (an unraisable exception)."""
    engines: list[PostgresEngine] = []
    opened = PostgresEngine.__init__

    def keep(engine: PostgresEngine, url: str) -> None:
        opened(engine, url)
        engines.append(engine)

    monkeypatch.setattr(PostgresEngine, "__init__", keep)
    name = postgres_cluster.create_schema()
    yield postgres_cluster.url(schema=name)
    for engine in engines:
        engine.close()
    postgres_cluster.drop_schema(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's state DB lives: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "data" / "state.db"
    url: str = request.getfixturevalue("postgres_url")
    return url
