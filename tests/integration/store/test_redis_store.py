"""The store's transitions on a real Redis: atomic compare-and-set, indexes and events in step."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from juice.core.plan import PlanLimits, plan_job
from juice.core.states import JobState, SegmentState
from juice.scheduler.planner import TaskResources, segment_records
from juice.store import keys
from juice.store.redis_store import RedisStore
from tests.factories import media, spec, video

SPEC = spec("j1")
MEDIA = media(video(w=640, h=360, frames=375), audio=0)


@pytest.fixture
async def store(redis_url: str, redis_client: sync_redis.Redis) -> AsyncIterator[RedisStore]:
    client = aioredis.Redis.from_url(redis_url)
    yield RedisStore(client)
    await client.aclose()


async def running_job(store: RedisStore, now: float = 1000.0) -> None:
    assert await store.create_job("j1", SPEC, now=now)
    assert (await store.transition_job("j1", JobState.PLANNING, now=now))[0]
    plan = plan_job(SPEC, MEDIA, PlanLimits(parallelism=3))
    assert await store.start_running(
        "j1", plan, MEDIA, segment_records(plan, TaskResources(1, 512, 0.5, 128), now), now=now
    )


async def test_create_is_idempotent_and_rejected_jobs_are_terminal(store: RedisStore) -> None:
    assert await store.create_job("j1", SPEC, now=1.0)
    assert not await store.create_job("j1", SPEC, now=2.0)
    job = await store.get_job("j1")
    assert job is not None and job.state is JobState.QUEUED and job.created_at == 1.0
    assert await store.active_jobs() == ["j1"]
    assert await store.create_job("bad", None, now=3.0, reason="renditions: field required")
    bad = await store.get_job("bad")
    assert bad is not None and bad.state is JobState.REJECTED and bad.finished_at == 3.0
    assert await store.active_jobs() == ["j1"]


async def test_job_transitions_compare_and_set(store: RedisStore) -> None:
    await store.create_job("j1", SPEC, now=1.0)
    assert not (await store.transition_job("j1", JobState.RUNNING, now=2.0))[0]  # QUEUED cannot jump
    assert (await store.transition_job("j1", JobState.PLANNING, now=2.0))[0]
    assert not (await store.transition_job("j1", JobState.PLANNING, now=3.0))[0]  # already there
    assert not (await store.transition_job("nope", JobState.PLANNING, now=3.0))[0]


async def test_start_running_queues_every_segment(store: RedisStore) -> None:
    await running_job(store)
    segs = await store.segments("j1")
    assert list(segs) == ["v0000", "v0001", "v0002"]
    assert all(s.state is SegmentState.PENDING for s in segs.values())
    assert await store.ready_pending(1000.0, 10) == [("j1", "v0000"), ("j1", "v0001"), ("j1", "v0002")]
    assert await store.ready_pending(999.0, 10) == []


async def test_launch_run_done_keeps_indexes_in_step(store: RedisStore) -> None:
    await running_job(store)
    seg = await store.transition_segment(
        "j1",
        "v0000",
        SegmentState.LAUNCHING,
        now=1001.0,
        new_task_id="j1.v0000.1",
        patch={"task_id": "j1.v0000.1", "agent_id": "S1", "attempt": 1},
        require_job=JobState.RUNNING,
    )
    assert seg is not None and seg.state is SegmentState.LAUNCHING and seg.attempt == 1
    assert await store.lookup_task("j1.v0000.1") == ("j1", "v0000", 1)
    assert await store.active_tasks() == [("j1.v0000.1", "S1")]
    assert ("j1", "v0000") not in await store.ready_pending(2000.0, 10)
    # a second launch of the same segment loses the compare-and-set
    again = await store.transition_segment(
        "j1",
        "v0000",
        SegmentState.LAUNCHING,
        now=1001.0,
        new_task_id="j1.v0000.2",
        patch={"task_id": "j1.v0000.2"},
    )
    assert again is None
    # an update for another task id does not move it
    assert (
        await store.transition_segment("j1", "v0000", SegmentState.RUNNING, now=1002.0, expect_task="x")
        is None
    )
    assert await store.transition_segment(
        "j1", "v0000", SegmentState.RUNNING, now=1002.0, expect_task="j1.v0000.1"
    )
    done = await store.transition_segment(
        "j1", "v0000", SegmentState.DONE, now=1003.0, expect_task="j1.v0000.1"
    )
    assert done is not None and done.state is SegmentState.DONE
    assert await store.active_tasks() == []


async def test_retry_requeues_with_backoff(store: RedisStore) -> None:
    await running_job(store)
    await store.transition_segment(
        "j1",
        "v0001",
        SegmentState.LAUNCHING,
        now=1001.0,
        new_task_id="j1.v0001.1",
        patch={"task_id": "j1.v0001.1", "agent_id": "S1", "attempt": 1},
    )
    seg = await store.transition_segment(
        "j1",
        "v0001",
        SegmentState.PENDING,
        now=1002.0,
        expect_task="j1.v0001.1",
        pending_at=1010.0,
        patch={"task_id": "", "agent_id": "", "last_agent": "S1", "worker_failures": 1, "reason": "boom"},
    )
    assert seg is not None and seg.last_agent == "S1" and seg.attempt == 1 and seg.worker_failures == 1
    assert ("j1", "v0001") not in await store.ready_pending(1009.0, 10)
    assert ("j1", "v0001") in await store.ready_pending(1010.0, 10)
    assert await store.active_tasks() == []


async def test_failing_a_job_cancels_its_segments_and_returns_tasks_to_kill(store: RedisStore) -> None:
    await running_job(store)
    await store.transition_segment(
        "j1",
        "v0000",
        SegmentState.LAUNCHING,
        now=1001.0,
        new_task_id="j1.v0000.1",
        patch={"task_id": "j1.v0000.1", "agent_id": "S2", "attempt": 1},
    )
    done, kill = await store.transition_job(
        "j1", JobState.FAILED, now=1005.0, fields={"reason": "input: bad"}
    )
    assert done and kill == [("j1.v0000.1", "S2")]
    segs = await store.segments("j1")
    assert {s.state for s in segs.values()} == {SegmentState.CANCELLED}
    assert (
        await store.pending_count() == 0
        and await store.active_tasks() == []
        and await store.active_jobs() == []
    )
    job = await store.get_job("j1")
    assert job is not None and job.reason == "input: bad" and job.finished_at == 1005.0
    # no launch is possible for an ended job
    assert (
        await store.transition_segment(
            "j1", "v0001", SegmentState.LAUNCHING, now=1006.0, require_job=JobState.RUNNING
        )
        is None
    )


async def test_every_transition_appends_an_event(store: RedisStore, redis_client: sync_redis.Redis) -> None:
    await running_job(store)
    events = redis_client.xrange(keys.EVENTS)
    tos = [e[1][b"to"].decode() for e in events]
    assert tos == ["QUEUED", "PLANNING", "RUNNING"]


async def test_framework_id_round_trip(store: RedisStore) -> None:
    assert await store.framework_id() is None
    await store.save_framework_id("abc-0001")
    assert await store.framework_id() == "abc-0001"
    await store.forget_framework_id()
    assert await store.framework_id() is None


async def test_progress_reports_are_kept_while_running_and_dropped_at_the_end(store: RedisStore) -> None:
    from juice.core.worktask import TaskProgress

    await running_job(store)
    report = TaskProgress(
        task_key="v0000", phase="encoding", frames=42, out_seconds=1.68, speed=2.5, at=1001.0
    )
    await store.save_progress("j1", {"v0000": report})
    assert await store.progress("j1") == {"v0000": report}
    await store.transition_job("j1", JobState.FAILED, now=1002.0, fields={"reason": "x"})
    assert await store.progress("j1") == {}
