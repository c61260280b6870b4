"""Differential tests: each generated request goes to live Grist and through the gateway in every mode.

Hypothesis generates reads (filter / sort / limit / offset over every column
type, with empty, null and unicode values) and writes (add, update, upsert,
delete with values of every type, null, "", missing fields and wrong types).
Each request is sent to Grist directly and to the gateway on the embedded,
Grist-server and hybrid stores (tests/support/differential.py). The answers
and the resulting document states must be identical, except where
docs/gateway.md's table of differences says otherwise: `explain` names the
row of that table a mismatch falls under, and a mismatch no row explains
fails the test. Mismatches are collected, not shrunk, so one run reports
them all; generation is derandomized, so CI runs the same cases every time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.differential import (
    CHOICES,
    COLUMNS,
    DAY,
    SEED,
    TABLE,
    Answer,
    Bed,
    canonical,
    differential_bed,
)
from tests.support.grist_peer import GristPeer

pytestmark = [pytest.mark.integration, pytest.mark.grist_live]

READ_CASES = int(os.environ.get("DIFF_READS", 300))
WRITE_CASES = int(os.environ.get("DIFF_WRITES", 250))
GATEWAY_DOC = Path(__file__).parents[2] / "docs" / "gateway.md"
RECORDS = f"/api/docs/{{doc}}/tables/{TABLE}/records"

# -- what to generate -----------------------------------------------------------

TEXT = st.one_of(
    st.sampled_from(["", " ", "apple", "Apple", "Äpfel 🍎", "item 9", "zz", *CHOICES]),
    st.sampled_from(["12", "1.5", "-3", "true", "no", "2024-01-01", "2024-01-01T10:00:00Z"]),
    st.text(max_size=6),
)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    TEXT,
)
GOOD: dict[str, st.SearchStrategy[Any]] = {
    "Text": TEXT,
    "Numeric": st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, width=32)),
    "Int": st.integers(-(2**31), 2**31 - 1),
    "Bool": st.one_of(st.booleans(), st.none()),
    "Date": st.integers(-1000, 30000).map(lambda d: d * DAY),
    "DateTime:UTC": st.one_of(st.integers(-(10**9), 2 * 10**9), st.floats(0, 2e9, width=32)),
    "Choice": st.sampled_from(["", *CHOICES]),
    "ChoiceList": st.one_of(
        st.none(), st.lists(st.sampled_from(CHOICES), max_size=3).map(lambda v: ["L", *v])
    ),
    f"Ref:{TABLE}": st.integers(0, 9),
    f"RefList:{TABLE}": st.one_of(
        st.none(), st.lists(st.integers(1, 9), max_size=3).map(lambda v: ["L", *v])
    ),
    "Any": SCALAR,
}
WRONG = st.one_of(SCALAR, st.just(["L", "a"]), st.just({"x": 1}))


def value_for(column: str) -> st.SearchStrategy[Any]:
    return st.one_of(GOOD[COLUMNS[column]], WRONG)


def present(column: str) -> list[Any]:
    return [row[column] for row in SEED]


@st.composite
def fields(draw: st.DrawFn, columns: list[str] | None = None) -> dict[str, Any]:
    chosen = (
        columns
        if columns is not None
        else draw(st.lists(st.sampled_from(list(COLUMNS)), unique=True, max_size=4))
    )
    return {column: draw(value_for(column)) for column in chosen}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    offset: int = 0

    def kwargs(self) -> dict[str, Any]:
        return {"params": self.params, **({} if self.body is None else {"json": self.body})}


@st.composite
def reads(draw: st.DrawFn) -> Case:
    params: dict[str, str] = {}
    if draw(st.booleans()):
        columns = draw(
            st.lists(st.sampled_from(["id", *COLUMNS]), unique=True, min_size=1, max_size=2)
        )
        spec = {
            c: draw(
                st.lists(
                    st.one_of(st.sampled_from(present(c) if c != "id" else [1, 2, 9]), SCALAR),
                    max_size=3,
                )
            )
            for c in columns
        }
        params["filter"] = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    keys = draw(st.lists(st.sampled_from(["id", *COLUMNS]), unique=True, max_size=2))
    if keys:
        flags = st.sampled_from(["", "", ":emptyLast", ":naturalSort"])
        params["sort"] = ",".join(
            f"{draw(st.sampled_from(['', '-']))}{k}{draw(flags)}" for k in keys
        )
    if draw(st.booleans()):
        params["limit"] = str(draw(st.integers(0, 10)))
    if draw(st.booleans()):
        params["hidden"] = "true"
    if draw(st.integers(0, 4)) == 0:
        params["cellFormat"] = "typed"
    offset = draw(st.sampled_from([0, 0, 0, 1, 3]))
    return Case("GET", RECORDS, params, None, offset)


@st.composite
def writes(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["add", "update", "upsert", "delete"]))
    ids = st.integers(1, 12)
    if kind == "add":
        records = draw(st.lists(fields(), min_size=1, max_size=3))
        return Case("POST", RECORDS, {}, {"records": [{"fields": f} for f in records]})
    if kind == "update":
        columns = draw(
            st.lists(st.sampled_from(list(COLUMNS)), unique=True, min_size=1, max_size=3)
        )
        rows = draw(st.lists(ids, unique=True, min_size=1, max_size=2))
        records = [{"id": row, "fields": draw(fields(columns))} for row in rows]
        return Case("PATCH", RECORDS, {}, {"records": records})
    if kind == "upsert":
        require = draw(
            fields(
                draw(
                    st.lists(st.sampled_from(["t", "i", "c"]), unique=True, min_size=1, max_size=1)
                )
            )
        )
        record = {"require": require, "fields": draw(fields())}
        params = draw(
            st.sampled_from([{}, {}, {"noadd": "true"}, {"noupdate": "true"}, {"onmany": "all"}])
        )
        return Case("PUT", RECORDS, params, {"records": [record]})
    return Case("POST", RECORDS + "/delete", {}, draw(st.lists(ids, max_size=3)))


# -- documented differences -------------------------------------------------------

# Each key is a row of docs/gateway.md's table of differences (a phrase of its first cell).
DOCUMENTED = {
    "fit": "text that does not fit an Int, Numeric, Bool, Date, DateTime or Ref column",
    "lists": "lists or objects into Text/Choice/Any",
    "payload": "a body Grist's request schema refuses",
    "first": "a request with several faults",
    "noop": "`PATCH` of a row id that does not exist",
}


def _error(answer: Answer) -> str:
    return str(answer.body.get("error", "")) if isinstance(answer.body, dict) else ""


def explain(mode: str, grist: Answer, mine: Answer, unchanged: bool) -> str | None:
    """The documented difference this mismatch falls under, or None.

    `unchanged`: the gateway's document is as before the request (it wrote nothing).
    """
    if not unchanged or mine.status != 400:
        return None
    error = _error(mine)
    if grist.status == 400:
        if _error(grist) == error == "Invalid payload":
            return "payload"
        return "first" if mode == "embedded" else None
    if mode != "embedded" or grist.status != 200:
        return None
    if error.startswith("Invalid row id"):
        return "noop"
    if "Invalid value for column" in error:
        return "lists" if "is not text" in error else "fit"
    return None


# -- the tests ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bed(grist_peer: GristPeer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    with differential_bed(grist_peer, tmp_path_factory.mktemp("differential")) as bed:
        yield bed


@dataclass
class Mismatch:
    mode: str
    case: Case
    grist: Any
    gateway: Any

    def __str__(self) -> str:
        return (
            f"[{self.mode}] {self.case.method} {self.case.path} {self.case.params} "
            f"offset={self.case.offset} body={json.dumps(self.case.body, ensure_ascii=False)}\n"
            f"    grist:   {json.dumps(self.grist, ensure_ascii=False)[:400]}\n"
            f"    gateway: {json.dumps(self.gateway, ensure_ascii=False)[:400]}"
        )


def _report(mismatches: list[Mismatch], counts: dict[str, int], minimum: int) -> None:
    assert all(count >= minimum for count in counts.values()), counts
    shown = "\n".join(str(m) for m in mismatches[:15])
    assert not mismatches, f"{len(mismatches)} undocumented differences from Grist:\n{shown}"


def test_the_modes_start_from_the_same_document(bed: Bed) -> None:
    reference = bed.state(None)
    assert reference.status == 200 and len(reference.body["records"]) == len(SEED)
    for mode in bed.modes:
        assert bed.state(mode).same(reference), mode


def test_reads_answer_as_grist_in_every_mode(bed: Bed) -> None:
    mismatches: list[Mismatch] = []
    counts = dict.fromkeys(bed.modes, 0)

    @settings(max_examples=READ_CASES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=reads())
    def check(case: Case) -> None:
        params = dict(case.params)
        if case.offset:
            params.pop("limit", None)  # Grist has no offset: take everything, cut it here
        grist = bed.direct(case.method, case.path, params=params)
        if case.offset and grist.status == 200:
            limit = int(case.params.get("limit") or 0)
            rows = grist.body["records"][case.offset :]
            grist = Answer(200, {"records": rows[:limit] if limit else rows})
        for name, mode in bed.modes.items():
            counts[name] += 1
            params = {**case.params, **({"offset": str(case.offset)} if case.offset else {})}
            mine = mode.request(case.method, case.path, params=params)
            if not mine.same(grist):
                mismatches.append(
                    Mismatch(name, case, [grist.status, grist.body], [mine.status, mine.body])
                )

    check()
    _report(mismatches, counts, READ_CASES)


def test_writes_answer_and_store_as_grist_in_every_mode(bed: Bed) -> None:
    mismatches: list[Mismatch] = []
    counts = dict.fromkeys(bed.modes, 0)
    base = bed.state(None)
    explained: dict[str, int] = {}

    @settings(max_examples=WRITE_CASES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=writes())
    def check(case: Case) -> None:
        bed.reset(None)
        grist = bed.direct(case.method, case.path, **case.kwargs())
        grist_state = bed.state(None)
        if not grist_state.same(base):
            bed.dirty.add("direct")
        for name, mode in bed.modes.items():
            counts[name] += 1
            bed.reset(name)
            mine = mode.request(case.method, case.path, **case.kwargs())
            state = bed.state(name)
            if not state.same(base):
                bed.dirty.add(name)
            if mine.same(grist) and state.same(grist_state):
                continue
            why = explain(name, grist, mine, state.same(base))
            if why is not None:
                explained[why] = explained.get(why, 0) + 1
                continue
            mismatches.append(
                Mismatch(name, case, [grist.status, grist.body, _rows(grist_state)],
                         [mine.status, mine.body, _rows(state)])
            )  # fmt: skip

    check()
    _report(mismatches, counts, WRITE_CASES)


def _rows(state: Answer) -> Any:
    """The rows that differ from the seed (enough to see what a write did)."""
    if not isinstance(state.body, dict):
        return state.body
    seeded = {i + 1: canonical(row) for i, row in enumerate(SEED)}
    return [
        r
        for r in state.body.get("records", [])
        if seeded.get(r["id"]) != canonical({k: v for k, v in r["fields"].items() if k in COLUMNS})
    ]


def test_every_explanation_is_a_row_of_the_documented_differences() -> None:
    text = GATEWAY_DOC.read_text()
    for phrase in DOCUMENTED.values():
        assert phrase in text
