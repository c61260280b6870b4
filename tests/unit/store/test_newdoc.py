"""A document written by create_document matches what Grist wrote for the same tables.

The recorded Shop.grist was built through Grist's REST API; rebuilding its six
tables from specs (and its rows, read back from the fixture) must give the
same SQLite schema, the same metadata rows (ids aside) and the same cells.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gristops.errors import BadRequest, GristopsError, NotFound
from gristops.store.coltypes import parse_type
from gristops.store.newdoc.document import ColumnSpec, TableSpec, create_document, insert_rows
from tests.conftest import SHOP_GRIST

C = ColumnSpec
SHOP_SPECS = (
    TableSpec(
        "Users",
        (
            C("email", "Text"),
            C("password_hash", "Text"),
            C("role", "Choice", choices=("admin", "manager", "user")),
            C("active", "Bool"),
            C("display_name", "Text"),
        ),
    ),
    TableSpec(
        "Suppliers",
        (
            C("name", "Text"),
            C("country", "Choice", choices=("France", "Germany", "Spain", "USA")),
            C("rating", "Numeric"),
        ),
    ),
    TableSpec(
        "Products",
        (
            C("name", "Text"),
            C(
                "category",
                "Choice",
                choices=("Fruit", "Vegetable", "Bakery", "Toys", "Tools", "Misc"),
            ),
            C("price", "Numeric"),
            C("stock", "Int"),
            C("tags", "ChoiceList", choices=("fresh", "organic", "local", "sweet", "new", "metal")),
            C("released", "Date"),
            C("updated", "DateTime:Europe/Paris"),
            C("supplier", "Ref:Suppliers", visible_col="name"),
            C("related", "RefList:Products"),
            C("photo", "Attachments"),
            C("in_stock", "Bool", formula="$stock > 0"),
            C("price_with_tax", "Numeric", formula="round($price * 1.2, 2) if $price else None"),
        ),
    ),
    TableSpec(
        "Orders",
        (
            C("product", "Ref:Products", visible_col="name"),
            C("user", "Ref:Users", visible_col="email"),
            C("qty", "Int"),
            C("ordered_at", "DateTime:UTC"),
            C("note", "Text"),
            C("total", "Numeric", formula="$qty * ($product.price or 0)"),
        ),
    ),
    TableSpec(
        "Stock_Moves",
        (
            C("Produit", "Ref:Products"),
            C("Quantite", "Int", label="Quantité"),
            C("Motif_du_mouvement", "Text", label="Motif du mouvement"),
        ),
        title="Stock Movés",
    ),
    TableSpec(
        "Events",
        (
            C("seq", "Int"),
            C("kind", "Choice", choices=("view", "click", "cart", "purchase", "refund")),
            C("at", "DateTime:UTC"),
            C("amount", "Numeric"),
            C("label", "Text"),
        ),
    ),
)
# Cells gristops cannot reproduce: attachments need their files, formulas Grist's engine.
NOT_COPIED = {"photo", "in_stock", "price_with_tax", "total"}
# Metadata tables whose rows record history or uploads, not the tables themselves.
HISTORY = {"_gristsys_ActionHistory", "_gristsys_Files", "_grist_Attachments"}


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    return conn


def decode(type_text: str, value: Any) -> Any:
    """A stored fixture cell back to the Python value create_document takes."""
    ctype = parse_type(type_text)
    if value is None:
        return None
    if ctype.base == "Bool":
        return bool(value)
    if ctype.base == "Date":
        return datetime.fromtimestamp(value, UTC).date()
    if ctype.base == "DateTime":
        return datetime.fromtimestamp(value, ZoneInfo(ctype.arg))
    if ctype.base in ("ChoiceList", "RefList"):
        return json.loads(value)
    return value


def fixture_rows(spec: TableSpec) -> tuple[dict[str, Any], ...]:
    kept = [c for c in spec.columns if c.col_id not in NOT_COPIED]
    with closing(connect(SHOP_GRIST)) as conn:
        rows = conn.execute(f'SELECT * FROM "{spec.table_id}" ORDER BY id').fetchall()
    return tuple({c.col_id: decode(c.type, row[c.col_id]) for c in kept} for row in rows)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rebuilt") / "Shop.grist"
    specs = [TableSpec(s.table_id, s.columns, fixture_rows(s), s.title) for s in SHOP_SPECS]
    create_document(path, specs)
    return path


def schema(path: Path) -> list[tuple[str, str, str | None]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY rowid").fetchall()


def test_same_sqlite_schema_and_pragmas(rebuilt: Path) -> None:
    assert schema(rebuilt) == schema(SHOP_GRIST)
    pragmas = ("user_version", "journal_mode", "page_size", "encoding")
    with closing(sqlite3.connect(rebuilt)) as ours, closing(sqlite3.connect(SHOP_GRIST)) as grist:
        for pragma in pragmas:
            assert (
                ours.execute(f"PRAGMA {pragma}").fetchone()
                == grist.execute(f"PRAGMA {pragma}").fetchone()
            )


def test_doc_info_says_schema_46_and_the_timezone(rebuilt: Path) -> None:
    with closing(connect(rebuilt)) as ours, closing(connect(SHOP_GRIST)) as grist:
        mine, theirs = (
            dict(c.execute("SELECT * FROM _grist_DocInfo").fetchone()) for c in (ours, grist)
        )
    settings = json.loads(theirs.pop("documentSettings"))
    settings.pop("baseAction")  # names the last action of the recorded history
    assert json.loads(mine.pop("documentSettings")) == settings
    assert mine == theirs


def describe(path: Path) -> dict[str, Any]:
    """Every metadata row with row ids replaced by what they point at (ids differ between docs)."""
    with closing(connect(path)) as conn:

        def rows(table: str, order: str = "id") -> list[dict[str, Any]]:
            return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]

        tables = {t["id"]: t["tableId"] for t in rows("_grist_Tables")}
        cols = {
            c["id"]: f"{tables[c['parentId']]}.{c['colId']}" for c in rows("_grist_Tables_column")
        }
        views = {v["id"]: v["name"] for v in rows("_grist_Views")}
        sections = {s["id"]: s for s in rows("_grist_Views_section")}

        def section(ref: int) -> dict[str, Any]:
            found = dict(sections[ref], tableRef=tables[sections[ref]["tableRef"]])
            found["parentId"] = views.get(found["parentId"], 0)
            found["fields"] = [
                dict(f, parentId=None, parentPos=None, id=None, colRef=cols[f["colRef"]])
                for f in rows("_grist_Views_section_field", "parentPos")
                if f["parentId"] == ref
            ]
            return {k: v for k, v in found.items() if k != "id"}

        described: dict[str, Any] = {
            "tables": [
                dict(
                    t,
                    id=None,
                    primaryViewId=views[t["primaryViewId"]],
                    rawViewSectionRef=section(t["rawViewSectionRef"]),
                    recordCardViewSectionRef=section(t["recordCardViewSectionRef"]),
                    primarySections=[
                        section(s)
                        for s in sections
                        if sections[s]["parentId"] == t["primaryViewId"]
                    ],
                )
                for t in rows("_grist_Tables")
            ],
            "columns": {
                cols[c["id"]]: dict(
                    c,
                    id=None,
                    parentPos=None,
                    parentId=tables[c["parentId"]],
                    visibleCol=cols.get(c["visibleCol"], 0),
                    displayCol=cols.get(c["displayCol"], 0),
                )
                for c in rows("_grist_Tables_column")
            },
            "column_order": [
                cols[c["id"]] for c in rows("_grist_Tables_column", "parentId, parentPos")
            ],
            "views": [dict(v, id=None) for v in rows("_grist_Views")],
            "pages": [
                dict(p, id=None, viewRef=views[p["viewRef"]])
                for p in rows("_grist_Pages", "pagePos")
            ],
            "tabs": [
                dict(t, id=None, viewRef=views[t["viewRef"]])
                for t in rows("_grist_TabBar", "tabPos")
            ],
            "branches": [b["name"] for b in rows("_gristsys_ActionHistoryBranch")],
        }
        done = {"_grist_Tables", "_grist_Tables_column", "_grist_Views", "_grist_Views_section"}
        done |= {"_grist_Views_section_field", "_grist_Pages", "_grist_TabBar", "_grist_DocInfo"}
        done |= {"_gristsys_ActionHistoryBranch"} | HISTORY
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_grist%' ESCAPE '\\'"
        ):
            if name not in done:
                described[name] = rows(name)
    return described


def test_metadata_rows_match_grist(rebuilt: Path) -> None:
    ours, grist = describe(rebuilt), describe(SHOP_GRIST)
    assert ours.keys() == grist.keys()
    for key in grist:
        assert ours[key] == grist[key], key


def test_cells_are_stored_as_grist_stores_them(rebuilt: Path) -> None:
    """Data cells and the display helpers (`$supplier.name`...) hold Grist's stored values."""
    for spec in SHOP_SPECS:
        names = ["id", "manualSort"] + [
            c.col_id for c in spec.columns if c.col_id not in NOT_COPIED
        ]
        shown = sum(1 for c in spec.columns if c.visible_col)
        names += [f"gristHelper_Display{n if n > 1 else ''}" for n in range(1, shown + 1)]
        select = ", ".join(f'quote("{n}")' for n in names)
        sql = f'SELECT {select} FROM "{spec.table_id}" ORDER BY id'
        with (
            closing(sqlite3.connect(rebuilt)) as ours,
            closing(sqlite3.connect(SHOP_GRIST)) as grist,
        ):
            assert ours.execute(sql).fetchall() == grist.execute(sql).fetchall(), spec.table_id


