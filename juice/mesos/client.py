"""Juice's Mesos v1 scheduler HTTP client (asyncio + httpx).

`events()` runs forever: SUBSCRIBE, yield events, and when the stream ends yield a synthetic
`Disconnected`, back off (jittered, exponential) and subscribe again with the known framework id. Calls
(`accept`, `decline`, `kill`, ...) go over separate requests carrying the current `Mesos-Stream-Id`; they
raise `MesosDisconnected` while there is no subscription instead of dropping anything.

Nothing here tears the framework down on its own: only an explicit `teardown()` does.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
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
from juice.mesos.addressing import API_PATH, normalize_master, redirect_target
from juice.mesos.backoff import Backoff
from juice.mesos.builders import FrameworkSettings, framework_info
from juice.mesos.detector import LeaderSource, ZooKeeperDetector
from juice.mesos.messages import Disconnected, ErrorEvent, Event, MasterInfo, Subscribed
from juice.mesos.subscription import Ended, Item, Opened, SubscriptionSpec, run_subscription

__all__ = ["SchedulerClient"]

logger = logging.getLogger(__name__)

_FREE_REDIRECTS = 3  # consecutive redirects followed without waiting


class _Close:
    """Queue sentinel: `close()` or `teardown()` was called."""


_CLOSE = _Close()

Sleep = Callable[[float], Awaitable[None]]


class SchedulerClient:
    """A Mesos v1 scheduler: one subscription stream plus calls. Iterate `events()` from one task only."""

    def __init__(
        self,
        master: str,
        framework: FrameworkSettings,
        *,
        framework_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        call_timeout: float = 75.0,
        heartbeat_misses: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 15.0,
        rng: random.Random | None = None,
        leader: LeaderSource | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        """`master` is `http://host:port`, `host:port` or `zk://host1:2181,host2:2181/mesos`.

        `leader`, when given, is asked for the leading master before every subscription attempt (and
        watched while subscribed); `master` is then only a label. A `zk://` master makes a
        `ZooKeeperDetector` the leader source. `sleep` replaces the backoff wait (tests); by default the
        wait ends early on `close()`."""
        if heartbeat_misses < 1 or call_timeout <= 0:
            raise ValueError("heartbeat_misses must be >= 1 and call_timeout > 0")
        self._owns_leader = leader is None and master.startswith("zk://")
        if self._owns_leader:
            leader = ZooKeeperDetector(master)
        self._configured = master if leader is not None else normalize_master(master)
        self._master_url = self._configured
        self._framework = framework
        self._framework_id = framework_id or None
        self._http = httpx.AsyncClient(transport=transport, timeout=call_timeout, trust_env=False)
        self._call_timeout = call_timeout
        self._heartbeat_misses = heartbeat_misses
        rng = rng or random.Random()
        self._backoff = Backoff(backoff_initial, backoff_max, rng)
        # Streams ended by an ERROR event (e.g. two schedulers taking the same framework over from each
        # other) back off on their own scale, which only a subscription that lasted `backoff_max`
        # seconds resets: a SUBSCRIBED right before each ERROR must not make the loop tight.
        self._error_backoff = Backoff(backoff_initial, backoff_max, rng)
        self._stable_after = backoff_max
        self._leader = leader
        self._sleep = sleep
        self._closed = asyncio.Event()
        self._finished = False  # torn down: do not subscribe again
        self._iterating = False
        self._queue: asyncio.Queue[Item | _Close] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stream_id: str | None = None
        self._subscribed = False
        self._subscribed_at = 0.0
        self._redirects = 0
        self._master_info: MasterInfo | None = None

    # ------------------------------------------------------------------------------------ state

    @property
    def framework_id(self) -> str | None:
        return self._framework_id

    @property
    def stream_id(self) -> str | None:
        return self._stream_id if self.connected else None

    @property
    def connected(self) -> bool:
        """Subscribed (SUBSCRIBED seen) and the stream is still open."""
        return self._subscribed and self._pump is not None and not self._pump.done()

    @property
    def master_url(self) -> str:
        """The master currently used (after redirects), `http://host:port`."""
        return self._master_url

    @property
    def master_info(self) -> MasterInfo | None:
        """`master_info` of the last SUBSCRIBED."""
        return self._master_info

    # ------------------------------------------------------------------------------------ events

    async def events(self) -> AsyncIterator[Event]:
        """Subscribe, yield events, reconnect; ends only after `close()` or `teardown()`.

        After every stream that had reached SUBSCRIBED a `Disconnected` event follows. To stop early,
        iterate inside `contextlib.aclosing(client.events())` or call `close()`."""
        if self._iterating:
            raise MesosError("events() is already being iterated")
        self._iterating = True
        try:
            while not self._closed.is_set() and not self._finished:
                url = await self._resolve_master()
                if url is None:
                    await self._pause(self._backoff.next())
                    continue
                queue = self._start_pump(url)
                ended: Ended | None = None
                try:
                    while ended is None:
                        item = await queue.get()
                        if isinstance(item, _Close):
                            return
                        if isinstance(item, Ended):
                            ended = item
                        elif isinstance(item, Opened):
                            self._stream_id = item.stream_id
                        else:
                            self._observe(item)
                            yield item
                finally:
                    await self._stop_pump()
                was_subscribed = self._subscribed
                delay = self._after_stream(ended.error, url)
                if was_subscribed:
                    yield Disconnected(reason=str(ended.error))
                if delay > 0 and not self._finished:
                    await self._pause(delay)
        finally:
            self._iterating = False

    async def _resolve_master(self) -> str | None:
        if self._leader is None:
            return self._master_url
        url = await self._leader.current_leader()
        if url is None:
            logger.info("mesos: no leading master known", extra={"master": self._configured})
            return None
        try:
            leader = normalize_master(url)
        except MesosError as exc:
            logger.warning("mesos: unusable leader address", extra={"master": url, "error": str(exc)})
            return None
        if leader != self._master_url:
            logger.info("mesos: leading master", extra={"master": leader})
        self._master_url = leader
        return leader

    def _subscribe_call(self) -> dict[str, Any]:
        call: dict[str, Any] = {
            "type": "SUBSCRIBE",
            "subscribe": {"framework_info": framework_info(self._framework, self._framework_id)},
        }
        if self._framework_id:
            call["framework_id"] = {"value": self._framework_id}
        return call

    def _start_pump(self, url: str) -> asyncio.Queue[Item | _Close]:
        queue: asyncio.Queue[Item | _Close] = asyncio.Queue()
        spec = SubscriptionSpec(
            endpoint=url + API_PATH,
            body=self._subscribe_call(),
            connect_timeout=self._call_timeout,
            heartbeat_misses=self._heartbeat_misses,
        )
        logger.info("mesos: subscribing", extra={"master": url, "framework_id": self._framework_id})
        self._queue = queue
        self._pump = asyncio.create_task(run_subscription(self._http, spec, queue.put_nowait))
        if self._leader is not None:
            self._watch = asyncio.create_task(self._watch_leader(self._leader, url, queue))
        return queue

    async def _watch_leader(
        self, leader: LeaderSource, url: str, queue: asyncio.Queue[Item | _Close]
    ) -> None:
        await leader.leader_changed(url)
        queue.put_nowait(Ended(MesosDisconnected("the leading master changed")))

    async def _stop_pump(self) -> None:
        pump, self._pump = self._pump, None
        watch, self._watch = self._watch, None
        self._queue = None
        for task in (pump, watch):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise

    def _observe(self, event: Event) -> None:
        if isinstance(event, Subscribed):
            self._framework_id = event.framework_id
            self._subscribed = True
            self._subscribed_at = time.monotonic()
            self._master_info = event.master_info
            self._redirects = 0
            self._backoff.reset()
            logger.info(
                "mesos: subscribed",
                extra={
                    "framework_id": event.framework_id,
                    "stream_id": self._stream_id,
                    "master": self._master_url,
                    "heartbeat_interval": event.heartbeat_interval_seconds,
                },
            )
        elif isinstance(event, ErrorEvent):
            logger.warning(
                "mesos: ERROR event",
                extra={"framework_id": self._framework_id, "error": event.message},
            )
            if "has been removed" in event.message.lower():
                logger.warning(
                    "mesos: framework removed, next subscription starts a new framework",
                    extra={"framework_id": self._framework_id},
                )
                self._framework_id = None

    def _after_stream(self, error: MesosError, url: str) -> float:
        """Book-keeping after a stream ended; returns how long to wait before the next attempt."""
        was_subscribed = self._subscribed
        lived = time.monotonic() - self._subscribed_at if was_subscribed else 0.0
        self._subscribed = False
        self._stream_id = None
        extra = {"master": url, "framework_id": self._framework_id, "error": str(error)}
        if isinstance(error, MesosRedirect):
            try:
                target = redirect_target(url, error.location)
            except MesosError:
                logger.warning("mesos: unusable redirect", extra={**extra, "location": error.location})
                return self._backoff.next()
            self._master_url = target
            self._redirects += 1
            logger.info("mesos: redirected to the leading master", extra={**extra, "leader": target})
            return 0.0 if self._redirects <= _FREE_REDIRECTS else self._backoff.next()
        if isinstance(error, MesosSubscribeError):
            if was_subscribed and lived >= self._stable_after:
                self._error_backoff.reset()
            delay = max(self._backoff.next(), self._error_backoff.next())
            logger.warning("mesos: subscription ended by an ERROR event", extra={**extra, "delay": delay})
            return delay
        if isinstance(error, MesosDisconnected) and not was_subscribed and self._leader is None:
            self._master_url = self._configured  # a redirected-to master is gone: ask the configured one
        level = logging.INFO if was_subscribed and isinstance(error, MesosDisconnected) else logging.WARNING
        if isinstance(error, MesosRejected):
            level = logging.ERROR
        logger.log(level, "mesos: subscription ended", extra=extra)
        return self._backoff.next()

    async def _pause(self, delay: float) -> None:
        logger.debug("mesos: backing off", extra={"delay": delay})
        if self._sleep is not None:
            await self._sleep(delay)
            return
        try:
            async with asyncio.timeout(delay):
                await self._closed.wait()
        except TimeoutError:
            pass

    # ------------------------------------------------------------------------------------ calls

    async def accept(
        self, offer_ids: list[str], task_infos: list[dict[str, Any]], refuse_seconds: float
    ) -> None:
        """ACCEPT with one LAUNCH of `task_infos`; unused resources are declined for `refuse_seconds`."""
        if not offer_ids:
            raise MesosError("ACCEPT needs at least one offer id")
        operations = [{"type": "LAUNCH", "launch": {"task_infos": task_infos}}] if task_infos else []
        await self._call(
            "ACCEPT",
            {
                "offer_ids": _ids(offer_ids),
                "operations": operations,
                "filters": {"refuse_seconds": float(refuse_seconds)},
            },
        )

    async def decline(self, offer_ids: list[str], refuse_seconds: float) -> None:
        """DECLINE; an empty list sends nothing."""
        if not offer_ids:
            return
        await self._call(
            "DECLINE", {"offer_ids": _ids(offer_ids), "filters": {"refuse_seconds": float(refuse_seconds)}}
        )

    async def revive(self, roles: list[str] | None = None) -> None:
        """REVIVE the given roles, or every subscribed role when None."""
        await self._call("REVIVE", {"roles": list(roles)} if roles else None)

    async def suppress(self, roles: list[str] | None = None) -> None:
        """SUPPRESS the given roles, or every subscribed role when None."""
        await self._call("SUPPRESS", {"roles": list(roles)} if roles else None)

    async def kill(self, task_id: str, agent_id: str | None, grace_seconds: float | None = None) -> None:
        if not task_id:
            raise MesosError("KILL needs a task id")
        body: dict[str, Any] = {"task_id": {"value": task_id}}
        if agent_id:
            body["agent_id"] = {"value": agent_id}
        if grace_seconds is not None:
            if grace_seconds < 0:
                raise MesosError(f"negative kill grace period {grace_seconds}")
            body["kill_policy"] = {"grace_period": {"nanoseconds": int(grace_seconds * 1e9)}}
        await self._call("KILL", body)

    async def acknowledge(self, agent_id: str, task_id: str, uuid: str) -> None:
        """ACKNOWLEDGE an update, echoing its base64 `uuid` unchanged. Refuses updates without a uuid."""
        if not uuid:
            raise MesosError(f"refusing to ACKNOWLEDGE task {task_id!r}: the update has no uuid")
        if not agent_id or not task_id:
            raise MesosError("ACKNOWLEDGE needs an agent id and a task id")
        await self._call(
            "ACKNOWLEDGE", {"agent_id": {"value": agent_id}, "task_id": {"value": task_id}, "uuid": uuid}
        )

    async def reconcile(self, tasks: list[tuple[str, str | None]]) -> None:
        """RECONCILE the given (task id, agent id or None) pairs; an empty list is implicit reconciliation."""
        entries: list[dict[str, Any]] = []
        for task_id, agent_id in tasks:
            entry: dict[str, Any] = {"task_id": {"value": task_id}}
            if agent_id:
                entry["agent_id"] = {"value": agent_id}
            entries.append(entry)
        await self._call("RECONCILE", {"tasks": entries})

    async def teardown(self) -> None:
        """TEARDOWN: the master kills every task of this framework and forgets it. `events()` then ends."""
        await self._call("TEARDOWN", None)
        logger.warning("mesos: framework torn down", extra={"framework_id": self._framework_id})
        self._framework_id = None
        self._finished = True
        self._wake_events()

    async def close(self) -> None:
        """Stop the event loop and release connections. The framework stays registered (failover)."""
        self._closed.set()
        self._wake_events()
        await self._stop_pump()
        await self._http.aclose()
        if self._owns_leader and self._leader is not None:
            await self._leader.close()

    def _wake_events(self) -> None:
        if self._queue is not None:
            self._queue.put_nowait(_CLOSE)

    async def _call(self, call_type: str, payload: dict[str, Any] | None) -> None:
        framework_id, stream_id, url = self._framework_id, self._stream_id, self._master_url
        if not self.connected or not framework_id or not stream_id:
            raise MesosDisconnected(f"{call_type}: not subscribed")
        body: dict[str, Any] = {"type": call_type, "framework_id": {"value": framework_id}}
        if payload is not None:
            body[call_type.lower()] = payload
        headers = {"Mesos-Stream-Id": stream_id, "Accept": "application/json"}
        try:
            response = await self._http.post(url + API_PATH, json=body, headers=headers)
        except httpx.RequestError as exc:
            raise MesosDisconnected(f"{call_type}: {type(exc).__name__}: {exc}") from exc
        _check_call_response(call_type, response)
        logger.debug("mesos: call accepted", extra={"call": call_type, "framework_id": framework_id})


def _ids(values: list[str]) -> list[dict[str, str]]:
    return [{"value": value} for value in values]


def _check_call_response(call_type: str, response: httpx.Response) -> None:
    status = response.status_code
    if status in {200, 202}:
        return
    body = response.text[:500]
    logger.warning("mesos: call failed", extra={"call": call_type, "status": status, "body": body})
    if status in {301, 302, 303, 307, 308}:
        raise MesosRedirect(response.headers.get("Location", ""))
    if status == 503:
        raise MesosUnavailable(f"{call_type}: HTTP 503: {body}")
    if 400 <= status < 500:
        raise MesosRejected(status, body)
    raise MesosUnavailable(f"{call_type}: HTTP {status}: {body}")
