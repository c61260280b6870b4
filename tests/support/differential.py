"""The differential test bed: one live Grist, one document, the gateway in every store mode.

The document is Shop.grist plus a `Kinds` table with a column of every type
(Text, Numeric, Int, Bool, Date, DateTime, Choice, ChoiceList, Ref, RefList,
Any) and rows holding empty, null and unicode values. It is built through
Grist's API, downloaded once, and then served four ways:

- `direct`: Grist itself (the reference);
- `grist`: the gateway on GristServerStore, on its own upload of the document;
- `hybrid`: the gateway on HybridStore (reads from that upload's file);
- `embedded`: the gateway on GristFileStore, on a copy of the downloaded file.

Resets are cheap: Grist documents get one bundle of actions, the
embedded copy is swapped for a fresh one (the store reopens a replaced file).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import SHOP_GRIST
from tests.gateway_harness import Gateway, running_gateway
from tests.support.grist_peer import GristPeer

TABLE = "Kinds"
ADMIN = ("admin@shop.test", "Admin!2024")
CHOICES = ["a", "b", "ü 🍎"]
COLUMNS: dict[str, str] = {
    "t": "Text",
    "n": "Numeric",
    "i": "Int",
    "b": "Bool",
    "d": "Date",
    "dt": "DateTime:UTC",
    "c": "Choice",
    "cl": "ChoiceList",
    "r": f"Ref:{TABLE}",
    "rl": f"RefList:{TABLE}",
    "any": "Any",
}
DAY = 86400
# Rows of Kinds, in API encoding: empty, null and unicode values in every column.
SEED: list[dict[str, Any]] = [
    {"t": "apple", "n": 1.5, "i": 1, "b": True, "d": 19723 * DAY, "dt": 1700000000,
     "c": "a", "cl": ["L", "a", "b"], "r": 2, "rl": ["L", 1, 2], "any": "x"},
    {"t": "", "n": 0, "i": 0, "b": False, "d": None, "dt": None,
     "c": "", "cl": None, "r": 0, "rl": None, "any": None},
    {"t": "Äpfel 🍎", "n": -2, "i": -5, "b": False, "d": 11016 * DAY, "dt": 0,
     "c": "ü 🍎", "cl": ["L", "ü 🍎"], "r": 1, "rl": ["L", 3], "any": 5},
    {"t": None, "n": None, "i": None, "b": False, "d": None, "dt": None,
     "c": None, "cl": None, "r": 0, "rl": None, "any": ""},
    {"t": "Apple", "n": 1.5, "i": 1, "b": True, "d": 19723 * DAY, "dt": 1700000000.5,
     "c": "b", "cl": ["L", "b"], "r": 4, "rl": ["L", 4, 1], "any": True},
    {"t": "item 10", "n": 1e9, "i": 2147483647, "b": True, "d": -DAY, "dt": -1,
     "c": "zz", "cl": ["L", "a"], "r": 6, "rl": None, "any": 2.5},
    {"t": "item 9", "n": 3.25, "i": -1, "b": False, "d": 0, "dt": 86399,
     "c": "a", "cl": ["L", "b", "a"], "r": 0, "rl": ["L", 6], "any": "apple"},
    {"t": "zebra", "n": 1e-3, "i": 7, "b": True, "d": 20000 * DAY, "dt": 1e9,
     "c": "b", "cl": None, "r": 3, "rl": ["L", 2], "any": None},
]  # fmt: skip


def canonical(value: Any) -> Any:
    """JSON values compared as a JavaScript client sees them: 15 == 15.0, true != 1."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return ("num", float(value)) if math.isfinite(value) else ("num", str(value))
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in sorted(value.items())}
    return value


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @staticmethod
    def of(response: httpx.Response) -> Answer:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, body)

    def same(self, other: Answer) -> bool:
        return self.status == other.status and canonical(self.body) == canonical(other.body)

    def ranked(self) -> Answer:
        """Records with `manualSort` replaced by its rank: the row order it gives, which
        is what users see. Its values are Grist's bookkeeping (a reset of the table
        leaves fractional positions), not data."""
        if not isinstance(self.body, dict) or "records" not in self.body:
            return self
        records = self.body["records"]
        order = sorted(
            range(len(records)),
            key=lambda i: (records[i]["fields"]["manualSort"], records[i]["id"]),
        )
        ranked = [dict(r, fields=dict(r["fields"])) for r in records]
        for rank, index in enumerate(order):
            ranked[index]["fields"]["manualSort"] = rank
        return Answer(self.status, {"records": ranked})


@dataclass
class Mode:
    """The gateway in one store mode, the document id it serves, and how to reset it."""

    name: str
    gateway: Gateway
    doc_id: str
    token: str
    grist_doc: str | None  # the Grist document behind it (None: embedded)
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.gateway.client(headers={"Authorization": f"Bearer {self.token}"})

    def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        return Answer.of(self.client.request(method, path.format(doc=self.doc_id), **kwargs))


