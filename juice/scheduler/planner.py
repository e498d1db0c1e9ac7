"""QUEUED → PLANNING → RUNNING: probe the source through a presigned URL and store the plan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from juice.core.jobspec import JobSpec
from juice.core.mediainfo import MediaInfo
from juice.core.plan import JobPlan, PlanLimits, plan_job
from juice.core.records import SegmentRecord
from juice.core.states import JobState, SegmentState
from juice.errors import PlanningError, StorageError
from juice.storage.port import ObjectStore
from juice.store.redis_store import RedisStore

log = logging.getLogger(__name__)

ProbeFn = Callable[[str], MediaInfo]


class TaskResources:
    def __init__(self, video_cpus: float, video_mem: float, audio_cpus: float, audio_mem: float) -> None:
        self.video = (video_cpus, video_mem)
        self.audio = (audio_cpus, audio_mem)


def segment_records(plan: JobPlan, res: TaskResources, now: float) -> list[SegmentRecord]:
    records = [
        SegmentRecord(
            key=a.key,
            kind="audio",
            state=SegmentState.PENDING,
            cpus=res.audio[0],
            mem=res.audio[1],
            not_before=now,
        )
        for a in plan.audio
    ]
    records += [
        SegmentRecord(
            key=c.key,
            kind="video",
            state=SegmentState.PENDING,
            cpus=res.video[0],
            mem=res.video[1],
            not_before=now,
        )
        for c in plan.chunks
    ]
    return records


class Planner:
    def __init__(
        self,
        store: RedisStore,
        objects: ObjectStore,
        *,
        probe: ProbeFn,
        limits: Callable[[], PlanLimits],
        resources: TaskResources,
        presign_seconds: int,
        clock: Callable[[], float],
        max_concurrent: int = 2,
    ) -> None:
        self._store = store
        self._objects = objects
        self._probe = probe
        self._limits = limits
        self._res = resources
        self._presign = presign_seconds
        self._clock = clock
        self._sem = asyncio.Semaphore(max_concurrent)

    async def plan(self, job_id: str) -> bool:
        """Plan one job. True when it is RUNNING with its segments queued for offers."""
        async with self._sem:
            job = await self._store.get_job(job_id)
            if job is None or job.spec is None:
                return False
            if job.state is JobState.QUEUED:
                moved, _ = await self._store.transition_job(job_id, JobState.PLANNING, now=self._clock())
                if not moved:
                    return False
                log.info("job planning", extra={"job": job_id, "state": "PLANNING"})
            elif job.state is not JobState.PLANNING:  # PLANNING again = resumed after a restart
                return False
            return await self._plan(job.spec)

    async def _plan(self, spec: JobSpec) -> bool:
        try:
            media = await asyncio.to_thread(self._probe_source, spec)
            plan = plan_job(spec, media, self._limits())
        except PlanningError as exc:
            await self._fail(spec.id, f"input: {exc}")
            return False
        except StorageError as exc:  # storage is down, not the input's fault: stay PLANNING, retried later
            log.warning("planning deferred", extra={"job": spec.id, "reason": str(exc)})
            return False
        now = self._clock()
        started = await self._store.start_running(
            spec.id, plan, media, segment_records(plan, self._res, now), now=now
        )
        if started:
            log.info(
                "job running",
                extra={
                    "job": spec.id,
                    "state": "RUNNING",
                    "frames": plan.total_frames,
                    "frame_rate": plan.frame_rate,
                    "chunks": len(plan.chunks),
                    "renditions": [r.name for r in plan.renditions],
                },
            )
        return started

    def _probe_source(self, spec: JobSpec) -> MediaInfo:
        bucket, key = spec.source_location
        if not self._objects.exists(bucket, key):
            raise PlanningError(f"source {spec.source} does not exist")
        return self._probe(self._objects.presign_get(bucket, key, self._presign))

    async def _fail(self, job_id: str, reason: str) -> None:
        await self._store.transition_job(
            job_id, JobState.FAILED, now=self._clock(), fields={"reason": reason}
        )
        log.warning("job failed", extra={"job": job_id, "state": "FAILED", "reason": reason})
