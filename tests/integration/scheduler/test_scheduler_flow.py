"""The scheduler's effect order on a real Redis, with a recording Mesos double:
persist LAUNCHING before ACCEPT, persist an update before ACKNOWLEDGE, kill what should not run."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from juice.core.plan import PlanLimits, plan_job
from juice.core.reasons import FailureKind, RetryPolicy
from juice.core.states import JobState, SegmentState
from juice.errors import MesosDisconnected, ObjectNotFound
from juice.mesos.messages import Event, Offer, TaskStatus
from juice.scheduler.launcher import Launcher, LaunchSettings
from juice.scheduler.payloads import PayloadBuilder
from juice.scheduler.planner import TaskResources, segment_records
from juice.scheduler.updates import UpdateHandler
from juice.store.redis_store import RedisStore
from tests.factories import media, spec, video

SPEC = spec("j1")
MEDIA = media(video(w=640, h=360, frames=300), audio=0)
NOW = 1000.0


class Objects:
    """An in-memory object store: presigning is all a launch needs, manifests are absent."""

    def ensure_bucket(self, bucket: str) -> None: ...
    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "") -> None: ...
    def put_file(self, bucket: str, key: str, path: str, content_type: str = "") -> None: ...
    def get_bytes(self, bucket: str, key: str) -> bytes:
        raise ObjectNotFound(key)

    def exists(self, bucket: str, key: str) -> bool:
        return False

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return []

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        return 0

    def presign_get(self, bucket: str, key: str, expires_seconds: int) -> str:
        return f"http://s3/{bucket}/{key}?sig=get"

    def presign_put(self, bucket: str, key: str, expires_seconds: int) -> str:
        return f"http://s3/{bucket}/{key}?sig=put"


class RecordingMesos:
    """Records calls, and what the store said at the moment of each call."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.calls: list[tuple[str, Any]] = []
        self.fail_accept = False

    @property
    def framework_id(self) -> str | None:
        return "fw-0000"

    @property
    def connected(self) -> bool:
        return True

    async def events(self) -> AsyncIterator[Event]:  # pragma: no cover - not used here
        if False:
            yield

    async def accept(
        self, offer_ids: list[str], task_infos: list[dict[str, Any]], refuse_seconds: float
    ) -> None:
        states = [(await self.store.segment("j1", t["labels"]["labels"][1]["value"])) for t in task_infos]
        self.calls.append(
            (
                "accept",
                (offer_ids, [t["task_id"]["value"] for t in task_infos], [s.state for s in states if s]),
            )
        )
        if self.fail_accept:
            raise MesosDisconnected("stream closed")

    async def decline(self, offer_ids: list[str], refuse_seconds: float) -> None:
        self.calls.append(("decline", (offer_ids, refuse_seconds)))

    async def revive(self, roles: list[str] | None = None) -> None:
        self.calls.append(("revive", roles))

    async def suppress(self, roles: list[str] | None = None) -> None:
        self.calls.append(("suppress", roles))

    async def kill(self, task_id: str, agent_id: str | None, grace_seconds: float | None = None) -> None:
        self.calls.append(("kill", task_id))

    async def acknowledge(self, agent_id: str, task_id: str, uuid: str) -> None:
        job, key, _ = task_id.split(".")
        seg = await self.store.segment(job, key)
        self.calls.append(("ack", (task_id, uuid, seg.state if seg else None)))

    async def reconcile(self, tasks: list[tuple[str, str | None]]) -> None:
        self.calls.append(("reconcile", tasks))

    async def close(self) -> None: ...

    def of(self, kind: str) -> list[Any]:
        return [args for k, args in self.calls if k == kind]


def offer(i: int, cpus: float = 2.0) -> Offer:
    return Offer.model_validate(
        {
            "id": {"value": f"O{i}"},
            "framework_id": {"value": "fw-0000"},
            "agent_id": {"value": f"S{i}"},
            "hostname": f"h{i}",
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": 4096.0}},
            ],
        }
    )


def status(task_id: str, state: str, uuid: str | None = "dXVpZA==", message: str | None = None) -> TaskStatus:
    body: dict[str, Any] = {"task_id": {"value": task_id}, "state": state, "agent_id": {"value": "S1"}}
    if uuid:
        body["uuid"] = uuid
    if message:
        body["message"] = message
    return TaskStatus.model_validate(body)