@dataclass
class Bed:
    grist: GristPeer
    direct_doc: str
    base_file: Path
    base_rows: list[dict[str, Any]]
    modes: dict[str, Mode]
    embedded_file: Path
    dirty: set[str] = field(default_factory=set)
    ids: dict[str, list[int]] = field(default_factory=dict)  # row ids last seen, per document

    def direct(self, method: str, path: str, **kwargs: Any) -> Answer:
        return Answer.of(self.grist.request(method, path.format(doc=self.direct_doc), **kwargs))

    def state(self, mode: str | None) -> Answer:
        """All rows of Kinds (hidden columns too) as Grist, or the embedded store, holds them."""
        path = f"/api/docs/{{doc}}/tables/{TABLE}/records"
        params = {"hidden": "true"}
        if mode is None:
            answer = self.direct("GET", path, params=params)
        elif (grist_doc := self.modes[mode].grist_doc) is None:
            answer = self.modes[mode].request("GET", path, params=params)
        else:
            answer = Answer.of(self.grist.request("GET", path.format(doc=grist_doc), params=params))
        if answer.status == 200:
            self.ids[mode or "direct"] = [row["id"] for row in answer.body["records"]]
        return answer.ranked()

    def reset(self, which: str | None) -> None:
        """Kinds back to its seeded rows, for Grist itself (None) or one mode's document."""
        key = which or "direct"
        if key not in self.dirty:
            return
        self.dirty.discard(key)
        doc = self.direct_doc if which is None else self.modes[which].grist_doc
        if doc is None:
            fresh = self.embedded_file.with_suffix(".fresh")
            shutil.copyfile(self.base_file, fresh)
            os.replace(fresh, self.embedded_file)
            return
        ids = [row["id"] for row in self.base_rows]
        columns = {
            col: [row["fields"][col] for row in self.base_rows] for col in ["manualSort", *COLUMNS]
        }
        # Removed and added again with the seeded ids: ReplaceTableData would leave Grist's
        # lookup indexes stale (an upsert then "updates" row 0).
        self.grist.apply(
            doc,
            [["BulkRemoveRecord", TABLE, self.ids[key]], ["BulkAddRecord", TABLE, ids, columns]],
        )


def _build_document(grist: GristPeer) -> str:
    """Shop.grist uploaded, plus the Kinds table and its seeded rows."""
    doc = grist.upload(SHOP_GRIST, "Differential")
    choice = {"widgetOptions": json.dumps({"choices": CHOICES})}
    plain = [
        {"id": col, "fields": {"type": kind, **(choice if kind.startswith("Choice") else {})}}
        for col, kind in COLUMNS.items()
        if not kind.startswith(("Ref", "RefList"))
    ]
    grist.call(
        "POST", f"/api/docs/{doc}/tables", json={"tables": [{"id": TABLE, "columns": plain}]}
    )
    refs = [{"id": col, "fields": {"type": kind}} for col, kind in COLUMNS.items() if "Ref" in kind]
    grist.call("POST", f"/api/docs/{doc}/tables/{TABLE}/columns", json={"columns": refs})
    grist.call(
        "POST",
        f"/api/docs/{doc}/tables/{TABLE}/records",
        json={"records": [{"fields": r} for r in SEED]},
    )
    return doc


@contextmanager
def differential_bed(grist: GristPeer, root: Path) -> Iterator[Bed]:
    """Grist and the gateway in every mode on the same document; every gateway is stopped."""
    direct = _build_document(grist)
    base_file = root / "base.grist"
    base_file.write_bytes(grist.download(direct))
    base_rows = grist.call(
        "GET", f"/api/docs/{direct}/tables/{TABLE}/records", params={"hidden": "true"}
    )["records"]
    server = grist.server_keys(root)
    with ExitStack() as stack:
        modes: dict[str, Mode] = {}
        embedded_root = root / "embedded"
        (embedded_root / "data" / "docs").mkdir(parents=True)
        embedded_file = embedded_root / "data" / "docs" / "Differential.grist"
        shutil.copyfile(base_file, embedded_file)
        plans: list[tuple[str, Path, str, str, str | None]] = [
            (
                "embedded",
                embedded_root,
                "grist:\n  document_id: Differential\n",
                "Differential",
                None,
            ),
        ]
        for name in ("grist", "hybrid"):
            doc = grist.upload(base_file, f"Differential-{name}")
            folder = f"  docs_dir: {grist.docs_dir}\n" if name == "hybrid" else ""
            config = f"grist:\n  document_id: {doc}\n{server}{folder}"
            plans.append((name, root / name, config, doc, doc))
        for name, mode_root, config, doc, grist_doc in plans:
            mode_root.mkdir(exist_ok=True)
            gateway = stack.enter_context(running_gateway(mode_root, grist=config))
            modes[name] = Mode(name, gateway, doc, gateway.login(*ADMIN), grist_doc)
            stack.callback(modes[name].client.close)
        yield Bed(grist, direct, base_file, base_rows, modes, embedded_file)
