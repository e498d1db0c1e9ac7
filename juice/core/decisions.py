"""What a task status update means for its segment: a pure decision, carried out by the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from juice.core.reasons import (
    MESOS_ACTIVE,
    MESOS_GONE_FOR_US,
    MESOS_TERMINAL,
    FailureKind,
    GiveUp,
    RetryPolicy,
    classify,
    decide_retry,
)
from juice.core.records import SegmentRecord
from juice.core.states import SegmentState


@dataclass(frozen=True)
class Ignore:
    why: str
    kill: bool = False  # the task runs but should not (a stale attempt, or its segment has ended)


@dataclass(frozen=True)
class MarkRunning:
    pass


@dataclass(frozen=True)
class MarkDone:
    pass


@dataclass(frozen=True)
class RetrySegment:
    patch: dict[str, Any]
    not_before: float


@dataclass(frozen=True)
class FailSegment:
    reason: str


Outcome = Ignore | MarkRunning | MarkDone | RetrySegment | FailSegment


def describe(state: str, reason: str | None, message: str | None) -> str:
    parts = [state]
    if reason:
        parts.append(reason)
    if message:
        parts.append(message.strip()[:300])
    return ": ".join(parts)


def on_task_status(
    seg: SegmentRecord,
    task_id: str,
    state: str,
    reason: str | None,
    message: str | None,
    *,
    policy: RetryPolicy,
    now: float,
    jitter: float,
) -> Outcome:
    if seg.task_id != task_id:
        return Ignore(
            f"stale update for {task_id}; segment runs {seg.task_id or 'nothing'}", kill=state in MESOS_ACTIVE
        )
    if seg.state not in (SegmentState.LAUNCHING, SegmentState.RUNNING):
        return Ignore(f"segment is {seg.state}", kill=state in MESOS_ACTIVE)
    if state in MESOS_ACTIVE:
        return Ignore("already running") if seg.state is SegmentState.RUNNING else MarkRunning()
    if state == "TASK_FINISHED":
        return MarkDone()
    if state not in MESOS_TERMINAL and state not in MESOS_GONE_FOR_US:
        return Ignore(f"unknown task state {state}")
    detail = describe(state, reason, message)
    return failure(seg, classify(state, message), detail, policy=policy, now=now, jitter=jitter)


def failure(
    seg: SegmentRecord, kind: FailureKind, detail: str, *, policy: RetryPolicy, now: float, jitter: float
) -> RetrySegment | FailSegment:
    verdict = decide_retry(kind, detail, seg.worker_failures, seg.cluster_failures, policy, now, jitter)
    if isinstance(verdict, GiveUp):
        return FailSegment(f"{seg.key}: {verdict.reason}")
    patch = {
        "task_id": "",
        "agent_id": "",
        "last_agent": seg.agent_id,
        "worker_failures": verdict.worker_failures,
        "cluster_failures": verdict.cluster_failures,
        "not_before": verdict.not_before,
        "reason": detail,
    }
    return RetrySegment(patch, verdict.not_before)
