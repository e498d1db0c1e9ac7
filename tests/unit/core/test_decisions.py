from __future__ import annotations

import pytest

from juice.core.decisions import FailSegment, Ignore, MarkDone, MarkRunning, RetrySegment, on_task_status
from juice.core.reasons import FailureKind, RetryPolicy, classify, exit_status
from juice.core.records import SegmentRecord
from juice.core.states import SegmentState

POLICY = RetryPolicy(max_worker_failures=3, max_cluster_failures=5, backoff_initial=1.0, backoff_max=8.0)


def seg(state: SegmentState = SegmentState.RUNNING, **kw: object) -> SegmentRecord:
    base: dict[str, object] = dict(
        key="v0001",
        kind="video",
        state=state,
        attempt=1,
        task_id="j.v0001.1",
        agent_id="S1",
        cpus=1.0,
        mem=512.0,
    )
    base.update(kw)
    return SegmentRecord.model_validate(base)


def decide(s: SegmentRecord, state: str, message: str | None = None, task: str = "j.v0001.1") -> object:
    return on_task_status(s, task, state, None, message, policy=POLICY, now=100.0, jitter=0.0)


def test_progress_and_success() -> None:
    assert isinstance(decide(seg(SegmentState.LAUNCHING), "TASK_STARTING"), MarkRunning)
    assert isinstance(decide(seg(), "TASK_RUNNING"), Ignore)
    assert isinstance(decide(seg(), "TASK_FINISHED"), MarkDone)


def test_stale_and_late_updates_are_ignored() -> None:
    stale = decide(seg(), "TASK_FAILED", task="j.v0001.0")
    assert isinstance(stale, Ignore) and not stale.kill
    assert isinstance(decide(seg(SegmentState.DONE), "TASK_FINISHED"), Ignore)


def test_only_tasks_that_should_not_run_are_killed() -> None:
    running = decide(seg(), "TASK_RUNNING")
    assert isinstance(running, Ignore) and not running.kill  # the current attempt, already RUNNING
    old_attempt = decide(seg(), "TASK_RUNNING", task="j.v0001.0")
    assert isinstance(old_attempt, Ignore) and old_attempt.kill
    ended = decide(seg(SegmentState.CANCELLED), "TASK_RUNNING")
    assert isinstance(ended, Ignore) and ended.kill


def test_worker_failure_retries_with_backoff_then_gives_up() -> None:
    out = decide(seg(), "TASK_FAILED", "Command exited with status 4")
    assert isinstance(out, RetrySegment)
    assert (
        out.patch["worker_failures"] == 1 and out.patch["last_agent"] == "S1" and out.patch["task_id"] == ""
    )
    assert out.not_before == pytest.approx(100.5)  # 1 s backoff, jitter 0 -> half of it
    last = decide(seg(worker_failures=2), "TASK_FAILED", "Command exited with status 4")
    assert isinstance(last, FailSegment) and "failed 3 times" in last.reason


def test_input_fault_fails_at_once_and_cluster_faults_do_not_use_the_worker_budget() -> None:
    bad_input = decide(seg(), "TASK_FAILED", "Command exited with status 3")
    assert isinstance(bad_input, FailSegment) and bad_input.reason.startswith("v0001: input")
    lost = decide(seg(worker_failures=2), "TASK_LOST")
    assert isinstance(lost, RetrySegment)
    assert lost.patch["worker_failures"] == 2 and lost.patch["cluster_failures"] == 1


def test_task_error_is_a_framework_defect() -> None:
    out = decide(seg(SegmentState.LAUNCHING), "TASK_ERROR", "Task uses more resources than available")
    assert isinstance(out, FailSegment) and "framework" in out.reason


def test_classification_table() -> None:
    assert exit_status("Command exited with status 137") == 137
    assert exit_status("launch failed") is None
    assert classify("TASK_FAILED", "Container launch failed") is FailureKind.CLUSTER
    assert classify("TASK_FAILED", "Command exited with status 2") is FailureKind.FRAMEWORK
    assert classify("TASK_FAILED", "Command exited with status 1") is FailureKind.WORKER
    assert classify("TASK_KILLED", None) is FailureKind.CLUSTER
    assert classify("TASK_GONE", None) is FailureKind.CLUSTER
