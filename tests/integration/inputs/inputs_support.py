"""What an upload service and a status poller do, plus small media probes of the edge-input tests."""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis

from juice.local.stack import LocalStack
from juice.store import keys

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "REJECTED"}


def wait_for(what: str, check: Callable[[], Any], timeout: float = 240.0, every: float = 0.25) -> Any:
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
    """Pushes jobs into the intake stream and reads their status from the API."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.redis = redis.Redis.from_url(stack.redis.url)
        self.http = httpx.Client(base_url=stack.api_url, timeout=10.0)

    def close(self) -> None:
        self.http.close()
        self.redis.close()

    def push(self, job: dict[str, Any]) -> None:
        self.redis.xadd(keys.INTAKE_STREAM, {"job": json.dumps(job)})

    def status(self, job_id: str) -> dict[str, Any] | None:
        r = self.http.get(f"/jobs/{job_id}")
        return r.json() if r.status_code == 200 else None

    def final(self, job_id: str, timeout: float = 240.0) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            s = self.status(job_id)
            return s if s and s["state"] in TERMINAL else None

        result: dict[str, Any] = wait_for(f"job {job_id} to end", done, timeout)
        return result


def leading_frames_after_keyframes(path: Path) -> int:
    """Packets that follow a keyframe other than the first in decode order but show before it (open GOP)."""
    argv = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts,flags"]
    done = subprocess.run([*argv, "-of", "json", str(path)], capture_output=True, check=True)
    packets = json.loads(done.stdout)["packets"]
    leading, keyframe_pts = 0, None
    for i, packet in enumerate(packets):
        pts = int(packet["pts"])
        if "K" in packet["flags"] and i > 0:
            keyframe_pts = pts
        elif keyframe_pts is not None and pts < keyframe_pts:
            leading += 1
    return leading


def tone_power(playlist: Path, frequency: float, *, start: float = 0.3, seconds: float = 0.5) -> float:
    """Goertzel power of one frequency in a stretch of a decoded audio playlist (mono, 8 kHz)."""
    rate = 8000
    argv = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(playlist), "-ss", str(start), "-t", str(seconds)]
    argv += ["-ac", "1", "-ar", str(rate), "-f", "s16le", "-"]
    raw = subprocess.run(argv, capture_output=True, check=True).stdout
    samples = [int.from_bytes(raw[i : i + 2], "little", signed=True) for i in range(0, len(raw) - 1, 2)]
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    previous = before = 0.0
    for sample in samples:
        previous, before = sample + coefficient * previous - before, previous
    return previous * previous + before * before - coefficient * previous * before
