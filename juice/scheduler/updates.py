"""Task status updates: persist what they mean for the segment, then (and only then) acknowledge."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping

from juice.core.decisions import (
    FailSegment,
    Ignore,
    MarkDone,
    MarkRunning,
    RetrySegment,
    failure,
    on_task_status,
)
from juice.core.reasons import MESOS_ACTIVE, FailureKind, RetryPolicy
from juice.core.records import SegmentRecord
from juice.core.states import JobState, SegmentState
from juice.errors import MesosError
from juice.mesos.messages import TaskStatus
from juice.scheduler.finisher import verify_task_output
from juice.scheduler.ports import MesosCalls
from juice.storage.port import ObjectStore
from juice.store.redis_store import RedisStore

log = logging.getLogger(__name__)


class UpdateHandler:
    def __init__(
        self,
        store: RedisStore,
        mesos: MesosCalls,
        objects: ObjectStore,
        *,
        policy: RetryPolicy,
        clock: Callable[[], float],
        rng: random.Random,
        kill_grace_seconds: float,
    ) -> None:
        self._store = store
        self._mesos = mesos
        self._objects = objects
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._grace = kill_grace_seconds
        self._on_job_complete: Callable[[str], None] = lambda _: None
        self._on_job_ended: Callable[[str], None] = lambda _: None

    def bind(self, *, on_job_complete: Callable[[str], None], on_job_ended: Callable[[str], None]) -> None:
        """on_job_complete: every segment is DONE (stitch it); on_job_ended: the job reached a final state."""
        self._on_job_complete = on_job_complete
        self._on_job_ended = on_job_ended

    async def on_update(self, status: TaskStatus) -> None:
        await self._apply(status)
        if status.needs_ack and status.agent_id and status.uuid:
            try:
                await self._mesos.acknowledge(status.agent_id, status.task_id, status.uuid)
            except MesosError as exc:  # redelivered after the next subscribe; handling is idempotent
                log.warning("acknowledge failed", extra={"task": status.task_id, "reason": str(exc)})

    async def _apply(self, status: TaskStatus) -> None:
        task_id, state = status.task_id, str(status.state)
        found = await self._store.lookup_task(task_id)
        if found is None:
            log.warning("update for an unknown task", extra={"task": task_id, "task_state": state})
            if state in MESOS_ACTIVE:
                await self.kill(task_id, status.agent_id)
            return
        job_id, key, _attempt = found
        seg = await self._store.segment(job_id, key)
        if seg is None:
            return
        outcome = on_task_status(
            seg,
            task_id,
            state,
            status.reason,
            status.message,
            policy=self._policy,
            now=self._clock(),
            jitter=self._rng.random(),
        )
        ids = {"job": job_id, "segment": key, "task": task_id, "agent": status.agent_id, "task_state": state}
        if isinstance(outcome, Ignore):
            log.debug("update ignored: %s", outcome.why, extra=ids)
            if outcome.kill:
                await self.kill(task_id, status.agent_id)
        elif isinstance(outcome, MarkRunning):
            moved = await self._store.transition_segment(
                job_id, key, SegmentState.RUNNING, now=self._clock(), expect_task=task_id
            )
            if moved:
                log.info("segment running", extra={**ids, "state": "RUNNING"})
        elif isinstance(outcome, MarkDone):
            await self._finished(job_id, key, seg, task_id, ids)
        else:
            await self._settle(job_id, key, task_id, outcome, ids)

    async def _finished(
        self, job_id: str, key: str, seg: SegmentRecord, task_id: str, ids: Mapping[str, object]
    ) -> None:
        job = await self._store.get_job(job_id)
        if job is None or job.spec is None or job.plan is None:
            return
        problem = await asyncio.to_thread(verify_task_output, self._objects, job.spec, job.plan, key)
        if problem is not None:
            outcome = failure(
                seg,
                FailureKind.WORKER,
                f"output check: {problem}",
                policy=self._policy,
                now=self._clock(),
                jitter=self._rng.random(),
            )
            await self._settle(job_id, key, task_id, outcome, ids)
            return
        moved = await self._store.transition_segment(
            job_id, key, SegmentState.DONE, now=self._clock(), expect_task=task_id
        )
        if moved is None:
            return
        log.info("segment done", extra={**ids, "state": "DONE"})
        segments = await self._store.segments(job_id)
        if all(s.state is SegmentState.DONE for s in segments.values()):
            done, _ = await self._store.transition_job(job_id, JobState.STITCHING, now=self._clock())
            if done:
                log.info("job stitching", extra={"job": job_id, "state": "STITCHING"})
                self._on_job_complete(job_id)

    async def fail_attempt(self, job_id: str, key: str, task_id: str, kind: FailureKind, detail: str) -> None:
        """An attempt failed outside Mesos' knowledge (e.g. the ACCEPT call itself failed)."""
        seg = await self._store.segment(job_id, key)
        if seg is None or seg.task_id != task_id:
            return
        outcome = failure(
            seg, kind, detail, policy=self._policy, now=self._clock(), jitter=self._rng.random()
        )
        await self._settle(job_id, key, task_id, outcome, {"job": job_id, "segment": key, "task": task_id})

    async def _settle(
        self,
        job_id: str,
        key: str,
        task_id: str,
        outcome: RetrySegment | FailSegment,
        ids: Mapping[str, object],
    ) -> None:
        now = self._clock()
        if isinstance(outcome, RetrySegment):
            moved = await self._store.transition_segment(
                job_id,
                key,
                SegmentState.PENDING,
                now=now,
                patch=outcome.patch,
                expect_task=task_id,
                pending_at=outcome.not_before,
            )
            if moved:
                log.warning(
                    "segment retry", extra={**ids, "state": "PENDING", "reason": outcome.patch["reason"]}
                )
            return
        moved = await self._store.transition_segment(
            job_id, key, SegmentState.FAILED, now=now, patch={"reason": outcome.reason}, expect_task=task_id
        )
        if moved:
            log.warning("segment failed", extra={**ids, "state": "FAILED", "reason": outcome.reason})
            await self.fail_job(job_id, outcome.reason)

    async def fail_job(self, job_id: str, reason: str) -> None:
        done, to_kill = await self._store.transition_job(
            job_id, JobState.FAILED, now=self._clock(), fields={"reason": reason}
        )
        if not done:
            return
        log.warning("job failed", extra={"job": job_id, "state": "FAILED", "reason": reason})
        self._on_job_ended(job_id)
        for task_id, agent_id in to_kill:
            await self.kill(task_id, agent_id or None)

    async def kill(self, task_id: str, agent_id: str | None) -> None:
        try:
            await self._mesos.kill(task_id, agent_id, self._grace)
            log.info("kill sent", extra={"task": task_id, "agent": agent_id})
        except MesosError as exc:  # reconciliation finds it again and the kill is repeated
            log.warning("kill failed", extra={"task": task_id, "reason": str(exc)})
