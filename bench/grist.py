"""Live Grist against the gateway in every store mode, on one 10,000-row query and one write.

    python bench/grist.py [--seconds 10] [--clients 20,100] [--patches 50]

A live grist-core (the test peer, tests/support/grist_peer.py) serves a
document with an `Items` table of 10,000 rows (name, category a-e, price,
stock, active, created) and a Users table for the gateway's login. Then:

(a) GET .../Items/records?filter={"category":["b"]}&sort=-price&limit=100 with
    N concurrent clients (wrk, one thread): Grist directly with its default
    limits, then the gateway on the embedded store (a copy of the document),
    on the Grist-server store and in hybrid mode (the same document Grist
    serves). Requests/s, the share of non-2xx answers, p50/p95/p99; the
    successful requests/s of each mode against Grist's.
(b) The write path: the same PATCH of one row, sent one at a time, to Grist
    directly and through the gateway; the median latency ratio gateway/Grist.

Figures are printed, never asserted; the hybrid goals are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import bcrypt
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gateway import REPORT_LUA, result, wrk  # noqa: E402
from tests.gateway_harness import running_gateway  # noqa: E402
from tests.support.grist_peer import GristPeer, running_peer  # noqa: E402

ROWS = 10_000
BATCH = 1_000
QUERY = {"filter": json.dumps({"category": ["b"]}), "sort": "-price", "limit": "100"}
ADMIN = ("admin@bench.test", "bench-admin-password")
MODES = ("embedded", "grist", "hybrid")


def make_document(grist: GristPeer) -> str:
    """A new Grist document: Items (10,000 rows) and Users (one admin)."""
    doc = grist.new_doc("Bench")
    choice = json.dumps({"choices": list("abcde")})
    items = [
        ("name", "Text", None), ("category", "Choice", choice), ("price", "Numeric", None),
        ("stock", "Int", None), ("active", "Bool", None), ("created", "Date", None),
    ]  # fmt: skip
    users = [("email", "Text"), ("password_hash", "Text"), ("role", "Text"), ("active", "Bool")]
    tables = [
        {"id": "Items", "columns": [
            {"id": c, "fields": {"type": t, **({"widgetOptions": w} if w else {})}} for c, t, w in items
        ]},
        {"id": "Users", "columns": [{"id": c, "fields": {"type": t}} for c, t in users]},
    ]  # fmt: skip
    grist.call("POST", f"/api/docs/{doc}/tables", json={"tables": tables})
    for start in range(0, ROWS, BATCH):
        records = [
            {"fields": {
                "name": f"Item {i}", "category": "abcde"[i % 5], "price": round((i * 7919 % 10_000) / 100, 2),
                "stock": i % 250, "active": i % 3 != 0, "created": 1_700_000_000 // 86400 * 86400 + (i % 365) * 86400,
            }}
            for i in range(start + 1, start + BATCH + 1)
        ]  # fmt: skip
        grist.call("POST", f"/api/docs/{doc}/tables/Items/records", json={"records": records})
    hashed = bcrypt.hashpw(ADMIN[1].encode(), bcrypt.gensalt(12)).decode()
    admin = {"email": ADMIN[0], "password_hash": hashed, "role": "admin", "active": True}
    grist.call(
        "POST", f"/api/docs/{doc}/tables/Users/records", json={"records": [{"fields": admin}]}
    )
    return doc


def line(name: str, r: dict[str, float]) -> str:
    share = r["non2xx"] / r["requests"] if r["requests"] else 0.0
    return (
        f"{name:<24} {r['rps']:8.0f} req/s  non-2xx {share:6.1%}  ok {r['ok_rps']:8.0f} req/s"
        f"  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms"
    )


def settle(base_url: str, doc: str, token: str) -> None:
    """Wait until the server has worked off the last run (queued requests, Grist's 429s)."""
    headers = {"Authorization": f"Bearer {token}"}
    in_a_row = 0
    for _ in range(600):
        try:
            ok = httpx.get(
                f"{base_url}/api/docs/{doc}/tables", headers=headers, timeout=60
            ).is_success
        except httpx.HTTPError:
            ok = False
        in_a_row = in_a_row + 1 if ok else 0
        if in_a_row == 3:
            return
        time.sleep(0.2)


def load(
    grist: GristPeer,
    base_url: str,
    path: str,
    clients: int,
    seconds: float,
    script: Path,
    token: str,
) -> dict[str, float]:
    doc = path.split("/")[3]
    settle(base_url, doc, token)
    # In hybrid mode the gateway answers reads without Grist: wait for Grist itself too.
    settle(grist.base_url, doc, grist.api_key)
    r = result(wrk(base_url + path, clients, seconds, script, {"Authorization": f"Bearer {token}"}))
    r["ok_rps"] = r["rps"] * (1 - (r["non2xx"] / r["requests"] if r["requests"] else 0.0))
    return r


def patch_median(grist: GristPeer, base_url: str, doc: str, token: str, count: int) -> float:
    """Median seconds of one PATCH of one Items row, sent one at a time."""
    path = f"/api/docs/{doc}/tables/Items/records"
    times = []
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as c:
        settle(base_url, doc, token)
        settle(grist.base_url, doc, grist.api_key)
        for n in range(count):
            body = {"records": [{"id": 1 + n % 100, "fields": {"stock": n}}]}
            start = time.perf_counter()
            c.patch(path, json=body).raise_for_status()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", default="20,100")
    parser.add_argument("--patches", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/grist.py needs wrk: apt-get install wrk")
    levels = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as tmp, running_peer(Path(tmp) / "grist") as grist:
        root = Path(tmp)
        doc = make_document(grist)
        script = root / "report.lua"
        script.write_text(REPORT_LUA)
        server = grist.server_keys(root)
        configs = {
            "embedded": f"grist:\n  document_id: {doc}\n",
            "grist": f"grist:\n  document_id: {doc}\n{server}",
            "hybrid": f"grist:\n  document_id: {doc}\n{server}  docs_dir: {grist.docs_dir}\n",
        }
        (root / "embedded" / "data" / "docs").mkdir(parents=True)
        (root / "embedded" / "data" / "docs" / f"{doc}.grist").write_bytes(grist.download(doc))
        path = f"/api/docs/{doc}/tables/Items/records?{urlencode(QUERY)}"
        print(
            f"Items: {ROWS} rows; GET {path.split('/tables/')[1]}; {args.seconds:.0f} s per run, wrk -t1"
        )
        results: dict[tuple[str, int], dict[str, float]] = {}
        for clients in levels:
            results["grist", clients] = load(
                grist, grist.base_url, path, clients, args.seconds, script, grist.api_key
            )
            print(line(f"Grist direct, {clients}", results["grist", clients]))
        patches = {
            "Grist direct": patch_median(grist, grist.base_url, doc, grist.api_key, args.patches)
        }
        quiet = "log: {level: warning, access: false}\n"
        for mode in MODES:
            (root / mode).mkdir(exist_ok=True)
            with running_gateway(root / mode, extra=quiet, grist=configs[mode]) as gateway:
                token = gateway.login(*ADMIN)
                for clients in levels:
                    r = results[mode, clients] = load(
                        grist, gateway.url, path, clients, args.seconds, script, token
                    )
                    print(line(f"gateway {mode}, {clients}", r))
                patches[f"gateway {mode}"] = patch_median(
                    grist, gateway.url, doc, token, args.patches
                )
        print("(b) PATCH one row, median of", args.patches)
        for name, seconds in patches.items():
            ratio = seconds / patches["Grist direct"]
            print(f"    {name:<18} {seconds * 1000:7.1f} ms  ratio to Grist {ratio:5.2f}")
        low, high = levels[0], levels[-1]
        hybrid_low, hybrid_high = results["hybrid", low], results["hybrid", high]
        print("hybrid goals:")
        for clients in levels:
            times = results["hybrid", clients]["ok_rps"] / max(
                results["grist", clients]["ok_rps"], 1e-9
            )
            print(f"    {clients} clients: {times:.1f}x Grist's successful req/s (goal >= 10x)")
        print(f"    p95 at {low}: {hybrid_low['p95_ms']:.1f} ms (goal < 50); p99 at {high}: "
              f"{hybrid_high['p99_ms']:.1f} ms (goal < 250); non-2xx: "
              f"{int(hybrid_low['non2xx'] + hybrid_high['non2xx'])} (goal 0)")  # fmt: skip
        print(f"embedded p99 at {high}: {results['embedded', high]['p99_ms']:.1f} ms (goal < 250)")


if __name__ == "__main__":
    main()
