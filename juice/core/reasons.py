"""Whose fault a failed attempt was, and what that means for the retry budget.

INPUT      the source cannot be transcoded: fail the job at once, retrying cannot help
WORKER     the encode or the upload failed: retry, within the segment's budget
CLUSTER    the task was lost, dropped, killed or its agent went away: retry on another agent,
           with a larger budget that the user's failures do not consume
FRAMEWORK  Mesos refused what we sent (TASK_ERROR): a defect on our side, fail the job loudly
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class FailureKind(StrEnum):
    INPUT = "input"
    WORKER = "worker"
    CLUSTER = "cluster"
    FRAMEWORK = "framework"


# Exit codes of `juice-worker` (see workers/entrypoint.py).
WORKER_EXIT_KINDS: dict[int, FailureKind] = {
    2: FailureKind.FRAMEWORK,  # the payload did not validate
    3: FailureKind.INPUT,  # the source could not be read or decoded
    4: FailureKind.WORKER,  # encode failed or its output check did not match the plan
    5: FailureKind.WORKER,  # upload failed
}

_EXIT_STATUS = re.compile(r"exited with status (\d+)")

MESOS_TERMINAL = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)
# Not terminal for the master, but the task is not running for us: treat as lost and retry elsewhere.
MESOS_GONE_FOR_US = frozenset({"TASK_UNREACHABLE", "TASK_UNKNOWN"})
MESOS_ACTIVE = frozenset({"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"})


def exit_status(message: str | None) -> int | None:
    m = _EXIT_STATUS.search(message or "")
    return int(m.group(1)) if m else None


def classify(state: str, message: str | None) -> FailureKind:
    """Classify a non-successful final task state."""
    if state == "TASK_ERROR":
        return FailureKind.FRAMEWORK
    if state == "TASK_FAILED":
        code = exit_status(message)
        if code is None:  # the container never ran our command (launch failure, limits, ...)
            return FailureKind.CLUSTER
        return WORKER_EXIT_KINDS.get(code, FailureKind.WORKER)
    return FailureKind.CLUSTER


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_worker_failures: int = 3
    max_cluster_failures: int = 10
    backoff_initial: float = 1.0
    backoff_max: float = 60.0


@dataclass(frozen=True)
class Retry:
    not_before: float
    worker_failures: int
    cluster_failures: int


@dataclass(frozen=True)
class GiveUp:
    reason: str


def decide_retry(
    kind: FailureKind,
    detail: str,
    worker_failures: int,
    cluster_failures: int,
    policy: RetryPolicy,
    now: float,
    jitter: float,
) -> Retry | GiveUp:
    """`jitter` in [0, 1) comes from the caller, so this stays deterministic under test."""
    if kind in (FailureKind.INPUT, FailureKind.FRAMEWORK):
        return GiveUp(f"{kind}: {detail}")
    if kind is FailureKind.WORKER:
        worker_failures += 1
        if worker_failures >= policy.max_worker_failures:
            return GiveUp(f"worker: failed {worker_failures} times, last: {detail}")
    else:
        cluster_failures += 1
        if cluster_failures >= policy.max_cluster_failures:
            return GiveUp(f"cluster: lost {cluster_failures} times, last: {detail}")
    attempts = worker_failures + cluster_failures
    delay = min(policy.backoff_max, policy.backoff_initial * 2 ** (attempts - 1))
    return Retry(now + delay * (0.5 + jitter / 2), worker_failures, cluster_failures)
