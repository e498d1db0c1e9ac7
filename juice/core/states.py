"""State machines: every legal transition is a row in a table.

Job:     QUEUED → PLANNING → RUNNING → STITCHING → SUCCEEDED
         any non-terminal → FAILED / CANCELLED;  QUEUED → REJECTED (the submission itself is invalid)
Segment: PENDING → LAUNCHING → RUNNING → DONE
         LAUNCHING/RUNNING → PENDING (a new attempt after a retryable failure)
         LAUNCHING/RUNNING/PENDING → FAILED (no retry left) ; any non-terminal → CANCELLED (job ended)

A segment is the intent (with its own retry budget); an attempt is one Mesos task
`<job>.<segment>.<attempt>`. The Redis store applies these tables atomically (compare-and-set on the
expected state), so an illegal transition writes nothing.
"""

from __future__ import annotations

from enum import StrEnum

from juice.errors import InvalidTransition


class JobState(StrEnum):
    QUEUED = "QUEUED"
    PLANNING = "PLANNING"
    RUNNING = "RUNNING"
    STITCHING = "STITCHING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def terminal(self) -> bool:
        return self in JOB_TERMINAL


JOB_TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED})

JOB_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.PLANNING, JobState.REJECTED, JobState.FAILED, JobState.CANCELLED}),
    JobState.PLANNING: frozenset({JobState.RUNNING, JobState.FAILED, JobState.CANCELLED}),
    JobState.RUNNING: frozenset({JobState.STITCHING, JobState.FAILED, JobState.CANCELLED}),
    JobState.STITCHING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
    JobState.REJECTED: frozenset(),
}


class SegmentState(StrEnum):
    PENDING = "PENDING"
    LAUNCHING = "LAUNCHING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in SEGMENT_TERMINAL


SEGMENT_TERMINAL = frozenset({SegmentState.DONE, SegmentState.FAILED, SegmentState.CANCELLED})
SEGMENT_ACTIVE = frozenset({SegmentState.LAUNCHING, SegmentState.RUNNING})

SEGMENT_TRANSITIONS: dict[SegmentState, frozenset[SegmentState]] = {
    SegmentState.PENDING: frozenset({SegmentState.LAUNCHING, SegmentState.FAILED, SegmentState.CANCELLED}),
    SegmentState.LAUNCHING: frozenset(
        {
            SegmentState.RUNNING,
            SegmentState.DONE,
            SegmentState.PENDING,
            SegmentState.FAILED,
            SegmentState.CANCELLED,
        }
    ),
    SegmentState.RUNNING: frozenset(
        {SegmentState.DONE, SegmentState.PENDING, SegmentState.FAILED, SegmentState.CANCELLED}
    ),
    SegmentState.DONE: frozenset(),
    SegmentState.FAILED: frozenset(),
    SegmentState.CANCELLED: frozenset(),
}


def job_sources(target: JobState) -> frozenset[JobState]:
    """The states from which `target` may be entered (what the store compares against)."""
    return frozenset(s for s, targets in JOB_TRANSITIONS.items() if target in targets)


def segment_sources(target: SegmentState) -> frozenset[SegmentState]:
    return frozenset(s for s, targets in SEGMENT_TRANSITIONS.items() if target in targets)


def check_job_transition(current: JobState, target: JobState) -> None:
    if target not in JOB_TRANSITIONS[current]:
        raise InvalidTransition(f"job {current} -> {target} is not allowed")


def check_segment_transition(current: SegmentState, target: SegmentState) -> None:
    if target not in SEGMENT_TRANSITIONS[current]:
        raise InvalidTransition(f"segment {current} -> {target} is not allowed")
