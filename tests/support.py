"""What an upload service and a status poller do against a running stack, for the integration tests."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import redis

from juice.local.stack import LocalStack
from juice.store import keys

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "REJECTED"}


def wait_for(what: str, check: Callable[[], Any], timeout: float = 180.0, every: float = 0.1) -> Any:
    """Poll until check() returns something truthy; the deadline only guards against a hang."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


class JobClient:
    """Pushes jobs into the intake stream and polls the status API, as clients do."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.redis = redis.Redis.from_url(stack.redis.url)
        self.http = httpx.Client(timeout=10.0)

    def close(self) -> None:
        self.http.close()
        self.redis.close()

    def push(self, job: dict[str, Any] | str) -> None:
        body = job if isinstance(job, str) else json.dumps(job)
        self.redis.xadd(keys.INTAKE_STREAM, {"job": body})

    def status(self, job_id: str, api: str | None = None) -> dict[str, Any] | None:
        """The status from the API (`api` overrides the stack's), None when unknown or unreachable."""
        with contextlib.suppress(httpx.HTTPError):
            r = self.http.get(f"{api or self.stack.api_url}/jobs/{job_id}")
            if r.status_code == 200:
                body: dict[str, Any] = r.json()
                return body
        return None

    def final(self, job_id: str, timeout: float = 240.0, api: str | None = None) -> dict[str, Any]:
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