SHOP_LITE = (
    TableSpec("Suppliers", (C("name", "Text"), C("active", "Bool"))),
    TableSpec(
        "Products",
        (
            C("name", "Text"),
            C("price", "Numeric"),
            C("released", "Date"),
            C("updated", "DateTime:Europe/Paris"),
            C("tags", "ChoiceList", choices=("fresh", "new")),
            C("supplier", "Ref:Suppliers", visible_col="name"),
            C("related", "RefList:Products"),
            C("in_stock", "Bool", formula="$price > 0"),
        ),
    ),
)


@pytest.fixture
def lite(tmp_path: Path) -> Path:
    path = tmp_path / "Lite.grist"
    create_document(path, SHOP_LITE, timezone="Europe/Paris")
    return path


def cells(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def test_new_document_is_private_and_alone_in_its_directory(lite: Path) -> None:
    assert stat.S_IMODE(os.stat(lite).st_mode) == 0o600
    assert os.listdir(lite.parent) == ["Lite.grist"]
    assert cells(lite, "SELECT timezone FROM _grist_DocInfo") == [("Europe/Paris",)]


def test_an_existing_document_is_not_replaced(lite: Path) -> None:
    before = lite.read_bytes()
    with pytest.raises(GristopsError, match="already exists") as caught:
        create_document(lite, SHOP_LITE[:1])
    assert caught.value.hint
    assert lite.read_bytes() == before
    assert os.listdir(lite.parent) == ["Lite.grist"]


def test_overwrite_replaces_the_document(lite: Path) -> None:
    create_document(lite, SHOP_LITE[:1], overwrite=True)
    assert cells(lite, "SELECT tableId FROM _grist_Tables") == [("Suppliers",)]


def test_rows_are_encoded_like_grist(lite: Path) -> None:
    insert_rows(lite, "Suppliers", [{"name": "Acme", "active": True}, {"name": "Zed"}])
    ids = insert_rows(
        lite,
        "Products",
        [
            {
                "name": "Apple",
                "price": 1.5,
                "released": date(2024, 3, 1),
                "updated": datetime(2024, 3, 1, 9, 30),  # wall clock in the column's zone
                "tags": ["fresh", "new"],
                "supplier": 2,
                "related": [1],
            },
            {"name": "Pear", "updated": datetime(2024, 3, 1, 8, 30, tzinfo=UTC), "tags": []},
            {},
        ],
    )
    assert ids == [1, 2, 3]
    assert cells(lite, "SELECT id, manualSort, active FROM Suppliers") == [(1, 1, 1), (2, 2, 0)]
    columns = "id, manualSort, name, price, released, updated, tags, supplier, related, in_stock"
    assert cells(lite, f"SELECT {columns}, gristHelper_Display FROM Products") == [
        (1, 1, "Apple", 1.5, 1709251200, 1709281800, '["fresh","new"]', 2, "[1]", None, "Zed"),
        (2, 2, "Pear", 0, None, 1709281800, None, 0, None, None, ""),
        (3, 3, "", 0, None, None, None, 0, None, None, ""),
    ]


def test_display_helpers_follow_rows_added_to_the_shown_table(lite: Path) -> None:
    insert_rows(lite, "Products", [{"name": "Hammer", "supplier": 1}])
    assert cells(lite, "SELECT gristHelper_Display FROM Products") == [("",)]
    insert_rows(lite, "Suppliers", [{"name": "Acme Tools"}])
    assert cells(lite, "SELECT gristHelper_Display FROM Products") == [("Acme Tools",)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"nmae": "typo"}, 'Invalid column "nmae"'),
        ({"in_stock": True}, "formula column"),
        ({"manualSort": 3}, 'Invalid column "manualSort"'),
        ({"price": "cheap"}, "does not fit a Numeric column"),
        ({"released": datetime(2024, 1, 1, tzinfo=UTC)}, "does not fit a Date column"),
        ({"supplier": -1}, "row ids are positive"),
        ({"tags": "fresh"}, "does not fit a ChoiceList column"),
    ],
)
def test_a_bad_row_adds_nothing(lite: Path, row: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=message) as caught:
        insert_rows(lite, "Products", [{"name": "fine"}, row])
    assert caught.value.hint
    assert cells(lite, "SELECT count(*) FROM Products") == [(0,)]