@pytest.fixture
async def parts(
    redis_url: str, redis_client: sync_redis.Redis
) -> AsyncIterator[tuple[RedisStore, RecordingMesos, Launcher, UpdateHandler]]:
    client = aioredis.Redis.from_url(redis_url)
    store = RedisStore(client)
    await store.create_job("j1", SPEC, now=NOW)
    await store.transition_job("j1", JobState.PLANNING, now=NOW)
    plan = plan_job(SPEC, MEDIA, PlanLimits(parallelism=2))
    await store.start_running(
        "j1", plan, MEDIA, segment_records(plan, TaskResources(1, 512, 0.5, 128), NOW), now=NOW
    )
    mesos = RecordingMesos(store)
    objects = Objects()
    launcher = Launcher(
        store,
        mesos,
        PayloadBuilder(objects, expires_seconds=60, preset="veryfast", threads=1),
        LaunchSettings(
            image="juice-worker:test", kill_grace_seconds=5, refuse_seconds=5, idle_refuse_seconds=60
        ),
        clock=lambda: NOW,
    )
    updates = UpdateHandler(
        store,
        mesos,
        objects,
        policy=RetryPolicy(),
        clock=lambda: NOW,
        rng=random.Random(1),
        kill_grace_seconds=5,
    )
    yield store, mesos, launcher, updates
    await client.aclose()


async def test_launch_is_persisted_before_accept_and_rest_declined(parts: Any) -> None:
    store, mesos, launcher, _ = parts
    assert await launcher.on_offers([offer(1, cpus=1.0), offer(3, cpus=0.2)]) == 1
    assert mesos.of("decline") == [(["O3"], 5)]  # work still waits: a short filter
    assert await launcher.on_offers([offer(2, cpus=1.0), offer(4)]) == 1
    assert mesos.of("decline")[-1] == (["O4"], 60)  # nothing waits any more: a long one
    accepts = mesos.of("accept")
    assert [a[1] for a in accepts] == [["j1.v0000.1"], ["j1.v0001.1"]]
    assert all(a[2] == [SegmentState.LAUNCHING] for a in accepts)  # already LAUNCHING when ACCEPT went out
    assert await store.active_tasks() == [("j1.v0000.1", "S1"), ("j1.v0001.1", "S2")]


async def test_update_is_persisted_before_ack_and_only_uuid_updates_are_acked(parts: Any) -> None:
    store, mesos, launcher, updates = parts
    await launcher.on_offers([offer(1)])
    await updates.on_update(status("j1.v0000.1", "TASK_RUNNING"))
    assert mesos.of("ack") == [("j1.v0000.1", "dXVpZA==", SegmentState.RUNNING)]
    await updates.on_update(status("j1.v0001.1", "TASK_RUNNING", uuid=None))  # a reconciliation answer
    assert len(mesos.of("ack")) == 1
    seg = await store.segment("j1", "v0001")
    assert seg is not None and seg.state is SegmentState.RUNNING
    assert mesos.of("kill") == []


async def test_failed_accept_requeues_the_segments(parts: Any) -> None:
    store, mesos, launcher, updates = parts
    mesos.fail_accept = True
    launched: list[tuple[str, str, str, str]] = []
    launcher.bind(lambda *a: launched.append(a))
    await launcher.on_offers([offer(1, cpus=1.0)])
    assert launched and launched[0][:3] == ("j1", "v0000", "j1.v0000.1")
    await updates.fail_attempt("j1", "v0000", "j1.v0000.1", FailureKind.CLUSTER, launched[0][3])
    seg = await store.segment("j1", "v0000")
    assert (
        seg is not None
        and seg.state is SegmentState.PENDING
        and seg.cluster_failures == 1
        and seg.task_id == ""
    )


async def test_tasks_that_should_not_run_are_killed(parts: Any) -> None:
    _, mesos, launcher, updates = parts
    await updates.on_update(status("someone-else.v0.1", "TASK_RUNNING"))
    await launcher.on_offers([offer(1, cpus=1.0)])
    await updates.on_update(status("j1.v0000.1", "TASK_RUNNING"))
    await updates.on_update(status("j1.v0000.1", "TASK_RUNNING"))  # a duplicate is harmless
    assert mesos.of("kill") == ["someone-else.v0.1"]
    assert len(mesos.of("ack")) == 3  # every update with a uuid is acknowledged once handled


async def test_finished_without_manifest_is_a_worker_failure(parts: Any) -> None:
    store, _, launcher, updates = parts
    await launcher.on_offers([offer(1, cpus=1.0)])
    await updates.on_update(status("j1.v0000.1", "TASK_FINISHED"))
    seg = await store.segment("j1", "v0000")
    assert seg is not None and seg.state is SegmentState.PENDING and seg.worker_failures == 1
    assert "manifest" in seg.reason


async def test_input_failure_fails_the_job_and_kills_the_rest(parts: Any) -> None:
    store, mesos, launcher, updates = parts
    await launcher.on_offers([offer(1)])
    await updates.on_update(status("j1.v0000.1", "TASK_FAILED", message="Command exited with status 3"))
    job = await store.get_job("j1")
    assert job is not None and job.state is JobState.FAILED and job.reason.startswith("v0000: input")
    assert mesos.of("kill") == ["j1.v0001.1"]
    assert await store.pending_count() == 0 and await store.active_tasks() == []
