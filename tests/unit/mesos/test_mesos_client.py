from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from mesos_fake_master import HEARTBEAT, FakeMaster, error, status, subscribed, wait_until

from juice.errors import MesosDisconnected, MesosError, MesosRejected, MesosUnavailable
from juice.mesos.addressing import normalize_master
from juice.mesos.backoff import Backoff
from juice.mesos.builders import FrameworkSettings
from juice.mesos.client import SchedulerClient
from juice.mesos.messages import Disconnected, ErrorEvent, Event, Heartbeat, Offers, Subscribed

pytestmark = pytest.mark.timeout(20)

FRAMEWORK = FrameworkSettings(user="juice", name="juice-test", roles=("workers",), hostname="sched1")
WAIT = 5.0


class Harness:
    """A client whose events() runs in a background task, collected into a queue."""

    def __init__(self, master: FakeMaster, **kw: Any) -> None:
        self.master = master
        self.delays: list[float] = []
        kw.setdefault("sleep", self._record_sleep)
        kw.setdefault("backoff_initial", 0.01)
        kw.setdefault("backoff_max", 0.08)
        self.client = SchedulerClient(
            kw.pop("url", "master1:5050"), FRAMEWORK, transport=master.transport(), rng=random.Random(7), **kw
        )
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _record_sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)

    async def _run(self) -> None:
        async for event in self.client.events():
            self.events.put_nowait(event)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def next(self, kind: type | None = None) -> Event:
        """The next event (skipping heartbeats unless asked for them)."""
        while True:
            event = await asyncio.wait_for(self.events.get(), WAIT)
            if kind is not Heartbeat and isinstance(event, Heartbeat):
                continue
            if kind is not None:
                assert isinstance(event, kind), event
            return event

    async def stop(self) -> None:
        await self.client.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, WAIT)


@asynccontextmanager
async def running(master: FakeMaster, **kw: Any) -> AsyncIterator[Harness]:
    harness = Harness(master, **kw)
    harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


async def subscribe(h: Harness, framework_id: str = "F-0001", interval: float = 15.0) -> Subscribed:
    await wait_until(lambda: len(h.master.streams) >= 1 and not h.master.streams[-1].closed.is_set())
    h.master.streams[-1].event(subscribed(framework_id, interval))
    h.master.streams[-1].event(HEARTBEAT)
    event = await h.next(Subscribed)
    assert isinstance(event, Subscribed)
    return event


# ------------------------------------------------------------------------------------ subscribe


async def test_first_subscribe_handshake() -> None:
    master = FakeMaster()
    async with running(master) as h:
        event = await subscribe(h)
        sub = master.subscribes[0]
        assert str(sub.url) == "http://master1:5050/api/v1/scheduler"
        assert "Mesos-Stream-Id" not in sub.headers
        assert sub.headers["Content-Type"] == "application/json"
        assert sub.headers["Accept"] == "application/json"
        assert "framework_id" not in sub.body
        info = sub.body["subscribe"]["framework_info"]
        assert "id" not in info
        assert info["roles"] == ["workers"] and info["user"] == "juice"
        assert {"type": "MULTI_ROLE"} in info["capabilities"]
        assert info["failover_timeout"] == 604800.0
        assert event.framework_id == "F-0001"
        assert h.client.framework_id == "F-0001"
        assert h.client.connected
        assert h.client.stream_id is not None
        assert h.client.master_info is not None and h.client.master_info.url() == "http://127.0.0.1:5050"


async def test_resubscribe_puts_framework_id_in_both_places_and_yields_disconnected() -> None:
    master = FakeMaster()
    async with running(master) as h:
        await subscribe(h)
        first_stream_id = h.client.stream_id
        master.streams[0].finish()
        gone = await h.next(Disconnected)
        assert isinstance(gone, Disconnected) and "closed by the master" in gone.reason
        await subscribe(h)
        again = master.subscribes[1]
        assert again.body["framework_id"] == {"value": "F-0001"}
        assert again.body["subscribe"]["framework_info"]["id"] == {"value": "F-0001"}
        assert "Mesos-Stream-Id" not in again.headers
        assert h.client.stream_id != first_stream_id
        assert len(h.delays) == 1


