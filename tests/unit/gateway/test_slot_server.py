"""A slot's gateway accepts on the shared upstream socket exactly while its live flag says so.

The server runs in this process on a real loopback socket, with a two-line ASGI app
in place of the gateway (what is tested is uvicorn's listener and the retiring).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from gristops.deploy.handover import LIVE_SIGNAL, bind
from gristops.deploy.slots import accepting_file, live_flag
from gristops.gateway.slot_server import SlotServer


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def _acknowledged(slot: Path, state: str) -> None:
    for _ in range(200):
        if accepting_file(slot).exists() and accepting_file(slot).read_text().split() == [
            str(os.getpid()),
            state,
        ]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the server did not say {state}")


async def _flip(slot: Path, live: bool) -> None:
    if live:
        live_flag(slot).touch()
    else:
        live_flag(slot).unlink()
    os.kill(os.getpid(), LIVE_SIGNAL)
    await _acknowledged(slot, "on" if live else "off")


async def test_the_shared_socket_is_served_only_while_live(tmp_path: Path) -> None:
    shared = bind(0)
    url = f"http://127.0.0.1:{shared.getsockname()[1]}/"
    config = uvicorn.Config(hello, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = SlotServer(config, shared.fileno(), tmp_path)
    task = asyncio.create_task(server.serve())
    try:
        await _acknowledged(tmp_path, "off")  # started, not live: nobody accepts
        async with httpx.AsyncClient(timeout=0.5) as client:
            try:
                await client.get(url)
                raise AssertionError("a retired slot answered on the shared socket")
            except httpx.TimeoutException:
                pass
        async with httpx.AsyncClient(timeout=5.0) as client:
            await _flip(tmp_path, live=True)
            live = await client.get(url)
            assert live.text == "hello" and "connection" not in live.headers
            await _flip(tmp_path, live=False)
            # The kept-alive connection still gets its answer, which closes it.
            last = await client.get(url)
            assert last.text == "hello" and last.headers["connection"] == "close"
    finally:
        server.should_exit = True
        await task
        shared.close()
    assert accepting_file(tmp_path).read_text().split() == [str(os.getpid()), "off"]
