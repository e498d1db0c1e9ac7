"""Build the worker payload of one attempt: presigned URLs scoped to its own input and outputs."""

from __future__ import annotations

from juice.core.jobspec import JobSpec
from juice.core.plan import AudioPlan, ChunkPlan, JobPlan
from juice.core.worktask import TS_OFFSET_SECONDS, AudioTask, VideoChunkTask, VideoOutput, WorkerTask
from juice.storage.port import ObjectStore

MANIFEST_DIR = ".juice"


def segment_key(prefix: str, rendition: str, number: int) -> str:
    return f"{prefix}{rendition}/seg_{number:05d}.m4s"


def manifest_key(prefix: str, task_key: str) -> str:
    return f"{prefix}{MANIFEST_DIR}/{task_key}.json"


def progress_key(prefix: str, task_key: str) -> str:
    return f"{prefix}{MANIFEST_DIR}/progress/{task_key}.json"


class PayloadBuilder:
    def __init__(self, store: ObjectStore, *, expires_seconds: int, preset: str, threads: int) -> None:
        self._store = store
        self._expires = expires_seconds
        self._preset = preset
        self._threads = threads

    def _put(self, bucket: str, key: str) -> str:
        return self._store.presign_put(bucket, key, self._expires)

    def build(self, spec: JobSpec, plan: JobPlan, task_key: str) -> WorkerTask:
        src_bucket, src_key = spec.source_location
        source_url = self._store.presign_get(src_bucket, src_key, self._expires)
        for chunk in plan.chunks:
            if chunk.key == task_key:
                return WorkerTask(task=self._video(spec, plan, chunk, source_url))
        for audio in plan.audio:
            if audio.key == task_key:
                return WorkerTask(task=self._audio(spec, plan, audio, source_url))
        raise KeyError(f"job {spec.id} has no task {task_key}")

    def _video(self, spec: JobSpec, plan: JobPlan, chunk: ChunkPlan, source_url: str) -> VideoChunkTask:
        bucket, prefix = spec.output_location
        numbers = range(chunk.first_segment, chunk.first_segment + chunk.segment_count)
        outputs = [
            VideoOutput(
                name=r.name,
                width=r.width,
                height=r.height,
                video_bitrate=r.video_bitrate,
                max_rate=r.max_rate,
                profile=r.profile,
                init_url=self._put(bucket, f"{prefix}{r.name}/init.mp4"),
                segment_urls=[self._put(bucket, segment_key(prefix, r.name, n)) for n in numbers],
            )
            for r in plan.renditions
        ]
        return VideoChunkTask(
            job_id=spec.id,
            task_key=chunk.key,
            source_url=source_url,
            frame_rate=plan.frame_rate,
            first_frame=chunk.first_frame,
            frame_count=chunk.frame_count,
            segment_frames=plan.segment_frames,
            gop_frames=plan.gop_frames,
            first_segment=chunk.first_segment,
            constant_rate=plan.constant_rate,
            ts_offset=TS_OFFSET_SECONDS,
            preset=self._preset,
            threads=self._threads,
            renditions=outputs,
            manifest_url=self._put(bucket, manifest_key(prefix, chunk.key)),
            progress_url=self._put(bucket, progress_key(prefix, chunk.key)),
        )

    def _audio(self, spec: JobSpec, plan: JobPlan, audio: AudioPlan, source_url: str) -> AudioTask:
        bucket, prefix = spec.output_location
        return AudioTask(
            job_id=spec.id,
            task_key=audio.key,
            source_url=source_url,
            stream_index=audio.stream_ordinal,
            name=audio.name,
            bitrate=audio.bitrate,
            duration=plan.duration,
            segment_seconds=plan.segment_seconds,
            ts_offset=TS_OFFSET_SECONDS + audio.ts_shift,
            init_url=self._put(bucket, f"{prefix}{audio.name}/init.mp4"),
            segment_urls=[
                self._put(bucket, segment_key(prefix, audio.name, n)) for n in range(audio.segment_count_max)
            ],
            manifest_url=self._put(bucket, manifest_key(prefix, audio.key)),
            progress_url=self._put(bucket, progress_key(prefix, audio.key)),
        )