async def test_known_framework_id_is_used_on_the_first_subscribe() -> None:
    master = FakeMaster()
    async with running(master, framework_id="F-0042") as h:
        await wait_until(lambda: len(master.subscribes) == 1)
        body = master.subscribes[0].body
        assert body["framework_id"] == {"value": "F-0042"}
        assert body["subscribe"]["framework_info"]["id"] == {"value": "F-0042"}
        assert not h.client.connected


async def test_events_split_across_chunks_arrive_whole() -> None:
    master = FakeMaster()
    async with running(master) as h:
        await subscribe(h)
        offer = {
            "id": {"value": "O1"},
            "framework_id": {"value": "F-0001"},
            "agent_id": {"value": "S1"},
            "hostname": "n1",
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}}],
        }
        master.streams[0].event({"type": "OFFERS", "offers": {"offers": [offer]}}, split_every=3)
        event = await h.next(Offers)
        assert isinstance(event, Offers) and event.offers[0].scalar("cpus") == 2.0


async def test_heartbeat_timeout_reconnects() -> None:
    master = FakeMaster()
    async with running(master, heartbeat_misses=2) as h:
        await subscribe(h, interval=0.01)
        gone = await h.next(Disconnected)
        assert isinstance(gone, Disconnected) and "heartbeat" in gone.reason
        await wait_until(lambda: len(master.subscribes) == 2)
        await wait_until(master.streams[0].closed.is_set)
        assert not h.client.connected


async def test_garbage_on_the_stream_reconnects() -> None:
    master = FakeMaster()
    async with running(master) as h:
        await subscribe(h)
        master.streams[0].send(b"xyz\n")
        gone = await h.next(Disconnected)
        assert isinstance(gone, Disconnected) and "RecordIO" in gone.reason
        await wait_until(lambda: len(master.subscribes) == 2)


async def test_protocol_relative_redirect_is_followed_and_remembered() -> None:
    master = FakeMaster(script=[status(307, headers={"Location": "//leader.local:5051/api/v1/scheduler"})])
    async with running(master) as h:
        await subscribe(h)
        assert [s.url.host for s in master.subscribes] == ["master1", "leader.local"]
        assert master.subscribes[1].url.port == 5051
        assert h.client.master_url == "http://leader.local:5051"
        assert h.delays == []
        await h.client.decline(["O1"], 5)
        assert master.calls[0].url.host == "leader.local"


async def test_503_is_retried_with_backoff() -> None:
    master = FakeMaster(script=[status(503, b"No leader elected"), status(503, b"No leader elected")])
    async with running(master) as h:
        await subscribe(h)
        assert len(master.subscribes) == 3
        assert len(h.delays) == 2
        assert 0.005 <= h.delays[0] <= 0.01
        assert 0.01 <= h.delays[1] <= 0.02


async def test_other_refusals_are_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    master = FakeMaster(script=[status(400, b"Failed to validate call"), status(401)])
    async with running(master) as h:
        await subscribe(h)
        assert len(master.subscribes) == 3
        assert len(h.delays) == 2
    assert any("HTTP 400: Failed to validate call" in getattr(r, "error", "") for r in caplog.records)


async def test_missing_stream_id_header_is_an_error_and_retried() -> None:
    master = FakeMaster(script=[lambda request: httpx.Response(200, content=b"")])
    async with running(master) as h:
        await subscribe(h)
        assert len(master.subscribes) == 2 and len(h.delays) == 1


