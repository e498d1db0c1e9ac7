"""The scheduler's run-until-idle mode, in process: it returns once every job has ended."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis as sync_redis

from juice.config import Settings
from juice.core.states import JobState, SegmentState
from juice.devcluster.server import DevClusterConfig, DevClusterThread
from juice.local.ceph_rgw import CephRGW
from juice.media.samples import make_clip
from juice.runtime import build
from juice.storage.s3 import S3Store
from juice.store import keys


async def test_run_until_idle_returns_when_every_job_has_ended(
    redis_url: str, redis_client: sync_redis.Redis, rgw: CephRGW, s3_store: S3Store, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "idle.mp4", seconds=4, rate="25", width=160, height=90)
    s3_store.ensure_bucket("uploads")
    s3_store.ensure_bucket("streams")
    s3_store.put_file("uploads", "idle/idle.mp4", str(clip), "video/mp4")
    job = {
        "id": "idle-1",
        "source": "s3://uploads/idle/idle.mp4",
        "output": "s3://streams/idle-1/",
        "renditions": [{"height": 90, "video_bitrate": "150k"}],
        "segment_seconds": 2,
    }
    redis_client.xadd(keys.INTAKE_STREAM, {"job": json.dumps(job)})
    with DevClusterThread(DevClusterConfig(agents=1, cpus=2.0, mem=2048.0)) as cluster:
        settings = Settings(
            redis_url=redis_url,
            mesos_master=cluster.url,
            s3_endpoint=rgw.endpoint,
            s3_access_key=rgw.access_key,
            s3_secret_key=rgw.secret_key,
            refuse_seconds=1.0,
            leader_lease_seconds=3.0,
        )
        fw = await build(settings)
        try:
            await asyncio.wait_for(fw.service.run(until_idle=True), timeout=120)
            record = await fw.store.get_job("idle-1")
            assert record is not None and record.state is JobState.SUCCEEDED, record
            segments = await fw.store.segments("idle-1")
            assert {s.state for s in segments.values()} == {SegmentState.DONE}
            assert fw.service.offers_suppressed
        finally:
            await fw.redis.aclose()
            await fw.intake_redis.aclose()
        state = cluster.state()
        assert all(f["tasks"] == [] for f in state["frameworks"])
        assert redis_client.get(keys.LEADER) is None  # the lease is released on the way out
