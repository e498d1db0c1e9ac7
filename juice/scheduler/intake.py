"""Job intake from the Redis stream `juice:jobs` (consumer group; XACK only after the job is stored).

Wire contract: `XADD juice:jobs * job '<json>'`. A malformed entry never stops the loop: it is copied to
`juice:dead` with the error, the job (when an id can be read) is recorded as REJECTED with the reason,
and the entry is acknowledged.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError, ResponseError

from juice.core.jobspec import JOB_ID_PATTERN, JobSpec
from juice.errors import StoreError
from juice.store import keys
from juice.store.redis_store import RedisStore

log = logging.getLogger(__name__)

Entry = tuple[Any, dict[Any, Any]]


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "job"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_entry(fields: dict[str, str]) -> tuple[JobSpec | None, str | None, str]:
    """(spec, job id if readable, error). Exactly one of spec / error is set."""
    raw = fields.get("job")
    if raw is None:
        return None, None, "entry has no 'job' field"
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, None, f"job is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    job_id = doc.get("id") if isinstance(doc, dict) else None
    readable_id = job_id if isinstance(job_id, str) and re.match(JOB_ID_PATTERN, job_id) else None
    try:
        return JobSpec.model_validate(doc), readable_id, ""
    except ValidationError as exc:
        return None, readable_id, validation_message(exc)


def _entries(reply: Any) -> list[Entry]:
    """XREADGROUP's reply as [(id, fields)], for RESP2 (list) and RESP3 (dict) alike."""
    if not reply:
        return []
    if isinstance(reply, dict):  # RESP3: {stream: [[(id, fields), ...]]}
        streams = [batch for batches in reply.values() for batch in batches]
    else:  # RESP2: [[stream, [(id, fields), ...]]]
        streams = [s[1] for s in reply]
    return [(entry_id, fields or {}) for batch in streams for entry_id, fields in batch]


class Intake:
    def __init__(
        self,
        client: aioredis.Redis,
        store: RedisStore,
        *,
        consumer: str,
        clock: Callable[[], float] = time.time,
        on_new_job: Callable[[str], None] = lambda _id: None,
    ) -> None:
        self._r = client
        self._store = store
        self._consumer = consumer
        self._clock = clock
        self._on_new_job = on_new_job
        self._backlog_done = False

    async def ensure_group(self) -> None:
        try:
            await self._r.xgroup_create(keys.INTAKE_STREAM, keys.INTAKE_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise StoreError(f"redis: cannot create the intake group: {exc}") from exc
        except RedisError as exc:
            raise StoreError(f"redis: cannot create the intake group: {exc}") from exc

    async def poll(self, block_ms: int = 1000, count: int = 50) -> int:
        """Read and handle one batch. Our own unacknowledged entries (after a crash) come first."""
        start = ">" if self._backlog_done else "0"
        try:
            reply = await self._r.xreadgroup(
                keys.INTAKE_GROUP,
                self._consumer,
                {keys.INTAKE_STREAM: start},
                count=count,
                block=None if start == "0" else block_ms,
            )
        except RedisError as exc:
            raise StoreError(f"redis: intake read failed: {exc}") from exc
        entries = _entries(reply)
        if start == "0" and not entries:
            self._backlog_done = True
        for entry_id, fields in entries:
            await self._handle(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()})
        return len(entries)

    async def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        now = self._clock()
        if not fields:  # trimmed away while pending: the payload is gone
            await self._dead(entry_id, fields, "entry was trimmed from the stream before it was read")
            return
        spec, job_id, error = parse_entry(fields)
        if spec is not None:
            created = await self._store.create_job(spec.id, spec, now=now, raw=fields.get("job", ""))
            log.info(
                "job queued" if created else "duplicate job id ignored",
                extra={"job": spec.id, "entry": entry_id, "state": "QUEUED"},
            )
            if created:
                self._on_new_job(spec.id)
        else:
            if job_id is not None:
                created = await self._store.create_job(
                    job_id, None, now=now, raw=fields.get("job", ""), reason=error
                )
                log.warning(
                    "job rejected" if created else "invalid resubmission of an existing job id",
                    extra={"job": job_id, "entry": entry_id, "state": "REJECTED", "reason": error},
                )
            await self._dead(entry_id, fields, error)
        await self._ack(entry_id)

    async def _dead(self, entry_id: str, fields: dict[str, str], error: str) -> None:
        dead = {**fields, "error": error, "entry": entry_id}
        try:
            await self._r.xadd(keys.DEAD_STREAM, dead)  # type: ignore[arg-type]
        except RedisError as exc:
            raise StoreError(f"redis: cannot write the dead-letter entry: {exc}") from exc
        log.warning("intake entry dead-lettered", extra={"entry": entry_id, "reason": error})

    async def _ack(self, entry_id: str) -> None:
        try:
            await self._r.xack(keys.INTAKE_STREAM, keys.INTAKE_GROUP, entry_id)
        except RedisError as exc:
            raise StoreError(f"redis: intake ack failed: {exc}") from exc

    async def lag(self) -> int:
        """Entries not yet delivered to the group plus delivered-but-unacknowledged ones."""
        try:
            groups = await self._r.xinfo_groups(keys.INTAKE_STREAM)
        except RedisError as exc:
            raise StoreError(f"redis: cannot read the intake group: {exc}") from exc
        for g in groups:
            if _text(g.get("name")) == keys.INTAKE_GROUP:
                return int(g.get("lag") or 0) + int(g.get("pending") or 0)
        return 0
