"""Progress of a running task: ffmpeg's `-progress` blocks in, `TaskProgress` JSON out.

ffmpeg writes a block of `key=value` lines about twice a second, ending with `progress=continue` (or
`progress=end` for the last one). When the task has a `progress_url` (a presigned PUT), the reporter
overwrites one small `TaskProgress` document there: at most every `interval` seconds while encoding,
and at once on every phase change (encoding, checking, uploading, done). Reporting is best effort: a
failed PUT is logged and the task carries on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

from juice.core.worktask import TaskProgress
from juice.media.probe import redact

log = logging.getLogger(__name__)

Phase = Literal["encoding", "checking", "uploading", "done"]
REPORT_INTERVAL = 2.0
_PUT_TIMEOUT = httpx.Timeout(5.0)


@dataclass(frozen=True)
class ProgressSample:
    """The figures of one ffmpeg progress block."""

    frames: int = 0
    out_seconds: float = 0.0
    speed: float | None = None
    ended: bool = False


def parse_block(block: Mapping[str, str]) -> ProgressSample:
    """frame, out_time_us, speed ("1.5x" or "N/A") and progress=end of one block; unknowns become 0/None."""
    frames = block.get("frame", "")
    out_us = block.get("out_time_us", "")
    speed = block.get("speed", "").strip().removesuffix("x")
    return ProgressSample(
        frames=int(frames) if frames.isdigit() else 0,
        out_seconds=max(0.0, _number(out_us) or 0.0) / 1e6,
        speed=_number(speed),
        ended=block.get("progress") == "end",
    )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class ProgressReporter:
    """Turns progress blocks and phase changes into throttled `TaskProgress` PUTs (no URL: no PUTs)."""

    def __init__(
        self,
        task_key: str,
        url: str | None,
        client: httpx.Client,
        *,
        interval: float = REPORT_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._task_key = task_key
        self._url = url
        self._client = client
        self._interval = interval
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._phase: Phase = "encoding"
        self._sample = ProgressSample()
        self._last_sent: float | None = None

    @property
    def sample(self) -> ProgressSample:
        return self._sample

    def block(self, block: Mapping[str, str]) -> None:
        """One ffmpeg block: reported when `interval` has passed since the last report.

        The final figures need no exception: the phase change that follows the end ("checking")
        reports them at once.
        """
        self._sample = parse_block(block)
        now = self._monotonic()
        if self._last_sent is None or now - self._last_sent >= self._interval:
            self._send(now)

    def phase(self, phase: Phase) -> None:
        """A phase change is reported at once."""
        self._phase = phase
        self._send(self._monotonic())

    def current(self) -> TaskProgress:
        return TaskProgress(
            task_key=self._task_key,
            phase=self._phase,
            frames=self._sample.frames,
            out_seconds=round(self._sample.out_seconds, 6),
            speed=self._sample.speed,
            at=round(self._wall_clock(), 3),
        )

    def _send(self, now: float) -> None:
        if self._url is None:
            return
        self._last_sent = now
        body = self.current().model_dump_json().encode()
        headers = {"Content-Type": "application/json"}
        try:
            response = self._client.put(self._url, content=body, headers=headers, timeout=_PUT_TIMEOUT)
        except httpx.HTTPError as exc:
            self._warn(f"{type(exc).__name__}: {exc}")
            return
        if not response.is_success:
            self._warn(f"HTTP {response.status_code} {response.reason_phrase}")

    def _warn(self, reason: str) -> None:
        shown = redact(self._url or "")
        log.warning(
            "progress report to %s failed: %s",
            shown,
            reason,
            extra={"task_key": self._task_key, "phase": self._phase},
        )
