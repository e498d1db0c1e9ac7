"""Check each finished task's manifest, and stitch the job once every segment is DONE."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable

from pydantic import ValidationError

from juice.core.jobspec import JobSpec
from juice.core.plan import JobPlan
from juice.core.states import JobState
from juice.core.worktask import TaskManifest
from juice.errors import JuiceError, ObjectNotFound, StitchError, StorageError
from juice.media.hlscheck import download_prefix
from juice.media.stitch import stitch
from juice.media.validate import validate
from juice.scheduler.payloads import manifest_key
from juice.storage.port import ObjectStore
from juice.store.redis_store import RedisStore

log = logging.getLogger(__name__)


def check_manifest(plan: JobPlan, key: str, manifest: TaskManifest) -> str | None:
    """Why a finished task's manifest does not match its plan, or None when it does."""
    if manifest.task_key != key:
        return f"manifest is for task {manifest.task_key}, expected {key}"
    chunk = next((c for c in plan.chunks if c.key == key), None)
    if chunk is None:
        return None if manifest.kind == "audio" and manifest.renditions else "audio manifest has no rendition"
    want = {r.name for r in plan.renditions}
    got = {r.name for r in manifest.renditions}
    if want != got:
        return f"renditions {sorted(got)} differ from the plan's {sorted(want)}"
    numbers = list(range(chunk.first_segment, chunk.first_segment + chunk.segment_count))
    for r in manifest.renditions:
        if r.frame_count != chunk.frame_count:
            return f"{r.name}: {r.frame_count} frames encoded, plan says {chunk.frame_count}"
        if [s.number for s in r.segments] != numbers:
            return f"{r.name}: segments {[s.number for s in r.segments]}, plan says {numbers}"
    return None


def load_manifest(objects: ObjectStore, spec: JobSpec, key: str) -> TaskManifest:
    """Raises StitchError when the manifest is missing or malformed, StorageError when S3 fails."""
    bucket, prefix = spec.output_location
    try:
        return TaskManifest.model_validate_json(objects.get_bytes(bucket, manifest_key(prefix, key)))
    except ObjectNotFound as exc:
        raise StitchError(f"task {key} finished without writing its manifest") from exc
    except ValidationError as exc:
        raise StitchError(f"task {key} wrote a malformed manifest: {exc.error_count()} errors") from exc


def verify_task_output(objects: ObjectStore, spec: JobSpec, plan: JobPlan, key: str) -> str | None:
    """None when the task's output is usable; otherwise the reason (the attempt counts as failed)."""
    try:
        return check_manifest(plan, key, load_manifest(objects, spec, key))
    except StitchError as exc:
        return str(exc)


def stitch_job(objects: ObjectStore, spec: JobSpec, plan: JobPlan, *, presign_seconds: int = 3600) -> str:
    """Write the media playlists and the master playlist, then validate the package against the source.

    Returns the master's s3:// URL. A package that fails validation loses its master playlist (so no
    client takes it for a finished stream) and the job fails with the validator's reasons.
    """
    bucket, prefix = spec.output_location
    video = [load_manifest(objects, spec, c.key) for c in plan.chunks]
    audio = load_manifest(objects, spec, plan.audio[0].key) if plan.audio else None
    result = stitch(
        objects,
        bucket,
        prefix,
        video=video,
        audio=audio,
        frame_rate=plan.frame_rate,
        expected_frames=plan.total_frames,
    )
    problems = validate_package(objects, spec, plan, result.master_key, presign_seconds)
    if problems:
        objects.delete_prefix(bucket, result.master_key)
        raise StitchError("validation failed: " + "; ".join(problems[:5]))
    return f"s3://{bucket}/{result.master_key}"


def validate_package(
    objects: ObjectStore, spec: JobSpec, plan: JobPlan, master_key: str, presign_seconds: int
) -> list[str]:
    """The validator on a local mirror of the output, with content checked around every join."""
    bucket, prefix = spec.output_location
    src_bucket, src_key = spec.source_location
    source_url = objects.presign_get(src_bucket, src_key, presign_seconds)
    with tempfile.TemporaryDirectory(prefix="juice-validate-") as tmp:
        local = download_prefix(objects, bucket, prefix, tmp)
        report = validate(
            local / master_key[len(prefix) :],
            source=source_url,
            expected_frames=plan.total_frames,
            psnr="joins",
            segment_frames=plan.segment_frames,
        )
    log.info("package validated", extra={"job": spec.id, "ok": report.ok, "failures": report.failures[:5]})
    return [] if report.ok else list(report.failures)


class Finisher:
    def __init__(self, store: RedisStore, objects: ObjectStore, *, clock: Callable[[], float]) -> None:
        self._store = store
        self._objects = objects
        self._clock = clock
        self._running: set[str] = set()

    @property
    def busy(self) -> bool:
        return bool(self._running)

    async def finish(self, job_id: str) -> None:
        """STITCHING → SUCCEEDED, or FAILED with the reason. Safe to call again after a restart."""
        if job_id in self._running:
            return
        self._running.add(job_id)
        try:
            await self._finish(job_id)
        finally:
            self._running.discard(job_id)

    async def _finish(self, job_id: str) -> None:
        job = await self._store.get_job(job_id)
        if job is None or job.state is not JobState.STITCHING or job.spec is None or job.plan is None:
            return
        try:
            master = await asyncio.to_thread(stitch_job, self._objects, job.spec, job.plan)
        except StorageError as exc:  # storage is away, not the output's fault: stays STITCHING, retried
            log.warning("stitch deferred", extra={"job": job_id, "reason": str(exc)})
            return
        except JuiceError as exc:  # the workers' output cannot make a valid package
            await self._store.transition_job(
                job_id, JobState.FAILED, now=self._clock(), fields={"reason": f"stitch: {exc}"}
            )
            log.warning("job failed", extra={"job": job_id, "state": "FAILED", "reason": str(exc)})
            return
        await self._store.transition_job(
            job_id, JobState.SUCCEEDED, now=self._clock(), fields={"master": master}
        )
        log.info("job succeeded", extra={"job": job_id, "state": "SUCCEEDED", "master": master})
