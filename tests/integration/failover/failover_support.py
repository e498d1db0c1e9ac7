"""A framework process against an in-process dev cluster, so tests can break either side."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from typing import Any

from juice.devcluster.server import DevClusterThread
from juice.local.stack import LocalStack
from tests.support import JobClient, wait_for

__all__ = ["Harness", "frozen", "wait_for"]


class Harness(JobClient):
    """The job client plus the in-process dev cluster the test can break."""

    def __init__(self, stack: LocalStack, cluster: DevClusterThread) -> None:
        super().__init__(stack)
        self.cluster = cluster

    def running_tasks(self) -> list[dict[str, Any]]:
        return [
            t
            for f in self.cluster.state()["frameworks"]
            for t in f.get("tasks", [])
            if t.get("state") == "TASK_RUNNING"
        ]


@contextlib.contextmanager
def frozen(pids: list[int]) -> Iterator[None]:
    """Hold task processes (and their ffmpeg children) still: SIGSTOP their process groups, then SIGCONT."""
    groups = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(pid))
    for g in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(g, signal.SIGSTOP)
    try:
        yield
    finally:
        for g in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(g, signal.SIGCONT)
