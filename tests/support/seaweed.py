"""A real SeaweedFS S3 endpoint (`weed mini`) on 127.0.0.1, auth on, for integration tests.

Two identities: a read-write one and a read-only one (`Read`, `List`).
`weed mini` remembers its flags in DIR/mini.options, so every start gets a
fresh directory and fresh ports. Use the `seaweed` fixture (module-scoped):
it is always stopped.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config as BotoConfig
from mypy_boto3_s3 import S3Client

from gristops.runtime.process import Service

READ_WRITE = ["Admin", "Read", "List", "Tagging", "Write"]
READ_ONLY = ["Read", "List"]


def _free_ports(count: int) -> list[int]:
    """`count` distinct free ports; each also leaves port+10000 (weed's gRPC port) in range."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 < 65536 and port not in ports and _free(port + 10000):
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Seaweed:
    endpoint: str
    access_key: str
    secret_key: str
    ro_access_key: str
    ro_secret_key: str
    root: Path

    def client(self, *, read_only: bool = False) -> S3Client:
        key, secret = (
            (self.ro_access_key, self.ro_secret_key)
            if read_only
            else (self.access_key, self.secret_key)
        )
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=BotoConfig(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=10),
        )

    def make_bucket(self, prefix: str = "b") -> str:
        """A new, empty bucket (names: lowercase letters and digits, 3+ characters)."""
        name = f"{prefix}{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        return name


def _ready(client: S3Client) -> bool:
    client.list_buckets()
    return True


@contextmanager
def running_seaweed(root: Path) -> Iterator[Seaweed]:
    """Start `weed mini` under `root` (a fresh directory); always stop it."""
    rw = ("AK" + secrets.token_hex(8), "SK" + secrets.token_hex(16))
    ro = ("RO" + secrets.token_hex(8), "RS" + secrets.token_hex(16))
    identities = [
        {
            "name": "rw",
            "credentials": [{"accessKey": rw[0], "secretKey": rw[1]}],
            "actions": READ_WRITE,
        },
        {
            "name": "ro",
            "credentials": [{"accessKey": ro[0], "secretKey": ro[1]}],
            "actions": READ_ONLY,
        },
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "s3.json").write_text(json.dumps({"identities": identities}))
    data = root / "data"
    data.mkdir()
    s3, master, volume, filer = _free_ports(4)
    args = [
        "weed", "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={root / 's3.json'}",
        f"-s3.port={s3}", f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
    ]  # fmt: skip
    weed = Seaweed(f"http://127.0.0.1:{s3}", *rw, *ro, root)
    service = Service("weed mini", args, log_path=root / "weed.log", stop_timeout=10)
    probe = weed.client()
    with service:
        service.wait_ready(lambda: _ready(probe), timeout=60)
        yield weed


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    """A SeaweedFS S3 endpoint with auth on, shared by the tests of one module."""
    with running_seaweed(tmp_path_factory.mktemp("seaweed")) as weed:
        yield weed
