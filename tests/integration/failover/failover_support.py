"""A framework process against an in-process dev cluster, so tests can break either side."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import redis

from juice.devcluster.server import DevClusterThread
from juice.local.stack import LocalStack
from juice.store import keys

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "REJECTED"}


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0, every: float = 0.1) -> Any:
    """Poll until check() is truthy; the deadline only guards against a hang."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


class Harness:
    def __init__(self, stack: LocalStack, cluster: DevClusterThread) -> None:
        self.stack = stack
        self.cluster = cluster
        self.redis = redis.Redis.from_url(stack.redis.url)
        self.http = httpx.Client(timeout=10.0)

    def close(self) -> None:
        self.http.close()
        self.redis.close()

    def push(self, job: dict[str, Any]) -> None:
        self.redis.xadd(keys.INTAKE_STREAM, {"job": json.dumps(job)})

    def status(self, job_id: str, api: str | None = None) -> dict[str, Any] | None:
        with contextlib.suppress(httpx.HTTPError):
            r = self.http.get(f"{api or self.stack.api_url}/jobs/{job_id}")
            if r.status_code == 200:
                body: dict[str, Any] = r.json()
                return body
        return None

    def final(self, job_id: str, timeout: float = 180.0, api: str | None = None) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            s = self.status(job_id, api)
            return s if s and s["state"] in TERMINAL else None

        result: dict[str, Any] = wait_for(f"job {job_id} to end", done, timeout)
        return result

    def segments(self, job_id: str) -> dict[str, dict[str, Any]]:
        raw = self.redis.hgetall(keys.segments(job_id))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def transitions(self, job_id: str, to: str) -> list[str]:
        """Segment keys, once per transition of that segment into `to`."""
        return [
            e[b"seg"].decode()
            for _, e in self.redis.xrange(keys.EVENTS)
            if e[b"type"] == b"segment" and e[b"job"] == job_id.encode() and e[b"to"] == to.encode()
        ]

    def framework_id(self) -> str | None:
        fid = self.redis.hget(keys.FRAMEWORK, "id")
        return fid.decode() if fid else None

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
