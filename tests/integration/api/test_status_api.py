"""The status API over HTTP (Starlette test client) on a real Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from juice.api.app import create_app
from juice.core.jobspec import JobSpec
from juice.store import keys
from juice.store.redis_store import RedisStore
from tests.factories import media as make_media
from tests.factories import video

GOOD = {
    "id": "clip-7",
    "source": "s3://uploads/c.mp4",
    "output": "s3://streams/clip-7/",
    "renditions": [{"height": 360, "video_bitrate": "800k"}],
}


@pytest.fixture
async def api(
    redis_url: str, redis_client: sync_redis.Redis
) -> AsyncIterator[tuple[httpx.AsyncClient, RedisStore]]:
    client = aioredis.Redis.from_url(redis_url)
    store = RedisStore(client)
    subscribed = {"value": False}
    app = create_app(store, subscribed=lambda: subscribed["value"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        yield http, store
    await client.aclose()


async def test_unknown_job_is_404(api: tuple[httpx.AsyncClient, RedisStore]) -> None:
    http, _ = api
    r = await http.get("/jobs/nope")
    assert r.status_code == 404 and "nope" in r.json()["error"]


async def test_job_status_shape(api: tuple[httpx.AsyncClient, RedisStore]) -> None:
    http, store = api
    await store.create_job("clip-7", JobSpec.model_validate(GOOD), now=1_700_000_000.0)
    body = (await http.get("/jobs/clip-7")).json()
    assert body["state"] == "QUEUED"
    assert body["created_at"] == "2023-11-14T22:13:20.000+00:00"
    assert body["segments"]["total"] == 0 and body["progress"] == 0.0
    assert (
        body["output"] == "s3://streams/clip-7/"
        and body["master_playlist"] is None
        and body["reason"] is None
    )


async def test_rejected_job_shows_its_reason(api: tuple[httpx.AsyncClient, RedisStore]) -> None:
    http, store = api
    await store.create_job("bad", None, now=1.0, reason="renditions: List should have at least 1 item")
    body = (await http.get("/jobs/bad")).json()
    assert body["state"] == "REJECTED" and "renditions" in body["reason"] and body["finished_at"] is not None


async def test_post_goes_through_the_intake_stream(
    api: tuple[httpx.AsyncClient, RedisStore], redis_client: sync_redis.Redis
) -> None:
    http, _ = api
    r = await http.post("/jobs", content=json.dumps(GOOD))
    assert r.status_code == 202 and r.json()["status"] == "/jobs/clip-7"
    entries = redis_client.xrange(keys.INTAKE_STREAM)
    assert JobSpec.model_validate_json(entries[0][1][b"job"]).id == "clip-7"
    bad = await http.post("/jobs", content=json.dumps({**GOOD, "renditions": []}))
    assert bad.status_code == 422 and "renditions" in bad.json()["error"]
    assert len(redis_client.xrange(keys.INTAKE_STREAM)) == 1


async def test_health_and_readiness(api: tuple[httpx.AsyncClient, RedisStore]) -> None:
    http, _ = api
    assert (await http.get("/healthz")).json() == {"status": "ok", "mesos_subscribed": False}
    assert (await http.get("/readyz")).status_code == 503


def test_progress_counts_frames_of_done_and_running_chunks() -> None:
    from juice.api.app import job_view
    from juice.core.plan import PlanLimits, plan_job
    from juice.core.records import JobRecord
    from juice.core.states import JobState, SegmentState
    from juice.core.worktask import TaskProgress
    from juice.scheduler.planner import TaskResources, segment_records

    spec = JobSpec.model_validate({**GOOD, "segment_seconds": 2})
    media = make_media(video(w=640, h=360, frames=200), audio=0)
    plan = plan_job(spec, media, PlanLimits(parallelism=4))
    assert [c.frame_count for c in plan.chunks] == [50, 50, 50, 50]
    job = JobRecord(id="clip-7", state=JobState.RUNNING, spec=spec, created_at=1.0, updated_at=2.0, plan=plan)
    segs = {s.key: s for s in segment_records(plan, TaskResources(1, 512, 0.5, 128), 1.0)}
    segs["v0000"] = segs["v0000"].model_copy(update={"state": SegmentState.DONE})
    segs["v0001"] = segs["v0001"].model_copy(update={"state": SegmentState.RUNNING})
    report = TaskProgress(task_key="v0001", phase="encoding", frames=25, out_seconds=1.0, speed=3.0, at=2.0)
    view = job_view(job, segs, {"v0001": report})
    assert view["progress"] == 0.375  # (50 done + 25 running) / 200
    assert view["running"] == [
        {"segment": "v0001", "phase": "encoding", "frames": 25, "out_seconds": 1.0, "speed": 3.0}
    ]
