"""A framework's subscription: the RecordIO event stream of one SUBSCRIBE response."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from starlette.types import Message, Receive, Scope, Send

from juice.devcluster import recordio
from juice.devcluster.wire import JsonObject

logger = logging.getLogger(__name__)


class Subscription:
    """Queue of encoded records for one open SUBSCRIBE response. `close()` ends the response."""

    def __init__(self, stream_id: str, *, split_records: bool) -> None:
        self.stream_id = stream_id
        self.framework_id: str | None = None
        self.next_heartbeat_at = 0.0
        self._split_records = split_records
        self._records = 0
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False

    def send(self, event: JsonObject) -> None:
        if self.closed:
            return
        record = recordio.encode_event(event)
        self._records += 1
        if self._split_records and self._records % 2 == 0:
            cut = recordio.split_point(record, self._records)
            self._queue.put_nowait(record[:cut])
            self._queue.put_nowait(record[cut:])
        else:
            self._queue.put_nowait(record)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)

    async def next_chunk(self) -> bytes | None:
        return await self._queue.get()


class EventStreamResponse:
    """ASGI response for SUBSCRIBE: 200, chunked, `application/json`, `Mesos-Stream-Id`.

    `on_client_gone` runs when the scheduler closes the connection (not when the master closes it)."""

    def __init__(self, subscription: Subscription, on_client_gone: Callable[[Subscription], None]) -> None:
        self.subscription = subscription
        self.on_client_gone = on_client_gone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sub = self.subscription
        headers = [
            (b"content-type", b"application/json"),
            (b"mesos-stream-id", sub.stream_id.encode("ascii")),
            (b"cache-control", b"no-cache"),
        ]
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(self._watch(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            done, _ = await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        except OSError:
            done = {watch}
        finally:
            for task in (pump, watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await task
        client_gone = watch in done or (pump in done and pump.exception() is not None)
        if client_gone and not sub.closed:
            sub.close()
            self.on_client_gone(sub)

    async def _pump(self, send: Send) -> None:
        while (chunk := await self.subscription.next_chunk()) is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch(self, receive: Receive) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                return