async def test_repeated_error_events_back_off_without_a_tight_loop() -> None:
    master = FakeMaster()
    master.script = [master.stream_with(subscribed("F-1"), error("Framework failed over")) for _ in range(5)]
    async with running(master) as h:
        for _ in range(5):
            await h.next(Subscribed)
            err = await h.next(ErrorEvent)
            assert isinstance(err, ErrorEvent) and err.message == "Framework failed over"
            await h.next(Disconnected)
        await subscribe(h)
        assert len(h.delays) == 5
        assert all(d > 0 for d in h.delays)
        assert h.delays[3] >= 0.04  # the ceiling doubled each time: 0.01, 0.02, 0.04, 0.08
        assert h.delays[4] >= 0.04
        assert all(s.body["framework_id"] == {"value": "F-1"} for s in master.subscribes[1:])


async def test_framework_removed_clears_the_id() -> None:
    master = FakeMaster()
    master.script = [master.stream_with(error("Framework has been removed"))]
    async with running(master, framework_id="F-OLD") as h:
        err = await h.next(ErrorEvent)
        assert isinstance(err, ErrorEvent) and err.message == "Framework has been removed"
        await subscribe(h, framework_id="F-NEW")
        assert master.subscribes[0].body["framework_id"] == {"value": "F-OLD"}
        fresh = master.subscribes[1].body
        assert "framework_id" not in fresh and "id" not in fresh["subscribe"]["framework_info"]
        assert h.client.framework_id == "F-NEW"
        assert len(h.delays) == 1
    # the refused subscription was never connected, so it produced no Disconnected
    rest = [h.events.get_nowait() for _ in range(h.events.qsize())]
    assert not any(isinstance(e, Disconnected) for e in rest)


async def test_default_pause_ends_early_on_close() -> None:
    master = FakeMaster(script=[status(503)])
    h = Harness(master, sleep=None, backoff_initial=10.0, backoff_max=10.0)
    h.start()
    await wait_until(lambda: len(master.subscribes) == 1)
    await h.stop()
    assert h.task is not None and h.task.done()


# ------------------------------------------------------------------------------------ calls


async def test_calls_carry_stream_id_and_framework_id() -> None:
    master = FakeMaster()
    async with running(master) as h:
        await subscribe(h)
        task = {"task_id": {"value": "t1"}}
        await h.client.accept(["O1", "O2"], [task], refuse_seconds=30)
        await h.client.decline(["O3"], refuse_seconds=0)
        await h.client.revive(["workers"])
        await h.client.suppress()
        await h.client.kill("t1", "S1", grace_seconds=2.5)
        await h.client.kill("t2", None)
        await h.client.acknowledge("S1", "t1", "AAAAAAAAAAAAAAAAAAAAAA==")
        await h.client.reconcile([("t1", "S1"), ("t2", None)])
        await h.client.reconcile([])
        bodies = [c.body for c in master.calls]
        for call in master.calls:
            assert call.headers["Mesos-Stream-Id"] == h.client.stream_id
            assert call.body["framework_id"] == {"value": "F-0001"}
            assert str(call.url) == "http://master1:5050/api/v1/scheduler"
        assert bodies[0]["accept"] == {
            "offer_ids": [{"value": "O1"}, {"value": "O2"}],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
            "filters": {"refuse_seconds": 30.0},
        }
        assert bodies[1]["decline"] == {"offer_ids": [{"value": "O3"}], "filters": {"refuse_seconds": 0.0}}
        assert bodies[2]["revive"] == {"roles": ["workers"]}
        assert bodies[3] == {"type": "SUPPRESS", "framework_id": {"value": "F-0001"}}
        assert bodies[4]["kill"] == {
            "task_id": {"value": "t1"},
            "agent_id": {"value": "S1"},
            "kill_policy": {"grace_period": {"nanoseconds": 2_500_000_000}},
        }
        assert bodies[5]["kill"] == {"task_id": {"value": "t2"}}
        assert bodies[6]["acknowledge"] == {
            "agent_id": {"value": "S1"},
            "task_id": {"value": "t1"},
            "uuid": "AAAAAAAAAAAAAAAAAAAAAA==",
        }
        assert bodies[7]["reconcile"] == {
            "tasks": [{"task_id": {"value": "t1"}, "agent_id": {"value": "S1"}}, {"task_id": {"value": "t2"}}]
        }
        assert bodies[8]["reconcile"] == {"tasks": []}


