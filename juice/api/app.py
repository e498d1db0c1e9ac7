"""Status API: GET /jobs/{id}, POST /jobs, GET /healthz, GET /readyz.

The API reads the same Redis state the scheduler writes; POST /jobs goes through the same intake stream
as upload services (`XADD juice:jobs * job <json>`), so both paths behave identically.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from juice.core.jobspec import JobSpec
from juice.core.records import JobRecord, SegmentRecord
from juice.core.states import SegmentState
from juice.core.worktask import TaskProgress
from juice.errors import StoreError
from juice.scheduler.intake import validation_message
from juice.store import keys
from juice.store.redis_store import RedisStore


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds") if ts is not None else None


def _frames_done(
    job: JobRecord, segments: dict[str, SegmentRecord], progress: dict[str, TaskProgress]
) -> int:
    if job.plan is None:
        return 0
    done = 0
    for chunk in job.plan.chunks:
        seg = segments.get(chunk.key)
        if seg is not None and seg.state is SegmentState.DONE:
            done += chunk.frame_count
        elif seg is not None and seg.state is SegmentState.RUNNING and chunk.key in progress:
            done += min(progress[chunk.key].frames, chunk.frame_count)
    return done


def job_view(
    job: JobRecord, segments: dict[str, SegmentRecord], progress: dict[str, TaskProgress] | None = None
) -> dict[str, Any]:
    progress = progress or {}
    counts = {s.value: 0 for s in SegmentState}
    for seg in segments.values():
        counts[seg.state.value] += 1
    total = len(segments)
    view: dict[str, Any] = {
        "id": job.id,
        "state": job.state.value,
        "reason": job.reason or None,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "finished_at": _iso(job.finished_at),
        "source": job.spec.source if job.spec else None,
        "output": job.spec.output if job.spec else None,
        "master_playlist": job.master or None,
        "segments": {"total": total, **counts},
        "progress": round(counts["DONE"] / total, 4) if total else 0.0,
    }
    if job.plan is not None and job.plan.total_frames:
        view["progress"] = round(_frames_done(job, segments, progress) / job.plan.total_frames, 4)
    running = [
        {
            "segment": k,
            "phase": p.phase,
            "frames": p.frames,
            "out_seconds": round(p.out_seconds, 3),
            "speed": p.speed,
        }
        for k, p in sorted(progress.items())
        if k in segments and segments[k].state is SegmentState.RUNNING
    ]
    if running:
        view["running"] = running
    if job.plan is not None:
        view["plan"] = {
            "frames": job.plan.total_frames,
            "frame_rate": job.plan.frame_rate,
            "duration": round(job.plan.duration, 3),
            "segment_seconds": round(job.plan.segment_seconds, 6),
            "segments": job.plan.segment_count,
            "chunks": len(job.plan.chunks),
            "renditions": [f"{r.width}x{r.height}" for r in job.plan.renditions],
            "audio": bool(job.plan.audio),
        }
    failed = [
        f"{s.key}: {s.reason}" for s in segments.values() if s.reason and s.state is not SegmentState.DONE
    ]
    if failed:
        view["segment_errors"] = failed[:20]
    return view


def create_app(store: RedisStore, *, subscribed: Callable[[], bool] | None = None) -> Starlette:
    """`subscribed` reports whether the scheduler in this process holds a Mesos subscription (readiness)."""

    async def get_job(request: Request) -> JSONResponse:
        job_id = request.path_params["job_id"]
        try:
            job = await store.get_job(job_id)
            if job is None:
                return JSONResponse({"error": f"no job {job_id!r}"}, status_code=404)
            return JSONResponse(job_view(job, await store.segments(job_id), await store.progress(job_id)))
        except StoreError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    async def submit(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            spec = JobSpec.model_validate_json(body)
        except ValidationError as exc:
            return JSONResponse({"error": validation_message(exc)}, status_code=422)
        try:
            entry = await store.client.xadd(keys.INTAKE_STREAM, {"job": spec.model_dump_json()})
        except RedisError as exc:
            return JSONResponse({"error": f"redis: {exc}"}, status_code=503)
        entry_id = entry.decode() if isinstance(entry, bytes) else str(entry)
        return JSONResponse({"id": spec.id, "entry": entry_id, "status": f"/jobs/{spec.id}"}, status_code=202)

    async def healthz(_: Request) -> JSONResponse:
        try:
            await store.client.ping()
        except RedisError as exc:
            return JSONResponse({"status": "unhealthy", "redis": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "mesos_subscribed": subscribed() if subscribed else None})

    async def readyz(_: Request) -> JSONResponse:
        ready = subscribed() if subscribed else True
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    return Starlette(
        routes=[
            Route("/jobs/{job_id}", get_job, methods=["GET"]),
            Route("/jobs", submit, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ]
    )


__all__ = ["create_app", "job_view"]
