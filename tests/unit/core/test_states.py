from __future__ import annotations

import itertools

import pytest

from juice.core.states import (
    JOB_TERMINAL,
    JOB_TRANSITIONS,
    SEGMENT_TRANSITIONS,
    JobState,
    SegmentState,
    check_job_transition,
    check_segment_transition,
    job_sources,
    segment_sources,
)
from juice.errors import InvalidTransition


def test_terminal_states_have_no_exit() -> None:
    for s in JOB_TERMINAL:
        assert JOB_TRANSITIONS[s] == frozenset()
    for seg in (SegmentState.DONE, SegmentState.FAILED, SegmentState.CANCELLED):
        assert SEGMENT_TRANSITIONS[seg] == frozenset()


def test_happy_paths_are_legal() -> None:
    path = [JobState.QUEUED, JobState.PLANNING, JobState.RUNNING, JobState.STITCHING, JobState.SUCCEEDED]
    for a, b in itertools.pairwise(path):
        check_job_transition(a, b)
    seg = [SegmentState.PENDING, SegmentState.LAUNCHING, SegmentState.RUNNING, SegmentState.DONE]
    for a, b in itertools.pairwise(seg):
        check_segment_transition(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (JobState.SUCCEEDED, JobState.FAILED),
        (JobState.QUEUED, JobState.RUNNING),
        (JobState.RUNNING, JobState.REJECTED),
    ],
)
def test_illegal_job_transitions_raise(a: JobState, b: JobState) -> None:
    with pytest.raises(InvalidTransition):
        check_job_transition(a, b)


def test_a_segment_is_never_done_without_a_task() -> None:
    with pytest.raises(InvalidTransition):
        check_segment_transition(SegmentState.PENDING, SegmentState.DONE)
    assert segment_sources(SegmentState.DONE) == {SegmentState.LAUNCHING, SegmentState.RUNNING}
    assert segment_sources(SegmentState.LAUNCHING) == {SegmentState.PENDING}


def test_sources_are_the_inverse_table() -> None:
    assert job_sources(JobState.REJECTED) == {JobState.QUEUED}
    assert JobState.SUCCEEDED not in job_sources(JobState.FAILED)
