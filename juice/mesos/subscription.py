"""One SUBSCRIBE attempt and its event stream, run as a task that reports into a queue.

The task sends SUBSCRIBE, checks the answer, then reads the RecordIO stream and puts, in order:
`Opened(stream_id)`, the parsed events, and finally exactly one `Ended(error)` saying why it stopped
(redirect, 503, refusal, network failure, heartbeat timeout, ERROR event, protocol garbage, or a clean
close by the master). Reading runs in its own task so that the heartbeat timer only measures the
network, never the time the consumer spends on an event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from juice.errors import (
    MesosDisconnected,
    MesosError,
    MesosRedirect,
    MesosRejected,
    MesosSubscribeError,
    MesosUnavailable,
)
from juice.mesos.messages import ErrorEvent, Event, Subscribed, parse_event
from juice.mesos.recordio import RecordIODecoder

__all__ = ["Ended", "Item", "Opened", "SubscriptionSpec", "run_subscription"]

logger = logging.getLogger(__name__)

_MAX_ERROR_BODY_CHARS = 500


@dataclass(frozen=True)
class Opened:
    stream_id: str


@dataclass(frozen=True)
class Ended:
    error: MesosError


Item = Opened | Event | Ended


@dataclass(frozen=True)
class SubscriptionSpec:
    endpoint: str  # http://host:port/api/v1/scheduler
    body: dict[str, Any]  # the SUBSCRIBE call
    connect_timeout: float  # connecting and waiting for the response head / first record
    heartbeat_misses: int


async def run_subscription(
    http: httpx.AsyncClient, spec: SubscriptionSpec, put: Callable[[Item], None]
) -> None:
    """Run one subscription to its end; always finishes by putting one `Ended` (unless cancelled)."""
    try:
        await _subscribe_and_read(http, spec, put)
    except MesosError as exc:
        put(Ended(exc))
    except httpx.RequestError as exc:
        put(Ended(_network_error(exc)))
    except httpx.StreamError as exc:
        put(Ended(MesosDisconnected(f"stream error: {exc!r}")))
    except Exception as exc:  # a bug must not leave the client waiting for an end that never comes
        logger.exception("mesos: subscription failed unexpectedly", extra={"endpoint": spec.endpoint})
        put(Ended(MesosError(f"unexpected {type(exc).__name__}: {exc}")))


def _network_error(exc: httpx.RequestError) -> MesosDisconnected:
    error = MesosDisconnected(f"{type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


async def _subscribe_and_read(
    http: httpx.AsyncClient, spec: SubscriptionSpec, put: Callable[[Item], None]
) -> None:
    request = http.build_request(
        "POST",
        spec.endpoint,
        json=spec.body,
        headers={"Accept": "application/json"},
        timeout=httpx.Timeout(spec.connect_timeout, read=None),
    )
    response = await http.send(request, stream=True)
    try:
        await _check_response(response, spec.connect_timeout)
        stream_id = response.headers.get("Mesos-Stream-Id")
        if not stream_id:
            raise MesosError("SUBSCRIBE answered 200 without a Mesos-Stream-Id header")
        put(Opened(stream_id))
        await _read_events(response.aiter_bytes(), spec, put)
    finally:
        await response.aclose()


async def _check_response(response: httpx.Response, read_limit: float) -> None:
    if response.status_code == 200:
        return
    if response.status_code in {301, 302, 303, 307, 308}:
        location = response.headers.get("Location")
        if not location:
            raise MesosError(f"SUBSCRIBE answered {response.status_code} without a Location")
        raise MesosRedirect(location)
    async with asyncio.timeout(read_limit):
        body = (await response.aread()).decode("utf-8", "replace")[:_MAX_ERROR_BODY_CHARS]
    if response.status_code == 503:
        raise MesosUnavailable(f"HTTP 503: {body}")
    raise MesosRejected(response.status_code, body)


async def _read_events(
    chunks: AsyncIterator[bytes], spec: SubscriptionSpec, put: Callable[[Item], None]
) -> None:
    decoder = RecordIODecoder()
    timeout = spec.connect_timeout  # until SUBSCRIBED says how often the master will speak
    while True:
        try:
            async with asyncio.timeout(timeout):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            where = "at a record boundary" if decoder.at_boundary else "inside a record"
            raise MesosDisconnected(f"stream closed by the master ({where})") from None
        except TimeoutError:
            raise MesosDisconnected(f"nothing received for {timeout:g}s (heartbeat timeout)") from None
        for record in decoder.feed(chunk):
            event = parse_event(record)
            if isinstance(event, Subscribed):
                interval = event.heartbeat_interval_seconds
                timeout = spec.heartbeat_misses * (interval if interval > 0 else 15.0)
            put(event)
            if isinstance(event, ErrorEvent):
                raise MesosSubscribeError(event.message or "ERROR event without a message")
