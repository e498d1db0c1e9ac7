"""Carry the workers' progress reports (small JSON objects they PUT through presigned URLs) into Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from pydantic import ValidationError

from juice.core.states import JobState, SegmentState
from juice.core.worktask import TaskProgress
from juice.errors import ObjectNotFound, StorageError
from juice.scheduler.payloads import progress_key
from juice.storage.port import ObjectStore
from juice.store.redis_store import RedisStore

log = logging.getLogger(__name__)


class ProgressPoller:
    def __init__(
        self, store: RedisStore, objects: ObjectStore, *, clock: Callable[[], float], every: float
    ) -> None:
        self._store = store
        self._objects = objects
        self._clock = clock
        self._every = every
        self._last = 0.0

    async def maybe_poll(self) -> None:
        if self._clock() - self._last < self._every:
            return
        self._last = self._clock()
        for job_id in await self._store.active_jobs():
            await self.poll_job(job_id)

    async def poll_job(self, job_id: str) -> None:
        job = await self._store.get_job(job_id)
        if job is None or job.state is not JobState.RUNNING or job.spec is None:
            return
        bucket, prefix = job.spec.output_location
        running = [
            k for k, s in (await self._store.segments(job_id)).items() if s.state is SegmentState.RUNNING
        ]
        reports = await asyncio.gather(
            *(asyncio.to_thread(self._read, bucket, progress_key(prefix, k)) for k in running)
        )
        found = {k: r for k, r in zip(running, reports, strict=True) if r is not None}
        if found:
            await self._store.save_progress(job_id, found)

    def _read(self, bucket: str, key: str) -> TaskProgress | None:
        try:
            return TaskProgress.model_validate_json(self._objects.get_bytes(bucket, key))
        except ObjectNotFound:
            return None
        except (StorageError, ValidationError) as exc:
            log.debug("progress unreadable", extra={"key": key, "reason": str(exc)})
            return None
