"""The client over real loopback HTTP (uvicorn in a thread): chunked streaming, redirect, heartbeat loss."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import uvicorn
from mesos_fake_master import HEARTBEAT, frame, subscribed

from juice.mesos.builders import FrameworkSettings
from juice.mesos.client import SchedulerClient
from juice.mesos.messages import Disconnected, Event, Heartbeat, Subscribed

pytestmark = pytest.mark.timeout(30)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
FRAMEWORK = FrameworkSettings(user="juice", name="juice-http-test", roles=("workers",))


class MasterApp:
    """A tiny ASGI Mesos endpoint. `mode` decides what a SUBSCRIBE stream does after SUBSCRIBED + HEARTBEAT:
    "silent" (say nothing until the client goes away) or "close" (end the stream)."""

    def __init__(self, mode: str = "silent", redirect_to: str | None = None) -> None:
        self.mode = mode
        self.redirect_to = redirect_to
        self.subscribes: list[dict[str, Any]] = []
        self.calls: list[tuple[dict[str, Any], str | None]] = []
        self.stream_ids: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        call = json.loads(body)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if call["type"] != "SUBSCRIBE":
            self.calls.append((call, headers.get("mesos-stream-id")))
            await send({"type": "http.response.start", "status": 202, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        self.subscribes.append(call)
        if self.redirect_to is not None:
            location = f"//{self.redirect_to}/api/v1/scheduler".encode()
            await send({"type": "http.response.start", "status": 307, "headers": [(b"location", location)]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self._stream(receive, send)

    async def _stream(self, receive: Receive, send: Send) -> None:
        stream_id = str(uuid.uuid4())
        self.stream_ids.append(stream_id)
        headers = [(b"content-type", b"application/json"), (b"mesos-stream-id", stream_id.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        first = frame(subscribed("F-HTTP", interval=0.05)) + frame(HEARTBEAT)
        for i in range(0, len(first), 7):  # records cut across HTTP chunks
            await send({"type": "http.response.body", "body": first[i : i + 7], "more_body": True})
        if self.mode == "close":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        while (await receive())["type"] != "http.disconnect":
            pass


class ServerThread:
    def __init__(self, app: MasterApp) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, lifespan="off", log_level="warning", ws="none", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[MasterApp], ServerThread]]:
    started: list[ServerThread] = []

    def start(app: MasterApp) -> ServerThread:
        server = ServerThread(app).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()


async def collect_until(client: SchedulerClient, done: Callable[[list[Event]], bool]) -> list[Event]:
    seen: list[Event] = []
    async with asyncio.timeout(10):
        async for event in client.events():
            if not isinstance(event, Heartbeat):
                seen.append(event)
            if done(seen):
                break
    return seen


async def test_subscribe_over_http_and_heartbeat_loss(serve: Callable[[MasterApp], ServerThread]) -> None:
    app = MasterApp(mode="silent")
    server = serve(app)
    client = SchedulerClient(
        server.address, FRAMEWORK, heartbeat_misses=2, backoff_initial=0.01, backoff_max=0.02
    )
    try:
        seen = await collect_until(client, lambda s: len(s) >= 3)
        assert isinstance(seen[0], Subscribed) and seen[0].framework_id == "F-HTTP"
        assert isinstance(seen[1], Disconnected) and "heartbeat" in seen[1].reason
        assert isinstance(seen[2], Subscribed)
        assert app.subscribes[1]["framework_id"] == {"value": "F-HTTP"}
        await client.revive()
        assert app.calls[0][1] == app.stream_ids[-1]
    finally:
        await client.close()


async def test_redirect_and_closed_stream_over_http(serve: Callable[[MasterApp], ServerThread]) -> None:
    leader_app = MasterApp(mode="close")
    leader = serve(leader_app)
    follower_app = MasterApp(redirect_to=leader.address)
    follower = serve(follower_app)
    client = SchedulerClient(f"http://{follower.address}", FRAMEWORK, backoff_initial=0.01, backoff_max=0.02)
    try:
        seen = await collect_until(client, lambda s: len(s) >= 2)
        assert isinstance(seen[0], Subscribed)
        assert isinstance(seen[1], Disconnected) and "closed by the master" in seen[1].reason
        assert client.master_url == f"http://{leader.address}"
        assert len(follower_app.subscribes) == 1
        assert len(leader_app.subscribes) >= 1
    finally:
        await client.close()
