"""What an upload service and a status poller do, for the end-to-end tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import redis

from juice.local.stack import LocalStack
from juice.store import keys

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "REJECTED"}


def wait_for(what: str, check: Callable[[], Any], timeout: float = 180.0, every: float = 0.25) -> Any:
    """Poll until check() returns something truthy; the deadline only guards against a hang."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


class Client:
    """What an upload service and a status poller do."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.redis = redis.Redis.from_url(stack.redis.url)
        self.http = httpx.Client(base_url=stack.api_url, timeout=10.0)

    def close(self) -> None:
        self.http.close()
        self.redis.close()

    def push(self, job: dict[str, Any] | str) -> None:
        body = job if isinstance(job, str) else json.dumps(job)
        self.redis.xadd(keys.INTAKE_STREAM, {"job": body})

    def status(self, job_id: str) -> dict[str, Any] | None:
        r = self.http.get(f"/jobs/{job_id}")
        return r.json() if r.status_code == 200 else None

    def final(self, job_id: str, timeout: float = 240.0) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            s = self.status(job_id)
            return s if s and s["state"] in TERMINAL else None

        result: dict[str, Any] = wait_for(f"job {job_id} to end", done, timeout)
        return result

    def master_state(self) -> dict[str, Any]:
        state: dict[str, Any] = httpx.get(f"{self.stack.master_url}/master/state", timeout=10.0).json()
        return state
