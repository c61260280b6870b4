"""pg_dump and pg_restore (Debian's postgresql-client): the PostgreSQL state DB in a backup.

The password never reaches a command line (other users of the machine can read
those): it goes to libpq in PGPASSWORD, and the URL passed on has none.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from gristops.runtime.process import run

TIMEOUT = 600.0


def split_password(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the environment that carries it."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, {}
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
    bare = urlunsplit((parts.scheme, f"{user}@{netloc}", parts.path, parts.query, ""))
    return bare, {"PGPASSWORD": unquote(parts.password)}


def dump(url: str, dest: Path) -> None:
    """The whole database at `url` into `dest`, in pg_dump's custom (compressed) format."""
    bare, env = split_password(url)
    run(
        ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={dest}",
         f"--dbname={bare}"],
        timeout=TIMEOUT, env=env, secrets=env.values(),
    )  # fmt: skip


def entries(path: Path) -> int:
    """How many objects a custom-format dump holds (pg_restore reads it whole to list them)."""
    listing = run(["pg_restore", "--list", str(path)], timeout=TIMEOUT).stdout
    return sum(1 for line in listing.splitlines() if line and not line.startswith(";"))