async def test_calls_while_not_subscribed_raise_disconnected() -> None:
    master = FakeMaster()
    async with running(master) as h:
        await wait_until(lambda: len(master.streams) == 1)
        with pytest.raises(MesosDisconnected):
            await h.client.decline(["O1"], 5)
        await subscribe(h)
        master.streams[0].finish()
        await h.next(Disconnected)
        with pytest.raises(MesosDisconnected):
            await h.client.revive()
    assert master.calls == []


@pytest.mark.parametrize(
    ("code", "exc"),
    [
        (400, MesosRejected),
        (403, MesosRejected),
        (401, MesosRejected),
        (503, MesosUnavailable),
        (500, MesosUnavailable),
    ],
)
async def test_call_status_mapping(code: int, exc: type[MesosError]) -> None:
    master = FakeMaster(call_status=code, call_body=b"Framework is not subscribed")
    async with running(master) as h:
        await subscribe(h)
        with pytest.raises(exc) as info:
            await h.client.revive()
        if isinstance(info.value, MesosRejected):
            assert info.value.status_code == code
            assert info.value.body == "Framework is not subscribed"


async def test_call_network_error_is_disconnected() -> None:
    master = FakeMaster(call_error=httpx.ConnectError("connection refused"))
    async with running(master) as h:
        await subscribe(h)
        with pytest.raises(MesosDisconnected, match="ConnectError") as info:
            await h.client.suppress()
        assert isinstance(info.value.__cause__, httpx.ConnectError)


async def test_acknowledge_refuses_an_empty_uuid() -> None:
    master = FakeMaster()
    async with running(master) as h:
        await subscribe(h)
        with pytest.raises(MesosError, match="uuid"):
            await h.client.acknowledge("S1", "t1", "")
        with pytest.raises(MesosError):
            await h.client.accept([], [], 5)
        await h.client.decline([], 5)
    assert master.calls == []


async def test_teardown_is_explicit_and_ends_events() -> None:
    master = FakeMaster()
    async with running(master) as h:
        await subscribe(h)
        await h.client.teardown()
        assert master.calls[-1].body == {"type": "TEARDOWN", "framework_id": {"value": "F-0001"}}
        assert h.task is not None
        await asyncio.wait_for(h.task, WAIT)
        assert h.client.framework_id is None
    assert len(master.subscribes) == 1
    assert [c.body["type"] for c in master.calls] == ["TEARDOWN"]


async def test_close_never_tears_down() -> None:
    master = FakeMaster()
    async with running(master) as h:
        await subscribe(h)
    assert master.calls == []
    assert master.streams[0].closed.is_set()
    assert h.client.framework_id == "F-0001"


async def test_events_cannot_be_iterated_twice() -> None:
    master = FakeMaster()
    async with running(master) as h:
        await wait_until(lambda: len(master.subscribes) == 1)
        with pytest.raises(MesosError, match="already"):
            await anext(h.client.events())


# ------------------------------------------------------------------------------------ helpers


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("host:5050", "http://host:5050"),
        ("host", "http://host:5050"),
        ("http://10.0.0.1:5051/", "http://10.0.0.1:5051"),
        ("https://m.example:443/api/v1/scheduler", "https://m.example:443"),
        ("[::1]:5050", "http://[::1]:5050"),
    ],
)
def test_normalize_master(given: str, expected: str) -> None:
    assert normalize_master(given) == expected


@pytest.mark.parametrize("bad", ["", "ftp://x:1", "http://", "host:notaport"])
def test_normalize_master_rejects(bad: str) -> None:
    with pytest.raises(MesosError):
        normalize_master(bad)


def test_backoff_grows_jitters_and_resets() -> None:
    backoff = Backoff(0.5, 15.0, random.Random(1))
    delays = [backoff.next() for _ in range(8)]
    ceilings = [min(15.0, 0.5 * 2**n) for n in range(8)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)
    backoff.reset()
    assert backoff.next() <= 0.5
