"""Intake from the juice:jobs stream on a real Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from juice.core.states import JobState
from juice.scheduler.intake import Intake
from juice.store import keys
from juice.store.redis_store import RedisStore

GOOD = {
    "id": "clip-42",
    "source": "s3://uploads/clip.mp4",
    "output": "s3://streams/clip-42/",
    "renditions": [{"height": 360, "video_bitrate": "800k"}],
}


@pytest.fixture
async def parts(redis_url: str, redis_client: sync_redis.Redis) -> AsyncIterator[tuple[Intake, RedisStore]]:
    client = aioredis.Redis.from_url(redis_url)
    store = RedisStore(client)
    intake = Intake(client, store, consumer="test", clock=lambda: 50.0)
    await intake.ensure_group()
    yield intake, store
    await client.aclose()


async def drain(intake: Intake) -> int:
    total = 0
    while n := await intake.poll(block_ms=10):
        total += n
    return total + await intake.poll(block_ms=10)


async def test_good_job_is_queued_and_acknowledged(
    parts: tuple[Intake, RedisStore], redis_client: sync_redis.Redis
) -> None:
    intake, store = parts
    redis_client.xadd(keys.INTAKE_STREAM, {"job": json.dumps(GOOD)})
    await drain(intake)
    job = await store.get_job("clip-42")
    assert job is not None and job.state is JobState.QUEUED and job.spec is not None
    assert await intake.lag() == 0


async def test_same_id_twice_is_one_job(
    parts: tuple[Intake, RedisStore], redis_client: sync_redis.Redis
) -> None:
    intake, store = parts
    redis_client.xadd(keys.INTAKE_STREAM, {"job": json.dumps(GOOD)})
    redis_client.xadd(keys.INTAKE_STREAM, {"job": json.dumps({**GOOD, "segment_seconds": 4})})
    await drain(intake)
    job = await store.get_job("clip-42")
    assert job is not None and job.spec is not None and job.spec.segment_seconds == 6.0
    assert [e[1][b"to"] for e in redis_client.xrange(keys.EVENTS)] == [b"QUEUED"]


async def test_bad_entries_are_dead_lettered_and_rejected(
    parts: tuple[Intake, RedisStore], redis_client: sync_redis.Redis
) -> None:
    intake, store = parts
    redis_client.xadd(keys.INTAKE_STREAM, {"job": "{this is not json"})
    redis_client.xadd(keys.INTAKE_STREAM, {"job": json.dumps({**GOOD, "id": "bad-1", "renditions": []})})
    redis_client.xadd(
        keys.INTAKE_STREAM, {"job": json.dumps({**GOOD, "id": "ok-2", "output": "s3://streams/ok-2/"})}
    )
    await drain(intake)
    rejected = await store.get_job("bad-1")
    assert rejected is not None and rejected.state is JobState.REJECTED and "renditions" in rejected.reason
    ok = await store.get_job("ok-2")
    assert ok is not None and ok.state is JobState.QUEUED
    dead = redis_client.xrange(keys.DEAD_STREAM)
    assert len(dead) == 2
    assert b"not valid JSON" in dead[0][1][b"error"] and dead[0][1][b"job"] == b"{this is not json"
    assert await intake.lag() == 0


async def test_unacknowledged_entries_are_read_again_after_a_restart(
    redis_url: str, redis_client: sync_redis.Redis, parts: tuple[Intake, RedisStore]
) -> None:
    _, store = parts
    redis_client.xadd(keys.INTAKE_STREAM, {"job": json.dumps(GOOD)})
    # a consumer reads the entry and dies before storing it
    redis_client.xreadgroup(keys.INTAKE_GROUP, "test", {keys.INTAKE_STREAM: ">"}, count=10)
    client = aioredis.Redis.from_url(redis_url)
    restarted = Intake(client, RedisStore(client), consumer="test", clock=lambda: 60.0)
    await drain(restarted)
    job = await store.get_job("clip-42")
    assert job is not None and job.state is JobState.QUEUED
    assert await restarted.lag() == 0
    await client.aclose()
