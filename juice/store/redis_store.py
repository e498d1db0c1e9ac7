"""The job store on Redis (layout in juice.store.keys; transitions in juice/store/lua/*.lua)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from juice.core.jobspec import JobSpec
from juice.core.mediainfo import MediaInfo
from juice.core.plan import JobPlan
from juice.core.records import JobRecord, SegmentRecord
from juice.core.states import JOB_TERMINAL, JobState, SegmentState, job_sources, segment_sources
from juice.core.worktask import TaskProgress
from juice.errors import StoreError
from juice.store import keys

T = TypeVar("T")


def _lua(name: str) -> str:
    return resources.files("juice.store").joinpath("lua", name).read_text()


def _csv(states: Sequence[str] | frozenset[JobState] | frozenset[SegmentState]) -> str:
    return ",".join(sorted(str(s) for s in states))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    """All reads and writes of job state. Every write is one atomic script."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client
        self._create = client.register_script(_lua("create_job.lua"))
        self._job_tr = client.register_script(_lua("job_transition.lua"))
        self._start = client.register_script(_lua("start_running.lua"))
        self._seg_tr = client.register_script(_lua("segment_transition.lua"))

    @property
    def client(self) -> aioredis.Redis:
        return self._r

    async def _run(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except RedisError as exc:
            raise StoreError(f"redis: {what} failed: {exc}") from exc

    # -- jobs -----------------------------------------------------------------------------------

    async def create_job(
        self, job_id: str, spec: JobSpec | None, *, now: float, raw: str = "", reason: str = ""
    ) -> bool:
        """QUEUED (or REJECTED when spec is None). False when the id exists already (idempotent)."""
        state = JobState.QUEUED if spec is not None else JobState.REJECTED
        spec_json = spec.model_dump_json() if spec is not None else ""
        args = [job_id, state.value, repr(now), spec_json, raw, reason, keys.EVENTS_MAXLEN]
        created = await self._run(
            "create job",
            lambda: self._create(keys=[keys.job(job_id), keys.ACTIVE_JOBS, keys.EVENTS], args=args),
        )
        return bool(created)

    async def get_job(self, job_id: str) -> JobRecord | None:
        raw = await self._run("read job", lambda: self._r.hgetall(keys.job(job_id)))
        if not raw:
            return None
        h = {_text(k): _text(v) for k, v in raw.items()}
        return JobRecord(
            id=h["id"],
            state=JobState(h["state"]),
            spec=JobSpec.model_validate_json(h["spec"]) if h.get("spec") else None,
            reason=h.get("reason", ""),
            created_at=float(h["created_at"]),
            updated_at=float(h["updated_at"]),
            finished_at=float(h["finished_at"]) if h.get("finished_at") else None,
            plan=JobPlan.model_validate_json(h["plan"]) if h.get("plan") else None,
            media=MediaInfo.model_validate_json(h["media"]) if h.get("media") else None,
            master=h.get("master", ""),
        )

    async def transition_job(
        self, job_id: str, to: JobState, *, now: float, fields: dict[str, str] | None = None
    ) -> tuple[bool, list[tuple[str, str]]]:
        """CAS the job into `to`. Returns (done, tasks to kill) ; a terminal target cancels the segments."""
        terminal = to in JOB_TERMINAL
        args = [
            job_id,
            _csv(job_sources(to)),
            to.value,
            repr(now),
            json.dumps(fields or {}),
            keys.EVENTS_MAXLEN,
            "1" if terminal else "0",
        ]
        ks = [
            keys.job(job_id),
            keys.ACTIVE_JOBS,
            keys.EVENTS,
            keys.segments(job_id),
            keys.PENDING,
            keys.ACTIVE_TASKS,
            keys.progress(job_id),
        ]
        out = await self._run("job transition", lambda: self._job_tr(keys=ks, args=args))
        if int(out[0]) != 1:
            return False, []
        rest = [_text(x) for x in out[2:]]
        return True, list(zip(rest[0::2], rest[1::2], strict=True))

    async def start_running(
        self, job_id: str, plan: JobPlan, media: MediaInfo, segments: list[SegmentRecord], *, now: float
    ) -> bool:
        args: list[str | int] = [
            job_id,
            repr(now),
            plan.model_dump_json(),
            media.model_dump_json(),
            keys.EVENTS_MAXLEN,
        ]
        for seg in segments:
            args += [seg.key, seg.model_dump_json()]
        ks = [keys.job(job_id), keys.segments(job_id), keys.PENDING, keys.EVENTS]
        out = await self._run("start job", lambda: self._start(keys=ks, args=args))
        return _text(out) == "OK"

    async def active_jobs(self) -> list[str]:
        ids = await self._run("list active jobs", lambda: self._r.smembers(keys.ACTIVE_JOBS))
        return sorted(_text(i) for i in ids)

    # -- segments -------------------------------------------------------------------------------

    async def segments(self, job_id: str) -> dict[str, SegmentRecord]:
        raw = await self._run("read segments", lambda: self._r.hgetall(keys.segments(job_id)))
        segs = (SegmentRecord.model_validate_json(v) for v in raw.values())
        return {s.key: s for s in sorted(segs, key=lambda s: s.key)}

    async def segment(self, job_id: str, key: str) -> SegmentRecord | None:
        raw = await self._run("read segment", lambda: self._r.hget(keys.segments(job_id), key))
        return SegmentRecord.model_validate_json(raw) if raw else None

    async def transition_segment(
        self,
        job_id: str,
        key: str,
        to: SegmentState,
        *,
        now: float,
        patch: dict[str, Any] | None = None,
        expect_task: str | None = None,
        pending_at: float | None = None,
        require_job: JobState | None = None,
        new_task_id: str | None = None,
    ) -> SegmentRecord | None:
        """CAS a segment into `to`; None when the expected state (or task) did not match."""
        task_key = keys.task(new_task_id) if new_task_id else keys.task("-")
        ks = [keys.job(job_id), keys.segments(job_id), keys.PENDING, keys.ACTIVE_TASKS, keys.EVENTS, task_key]
        args = [
            job_id,
            key,
            _csv(segment_sources(to)),
            to.value,
            "*" if expect_task is None else expect_task,
            repr(now),
            json.dumps(patch or {}),
            "" if pending_at is None else repr(pending_at),
            "" if require_job is None else require_job.value,
            keys.EVENTS_MAXLEN,
        ]
        out = await self._run("segment transition", lambda: self._seg_tr(keys=ks, args=args))
        if int(out[0]) != 1:
            return None
        return SegmentRecord.model_validate_json(_text(out[1]))

    async def ready_pending(self, now: float, limit: int) -> list[tuple[str, str]]:
        members = await self._run(
            "read pending",
            lambda: self._r.zrangebyscore(keys.PENDING, "-inf", repr(now), start=0, num=limit),
        )
        return [keys.split_pending_member(_text(m)) for m in members]

    async def pending_count(self) -> int:
        return int(await self._run("count pending", lambda: self._r.zcard(keys.PENDING)))

    async def next_pending_at(self) -> float | None:
        first = await self._run("read pending", lambda: self._r.zrange(keys.PENDING, 0, 0, withscores=True))
        return float(first[0][1]) if first else None

    async def progress(self, job_id: str) -> dict[str, TaskProgress]:
        raw = await self._run("read progress", lambda: self._r.hgetall(keys.progress(job_id)))
        return {_text(k): TaskProgress.model_validate_json(v) for k, v in raw.items()}

    async def save_progress(self, job_id: str, reports: dict[str, TaskProgress]) -> None:
        mapping = {k: r.model_dump_json() for k, r in reports.items()}
        await self._run("save progress", lambda: self._r.hset(keys.progress(job_id), mapping=mapping))  # type: ignore[arg-type]

    # -- tasks ----------------------------------------------------------------------------------

    async def lookup_task(self, task_id: str) -> tuple[str, str, int] | None:
        raw = await self._run("read task", lambda: self._r.hgetall(keys.task(task_id)))
        if not raw:
            return None
        h = {_text(k): _text(v) for k, v in raw.items()}
        return h["job"], h["key"], int(h["attempt"])

    async def active_tasks(self) -> list[tuple[str, str | None]]:
        """(task id, agent id) of every task we believe is launching or running."""
        ids = sorted(
            _text(t) for t in await self._run("list tasks", lambda: self._r.smembers(keys.ACTIVE_TASKS))
        )
        if not ids:
            return []

        async def agents() -> list[Any]:
            pipe = self._r.pipeline(transaction=False)
            for tid in ids:
                pipe.hget(keys.task(tid), "agent_id")
            return list(await pipe.execute())

        found = await self._run("read tasks", agents)
        return [(tid, _text(a) if a else None) for tid, a in zip(ids, found, strict=True)]

    # -- framework ------------------------------------------------------------------------------

    async def framework_id(self) -> str | None:
        fid = await self._run("read framework id", lambda: self._r.hget(keys.FRAMEWORK, "id"))
        return _text(fid) if fid else None

    async def save_framework_id(self, framework_id: str) -> None:
        await self._run("save framework id", lambda: self._r.hset(keys.FRAMEWORK, "id", framework_id))

    async def forget_framework_id(self) -> None:
        await self._run("forget framework id", lambda: self._r.hdel(keys.FRAMEWORK, "id"))
