"""The shared upstream socket: handed between supervisors, one owner of the port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gristops.config import Config
from gristops.deploy.handover import HandoverServer, bind, obtain, receive, set_live
from gristops.deploy.slots import SlotPlace
from gristops.errors import ConfigError, Unavailable


def _config(tmp_path: Path, port: int) -> Config:
    return Config.model_validate(
        {"data_dir": str(tmp_path), "grist": {"document_id": "Shop"}, "deploy": {"port": port}}
    )


def test_the_handed_socket_shares_one_accept_queue(tmp_path: Path) -> None:
    shared = bind(0)
    port = shared.getsockname()[1]
    config = _config(tmp_path, port)
    blue, green = SlotPlace.of(config, "blue"), SlotPlace.of(config, "green")
    blue.root.mkdir(parents=True)
    with shared, HandoverServer(blue.handover, shared):
        assert blue.handover.stat().st_mode & 0o777 == 0o600
        with obtain(config, green) as received:
            assert received.getsockname() == shared.getsockname()
            # A connection queued on one is accepted through the other.
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                received.settimeout(5)
                conn, _ = received.accept()
                conn.close()
    assert not blue.handover.exists()
    assert receive(blue.handover) is None  # nobody serves it any more


def test_without_another_slot_the_port_is_bound_once(tmp_path: Path) -> None:
    with bind(0) as taken:
        config = _config(tmp_path, taken.getsockname()[1])
        with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1:.*in use"):
            obtain(config, SlotPlace.of(config, "green"))


def test_a_slot_whose_gateway_is_down_cannot_go_live(tmp_path: Path) -> None:
    config = _config(tmp_path, 8600)
    place = SlotPlace.of(config, "blue")
    place.root.mkdir(parents=True)
    with pytest.raises(Unavailable, match="not running"):
        set_live(place, True)
    set_live(place, False)  # retiring a stopped slot is a no-op
    assert not place.live.exists()


def test_the_shared_port_must_differ_from_the_slots_ports(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must all differ"):
        _config(tmp_path, 8601)  # the default blue_port
