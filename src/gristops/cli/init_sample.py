"""The sample that `gristops init` writes: a small shop document and its gristops.yaml.

The document uses every column type the gateway serves (Text, Numeric, Int,
Bool, Date, DateTime, Choice, ChoiceList, Ref, RefList) and a Users table laid
out as the config's `auth.users_table_schema` expects.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from gristops.store.newdoc.document import ColumnSpec, TableSpec

USERS_TABLE = "Users"
ROLES = ("admin", "manager", "user")
_C = ColumnSpec

_SUPPLIERS = TableSpec(
    "Suppliers",
    (
        _C("name", "Text"),
        _C("country", "Choice", choices=("France", "Germany", "Spain", "USA")),
        _C("rating", "Numeric"),
        _C("preferred", "Bool"),
    ),
    rows=(
        {"name": "Fruits du Sud", "country": "France", "rating": 4.5, "preferred": True},
        {"name": "Bäckerei Müller", "country": "Germany", "rating": None},
        {"name": "Acme Tools", "country": "USA", "rating": 3.8},
    ),
)

_PRODUCTS = TableSpec(
    "Products",
    (
        _C("name", "Text"),
        _C("category", "Choice", choices=("Fruit", "Bakery", "Tools")),
        _C("price", "Numeric"),
        _C("stock", "Int"),
        _C("tags", "ChoiceList", choices=("fresh", "organic", "local", "new")),
        _C("released", "Date"),
        _C("updated", "DateTime:Europe/Paris"),
        _C("supplier", "Ref:Suppliers", visible_col="name"),
        _C("related", "RefList:Products"),
    ),
    rows=(
        {
            "name": "Apple",
            "category": "Fruit",
            "price": 1.2,
            "stock": 120,
            "tags": ["fresh", "local"],
            "released": date(2024, 3, 1),
            "updated": datetime(2024, 3, 1, 9, 30),
            "supplier": 1,
            "related": [2],
        },
        {
            "name": "Orange",
            "category": "Fruit",
            "price": 1.5,
            "stock": 0,
            "tags": ["fresh", "organic"],
            "released": date(2024, 4, 2),
            "updated": datetime(2024, 4, 2, 14, 0),
            "supplier": 1,
            "related": [1],
        },
        {
            "name": "Bretzel",
            "category": "Bakery",
            "price": 2.0,
            "stock": 35,
            "tags": ["new"],
            "released": date(2024, 5, 20),
            "updated": datetime(2024, 5, 20, 7, 15),
            "supplier": 2,
        },
        {
            "name": "Hammer",
            "category": "Tools",
            "price": 14.9,
            "stock": -2,
            "updated": datetime(2024, 6, 11, 17, 45),
            "supplier": 3,
        },
        {"name": "Gift card", "price": None, "stock": 10},
    ),
)

_ORDERS = TableSpec(
    "Orders",
    (
        _C("product", "Ref:Products", visible_col="name"),
        _C("user", "Ref:Users", visible_col="email"),
        _C("qty", "Int"),
        _C("ordered_at", "DateTime:UTC"),
        _C("paid", "Bool"),
        _C("note", "Text"),
    ),
    rows=(
        {
            "product": 1,
            "user": 1,
            "qty": 6,
            "ordered_at": datetime(2024, 3, 2, 10, 0, 5, tzinfo=UTC),
            "paid": True,
            "note": "first order",
        },
        {
            "product": 3,
            "user": 1,
            "qty": 2,
            "ordered_at": datetime(2024, 5, 21, 8, 30, tzinfo=UTC),
            "note": "pour le goûter",
        },
        {"product": 4, "user": 1, "qty": 1, "ordered_at": None, "paid": True},
    ),
)


def sample_tables(admin_email: str, admin_password_hash: str) -> list[TableSpec]:
    """The sample document's tables; the only user is an active admin."""
    users = TableSpec(
        USERS_TABLE,
        (
            _C("email", "Text"),
            _C("password_hash", "Text"),
            _C("role", "Choice", choices=ROLES),
            _C("active", "Bool"),
            _C("display_name", "Text"),
        ),
        rows=(
            {
                "email": admin_email,
                "password_hash": admin_password_hash,
                "role": "admin",
                "active": True,
                "display_name": "Admin",
            },
        ),
    )
    return [users, _SUPPLIERS, _PRODUCTS, _ORDERS]


_CONFIG = """\
# gristops.yaml written by `gristops init`. Every key: `gristops config sample`.
# Documents, state DB, keys and backups, relative to this file.
data_dir: "data"
grist:
  # No base_url: the embedded store serves data/docs/<document_id>.grist directly.
  document_id: {doc_id}
auth:
  users_table: "{users}"
  users_table_schema:
    email_field: "email"
    password_field: "password_hash"
    role_field: "role"
    active_field: "active"
  # Cost of the hashes gristops writes (`gristops users add|passwd`).
  bcrypt_rounds: 12
# Per role, per table id (or "*"): the allowed actions. Only admin sees {users}.
roles:
  admin:
    "*": ["read", "create", "update", "delete"]
  manager:
    "Suppliers": ["read", "create", "update"]
    "Products": ["read", "create", "update", "delete"]
    "Orders": ["read", "create", "update"]
  user:
    "Suppliers": ["read"]
    "Products": ["read"]
    "Orders": ["read", "create"]
server:
  # Loopback only: put nginx in front for TLS.
  host: "127.0.0.1"
  port: 8484
log:
  level: "info"
"""


def sample_config(doc_id: str) -> str:
    """The sample gristops.yaml for a document id (checked by DOC_ID_PATTERN)."""
    return _CONFIG.format(doc_id=json.dumps(doc_id), users=USERS_TABLE)
