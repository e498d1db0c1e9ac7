"""What the store keeps about a job and its segments."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from juice.core.jobspec import JobSpec
from juice.core.mediainfo import MediaInfo
from juice.core.plan import JobPlan
from juice.core.states import JobState, SegmentState


class SegmentRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str
    kind: Literal["video", "audio"]
    state: SegmentState
    attempt: int = 0  # attempts launched so far; the current task is <job>.<key>.<attempt>
    task_id: str = ""
    agent_id: str = ""
    last_agent: str = ""  # agent of the previous attempt, avoided by the retry when possible
    worker_failures: int = 0
    cluster_failures: int = 0
    not_before: float = 0.0
    cpus: float
    mem: float
    disk: float = 0.0
    reason: str = ""
    updated_at: float = 0.0


class JobRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    state: JobState
    spec: JobSpec | None = None  # None only for a rejected submission
    reason: str = ""
    created_at: float
    updated_at: float
    finished_at: float | None = None
    plan: JobPlan | None = None
    media: MediaInfo | None = None
    master: str = ""  # s3:// URL of master.m3u8 once the job succeeded


def task_id_for(job_id: str, key: str, attempt: int) -> str:
    """Mesos task id of one attempt. Job ids cannot contain '.', so this is unambiguous."""
    return f"{job_id}.{key}.{attempt}"