def test_unknown_table_or_document_is_not_found(lite: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match='Table not found "products"'):
        insert_rows(lite, "products", [{"name": "x"}])
    with pytest.raises(NotFound, match="document not found"):
        insert_rows(tmp_path / "Missing.grist", "Products", [{"name": "x"}])
    assert not (tmp_path / "Missing.grist").exists()


def test_a_file_that_is_not_a_document_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.grist"
    other.write_text("hello")
    with pytest.raises(GristopsError, match="not a readable Grist document"):
        insert_rows(other, "Products", [{"name": "x"}])


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ((TableSpec("products", ()),), "not a valid Grist id"),
        ((TableSpec("None", ()),), "not a valid Grist id"),
        ((TableSpec("A", ()), TableSpec("a", ())), "appears twice"),
        ((TableSpec("A", (C("x", "Text"), C("X", "Int"))),), "appears twice"),
        ((TableSpec("A", (C("manualSort", "Int"),)),), "reserved"),
        ((TableSpec("A", (C("gristHelper_Display", "Any"),)),), "reserved"),
        ((TableSpec("A", (C("1st", "Int"),)),), "not a valid Grist id"),
        ((TableSpec("A", (C("b", "Ref:B"),)),), "refers to no table"),
        ((TableSpec("A", (C("b", "Text", choices=("x",)),)),), "only Choice and ChoiceList"),
        ((TableSpec("A", (C("b", "RefList:A", visible_col="b"),)),), "only Ref columns"),
        ((TableSpec("A", (C("b", "Ref:A", visible_col="nope"),)),), "no column 'nope'"),
        ((TableSpec("A", (C("b", "Int", formula=" "),)),), "formula is empty"),
        ((TableSpec("A", (C("b", "Money"),)),), "unsupported column type"),
        ((TableSpec("A", (C("b", "DateTime"),)),), "unsupported column type"),
        ((TableSpec("A", (C("b", "DateTime:Mars/Olympus"),)),), "unknown time zone"),
    ],
)
def test_specs_grist_would_not_keep_are_refused(
    tmp_path: Path, tables: tuple[TableSpec, ...], message: str
) -> None:
    with pytest.raises(BadRequest, match=message):
        create_document(tmp_path / "Bad.grist", tables)
    assert os.listdir(tmp_path) == []


def test_a_bad_initial_row_leaves_no_file(tmp_path: Path) -> None:
    table = TableSpec("A", (C("n", "Int"),), rows=({"n": 1}, {"n": "two"}))
    with pytest.raises(BadRequest, match=r"A\.n: 'two' does not fit an? Int column"):
        create_document(tmp_path / "A.grist", [table])
    assert os.listdir(tmp_path) == []


def test_missing_directory_or_bad_timezone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GristopsError, match="no such directory"):
        create_document(tmp_path / "nope" / "A.grist", [])
    with pytest.raises(BadRequest, match="unknown time zone"):
        create_document(tmp_path / "A.grist", [], timezone="Nowhere/Town")
