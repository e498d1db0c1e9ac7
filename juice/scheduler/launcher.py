"""Offers in, launches out: persist LAUNCHING first, then ACCEPT; decline what is not used."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from juice.core.matching import OfferView, PendingTask, match
from juice.core.records import JobRecord, SegmentRecord, task_id_for
from juice.core.states import JobState, SegmentState
from juice.errors import MesosError
from juice.mesos.builders import docker_task_info
from juice.mesos.messages import Offer
from juice.scheduler.payloads import PayloadBuilder
from juice.scheduler.ports import MesosCalls
from juice.store.redis_store import RedisStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaunchSettings:
    image: str
    kill_grace_seconds: float
    refuse_seconds: float  # declined while work still waits
    idle_refuse_seconds: float  # declined when nothing waits
    min_task_cpus: float = 0.5  # the smallest task's cpus: bounds how much of the queue an offer round reads
    max_pending_scan: int = 1000


def offer_view(offer: Offer) -> OfferView:
    return OfferView(
        id=offer.id,
        agent_id=offer.agent_id,
        hostname=offer.hostname or "",
        cpus=offer.scalar("cpus"),
        mem=offer.scalar("mem"),
        disk=offer.scalar("disk"),
    )


class Launcher:
    def __init__(
        self,
        store: RedisStore,
        mesos: MesosCalls,
        payloads: PayloadBuilder,
        settings: LaunchSettings,
        *,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._mesos = mesos
        self._payloads = payloads
        self._s = settings
        self._clock = clock
        self._on_launch_failed: Callable[[str, str, str, str], object] = lambda *_: None
        self._jobs: dict[str, JobRecord] = {}  # spec and plan never change once RUNNING

    async def _job(self, job_id: str) -> JobRecord | None:
        job = self._jobs.get(job_id)
        if job is None:
            job = await self._store.get_job(job_id)
            if job is None or job.state is not JobState.RUNNING:
                return None
            self._jobs[job_id] = job
        return job

    def bind(self, on_launch_failed: Callable[[str, str, str, str], object]) -> None:
        """Called with (job, segment, task id, reason) when ACCEPT itself fails."""
        self._on_launch_failed = on_launch_failed

    def forget(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)

    async def _pending(self, now: float, limit: int) -> list[tuple[PendingTask, SegmentRecord]]:
        out = []
        for job_id, key in await self._store.ready_pending(now, limit):
            job = await self._job(job_id)
            seg = await self._store.segment(job_id, key) if job else None
            if seg is None or seg.state is not SegmentState.PENDING:
                continue
            task = PendingTask(job_id, key, seg.cpus, seg.mem, seg.disk, avoid_agent=seg.last_agent or None)
            out.append((task, seg))
        return out

    async def on_offers(self, offers: list[Offer]) -> int:
        """Launch what fits. Returns how many tasks were launched."""
        now = self._clock()
        views = {o.id: offer_view(o) for o in offers}
        # read no more of the queue than these offers could possibly take
        room = sum(v.cpus for v in views.values()) / max(self._s.min_task_cpus, 0.01)
        pending = await self._pending(now, min(self._s.max_pending_scan, int(room) + 1))
        segs = {(t.job_id, t.key): s for t, s in pending}
        result = match(list(views.values()), [t for t, _ in pending])
        launched = 0
        for offer_id, tasks in result.launches.items():
            agent = views[offer_id].agent_id
            infos, ids = [], []
            for t in tasks:
                info = await self._persist_launch(t, segs[(t.job_id, t.key)], agent, now)
                if info is not None:
                    infos.append(info)
                    ids.append((t.job_id, t.key, info["task_id"]["value"]))
            if not infos:
                result.unused.append(offer_id)
                continue
            try:
                await self._mesos.accept([offer_id], infos, self._s.refuse_seconds)
                launched += len(infos)
            except MesosError as exc:
                for job_id, key, task_id in ids:
                    self._on_launch_failed(job_id, key, task_id, f"ACCEPT failed: {exc}")
        if result.unused:
            waiting = result.unplaced or await self._store.pending_count() > 0  # incl. retries in backoff
            refuse = self._s.refuse_seconds if waiting else self._s.idle_refuse_seconds
            try:
                await self._mesos.decline(result.unused, refuse)
            except MesosError as exc:
                log.warning("decline failed", extra={"offers": result.unused, "reason": str(exc)})
        return launched

    async def _persist_launch(
        self, t: PendingTask, seg: SegmentRecord, agent_id: str, now: float
    ) -> dict[str, Any] | None:
        job = self._jobs[t.job_id]
        assert job.spec is not None and job.plan is not None
        attempt = seg.attempt + 1
        task_id = task_id_for(t.job_id, t.key, attempt)
        moved = await self._store.transition_segment(
            t.job_id,
            t.key,
            SegmentState.LAUNCHING,
            now=now,
            patch={"task_id": task_id, "agent_id": agent_id, "attempt": attempt, "reason": ""},
            require_job=JobState.RUNNING,
            new_task_id=task_id,
        )
        if moved is None:
            return None
        payload = self._payloads.build(job.spec, job.plan, t.key)
        log.info(
            "segment launching",
            extra={
                "job": t.job_id,
                "segment": t.key,
                "task": task_id,
                "agent": agent_id,
                "state": "LAUNCHING",
            },
        )
        return docker_task_info(
            task_id=task_id,
            name=f"juice {t.job_id} {t.key}",
            agent_id=agent_id,
            cpus=t.cpus,
            mem=t.mem,
            disk=t.disk,
            image=self._s.image,
            command_value="run",
            arguments=[],
            environment={"JUICE_TASK": payload.model_dump_json()},
            labels={"juice.job": t.job_id, "juice.segment": t.key},
            kill_grace_seconds=self._s.kill_grace_seconds,
        )
