"""Restore one document into a running Grist server, and prove Grist serves the restored content.

A Grist server holds each open document in memory and writes it back, so a
file swapped under it would be overwritten or ignored. Instead everything
goes through Grist's API:

1. the document Grist serves now is downloaded and kept
   (`data_dir/pre-restore/<docId>.<time>.grist`, 0600);
2. the verified file from the snapshot is uploaded as a temporary document in
   the same workspace;
3. `POST /api/docs/{docId}/replace {"sourceDocId": tmp}` makes Grist replace
   the document's content with it and reload it (its id, URL, access and
   history stay); the temporary document is deleted;
4. Grist is then asked for each user table's row count (`/sql`), which must
   equal the restored file's; otherwise the restore fails, naming the kept file.

This works whether or not the Grist server's files are on this host.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

from gristops.config import Config
from gristops.errors import GristopsError, NotFound, Unavailable

KEPT_DIR = "pre-restore"


class GristRestoreFailed(GristopsError):
    """Grist did not take, or does not serve, the restored document."""


def _table_counts(document: Path) -> dict[str, int]:
    """Rows per user table of a .grist file (read-only)."""
    with sqlite3.connect(f"{document.resolve().as_uri()}?mode=ro", uri=True) as db:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT tableId FROM _grist_Tables WHERE summarySourceTable = 0 ORDER BY id"
            )
        ]
        counts = {}
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            counts[table] = int(db.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])  # noqa: S608 - quoted id
    return counts


class _Grist:
    """The few Grist API calls a restore needs, with its errors turned into one-line ones."""

    def __init__(self, config: Config) -> None:
        self.base_url = str(config.grist.base_url)
        self.http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {config.grist_api_key()}"},
            timeout=max(config.grist.timeout, 60.0),
            trust_env=False,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"cannot reach the Grist server at {self.base_url}: {exc}",
                "check that Grist is running and grist.base_url is right; nothing was restored",
            ) from None
        if response.status_code == 404 and method == "GET":
            raise NotFound(
                f"the Grist server has no document {path.split('/')[3]}",
                "restore with --to DIR and upload the .grist file to Grist instead",
            )
        if response.is_error:
            raise GristRestoreFailed(
                f"Grist answered {method} {path} with HTTP {response.status_code}: "
                f"{response.text[:200]}",
                "check that the API key's user owns the document",
            )
        return response

    def close(self) -> None:
        self.http.close()


def restore_into_grist(config: Config, doc_id: str, restored: Path) -> Path:
    """Replace `doc_id` on the Grist server with `restored`; the kept previous file is returned."""
    counts = _table_counts(restored)
    grist = _Grist(config)
    try:
        info = grist.call("GET", f"/api/docs/{doc_id}").json()
        kept_dir = config.data_dir / KEPT_DIR
        kept_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        kept = kept_dir / f"{doc_id}.{time.strftime('%Y%m%dT%H%M%S')}.grist"
        kept.touch(mode=0o600)
        kept.write_bytes(grist.call("GET", f"/api/docs/{doc_id}/download").content)
        with restored.open("rb") as upload:
            files = {"upload": (f"{doc_id}-restore.grist", upload)}
            data = {"workspaceId": str(info["workspace"]["id"])}
            temporary = str(grist.call("POST", "/api/docs", data=data, files=files).json())
        try:
            grist.call("POST", f"/api/docs/{doc_id}/replace", json={"sourceDocId": temporary})
        finally:
            grist.call("DELETE", f"/api/docs/{temporary}")
        _check_served(grist, doc_id, counts, kept)
    finally:
        grist.close()
    return kept


def _check_served(grist: _Grist, doc_id: str, counts: dict[str, int], kept: Path) -> None:
    for table, expected in counts.items():
        quoted = '"' + table.replace('"', '""') + '"'
        body = {"sql": f"SELECT count(*) AS n FROM {quoted}"}  # noqa: S608 - quoted id
        answer = grist.call("POST", f"/api/docs/{doc_id}/sql", json=body).json()
        served = int(answer["records"][0]["fields"]["n"])
        if served != expected:
            raise GristRestoreFailed(
                f"after the restore Grist serves {served} rows of {doc_id}/{table}, "
                f"the snapshot holds {expected}",
                f"the document as it was before is kept in {kept}",
            )
