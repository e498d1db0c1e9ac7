"""A scriptable in-process fake of the Mesos scheduler endpoint, served through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


async def wait_until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    """Poll state owned by other tasks or threads until `condition()` holds."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.002)


def frame(event: dict[str, Any]) -> bytes:
    payload = json.dumps(event).encode()
    return str(len(payload)).encode() + b"\n" + payload


def subscribed(framework_id: str, interval: float = 15.0) -> dict[str, Any]:
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "framework_id": {"value": framework_id},
            "heartbeat_interval_seconds": interval,
            "master_info": {"id": "m1", "port": 5050, "address": {"ip": "127.0.0.1", "port": 5050}},
        },
    }


HEARTBEAT = {"type": "HEARTBEAT"}


def error(message: str) -> dict[str, Any]:
    return {"type": "ERROR", "error": {"message": message}}


class FakeStream(httpx.AsyncByteStream):
    """A response body fed by the test: `send()` bytes, `finish()` to end it."""

    def __init__(self) -> None:
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = asyncio.Event()

    def send(self, data: bytes) -> None:
        self._chunks.put_nowait(data)

    def event(self, event: dict[str, Any], *, split_every: int | None = None) -> None:
        data = frame(event)
        step = split_every or len(data)
        for i in range(0, len(data), step):
            self.send(data[i : i + step])

    def finish(self) -> None:
        self._chunks.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._chunks.get()
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        self.closed.set()


@dataclass
class Seen:
    url: httpx.URL
    headers: httpx.Headers
    body: dict[str, Any]


Responder = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeMaster:
    """SUBSCRIBE answers come from `script` (one per attempt; by default a 200 stream), calls from
    `call_status` / `call_error`. Every stream is kept in `streams` for the test to drive."""

    script: list[Responder] = field(default_factory=list)
    subscribes: list[Seen] = field(default_factory=list)
    calls: list[Seen] = field(default_factory=list)
    streams: list[FakeStream] = field(default_factory=list)
    call_status: int = 202
    call_body: bytes = b""
    call_error: Exception | None = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        seen = Seen(request.url, request.headers, json.loads(request.content))
        if seen.body["type"] == "SUBSCRIBE":
            self.subscribes.append(seen)
            return self.script.pop(0)(request) if self.script else self.open_stream(request)
        self.calls.append(seen)
        if self.call_error is not None:
            raise self.call_error
        return httpx.Response(self.call_status, content=self.call_body)

    def open_stream(self, request: httpx.Request) -> httpx.Response:
        stream = FakeStream()
        self.streams.append(stream)
        headers = {"Mesos-Stream-Id": str(uuid.uuid4()), "Content-Type": "application/json"}
        return httpx.Response(200, headers=headers, stream=stream)

    def stream_with(self, *events: dict[str, Any], finish: bool = False) -> Responder:
        """A responder that opens a stream pre-filled with `events`."""

        def respond(request: httpx.Request) -> httpx.Response:
            response = self.open_stream(request)
            for event in events:
                self.streams[-1].event(event)
            if finish:
                self.streams[-1].finish()
            return response

        return respond


def status(code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Responder:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, content=body, headers=headers)

    return respond
