"""The Redis key layout, in one place.

    juice:jobs                  stream   intake: XADD juice:jobs * job '<json>' ; consumer group "juice"
    juice:dead                  stream   rejected intake entries (original fields + error)
    juice:job:<id>              hash     state, spec, raw, reason, created_at, updated_at, finished_at,
                                         plan, media, master
    juice:job:<id>:seg          hash     segment key → SegmentRecord JSON
    juice:job:<id>:progress     hash     segment key → last TaskProgress JSON of its running task
    juice:active                set      ids of jobs not yet terminal
    juice:pending               zset     "<job>/<segment>" waiting for an offer, scored by the time it may run
    juice:task:<task_id>        hash     job, key, attempt, agent_id: Mesos task → segment
    juice:tasks:active          set      task ids in LAUNCHING or RUNNING (what reconciliation asks about)
    juice:framework             hash     id: the Mesos framework id, reused on every subscribe
    juice:leader                string   the scheduler holding the leader lease (SET NX with a TTL)
    juice:events                stream   one entry per state transition (type, job, seg, from, to, task, at)

Every state change goes through a Lua script in juice/store/lua/, which compares the expected state,
writes the record, updates the indexes and appends the event in one step.
"""

from __future__ import annotations

PREFIX = "juice"
INTAKE_STREAM = f"{PREFIX}:jobs"
INTAKE_GROUP = "juice"
DEAD_STREAM = f"{PREFIX}:dead"
ACTIVE_JOBS = f"{PREFIX}:active"
PENDING = f"{PREFIX}:pending"
ACTIVE_TASKS = f"{PREFIX}:tasks:active"
FRAMEWORK = f"{PREFIX}:framework"
LEADER = f"{PREFIX}:leader"
EVENTS = f"{PREFIX}:events"
EVENTS_MAXLEN = 100_000


def job(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def segments(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}:seg"


def task(task_id: str) -> str:
    return f"{PREFIX}:task:{task_id}"


def pending_member(job_id: str, key: str) -> str:
    return f"{job_id}/{key}"


def split_pending_member(member: str) -> tuple[str, str]:
    job_id, _, key = member.partition("/")
    return job_id, key


def progress(job_id: str) -> str:
    """hash: segment key → the last TaskProgress JSON its running task reported."""
    return f"{PREFIX}:job:{job_id}:progress"
