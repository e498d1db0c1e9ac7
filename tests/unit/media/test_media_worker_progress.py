from __future__ import annotations

import json
import logging

import httpx
import pytest

from workers.progress import Phase, ProgressReporter, ProgressSample, parse_block

URL = "http://rgw/streams/j/.juice/v0001.progress.json?X-Amz-Signature=s3cr3t"


def _block(frame: int, out_us: int, speed: str = "2.5x", progress: str = "continue") -> dict[str, str]:
    return {
        "frame": str(frame),
        "fps": "50.0",
        "out_time_us": str(out_us),
        "out_time": "00:00:01.000000",
        "speed": speed,
        "progress": progress,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _reporter(
    handler: httpx.MockTransport, url: str | None = URL
) -> tuple[ProgressReporter, Clock, httpx.Client]:
    clock = Clock()
    client = httpx.Client(transport=handler)
    reporter = ProgressReporter("v0001", url, client, interval=2.0, monotonic=clock, wall_clock=lambda: 1.7e9)
    return reporter, clock, client


def _recording() -> tuple[httpx.MockTransport, list[dict[str, object]]]:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "PUT" and request.headers["Content-Type"] == "application/json"
        bodies.append(json.loads(request.content))
        return httpx.Response(200)

    return httpx.MockTransport(handler), bodies


def test_a_progress_block_gives_frames_media_time_and_speed() -> None:
    assert parse_block(_block(120, 4_800_000)) == ProgressSample(120, 4.8, 2.5, False)
    assert parse_block({"frame": "0", "out_time_us": "N/A", "speed": "N/A", "progress": "end"}) == (
        ProgressSample(0, 0.0, None, True)
    )
    assert parse_block({"out_time_us": "-23220", "progress": "continue"}).out_seconds == 0.0


def test_encoding_reports_are_at_least_the_interval_apart() -> None:
    transport, bodies = _recording()
    reporter, clock, _ = _reporter(transport)
    reporter.block(_block(10, 400_000))  # first block: reported
    clock.now += 1.0
    reporter.block(_block(35, 1_400_000))  # 1 s later: skipped
    clock.now += 1.0
    reporter.block(_block(60, 2_400_000))  # 2 s after the last report: reported
    clock.now += 0.1
    reporter.block(_block(62, 2_480_000, progress="end"))  # 0.1 s later: skipped, the phase change tells
    assert [(b["phase"], b["frames"], b["out_seconds"]) for b in bodies] == [
        ("encoding", 10, 0.4),
        ("encoding", 60, 2.4),
    ]
    reporter.phase("checking")
    assert (bodies[-1]["phase"], bodies[-1]["frames"], bodies[-1]["out_seconds"]) == ("checking", 62, 2.48)
    assert bodies[0] == {
        "task_key": "v0001",
        "phase": "encoding",
        "frames": 10,
        "out_seconds": 0.4,
        "speed": 2.5,
        "at": 1.7e9,
    }


def test_every_phase_change_is_reported_at_once_with_the_last_figures() -> None:
    transport, bodies = _recording()
    reporter, clock, _ = _reporter(transport)
    reporter.block(_block(40, 1_600_000))
    clock.now += 0.5
    reporter.block(_block(62, 2_480_000, progress="end"))
    phases: tuple[Phase, ...] = ("checking", "uploading", "done")
    for phase in phases:
        reporter.phase(phase)
    assert [(b["phase"], b["frames"]) for b in bodies] == [
        ("encoding", 40),
        ("checking", 62),
        ("uploading", 62),
        ("done", 62),
    ]


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), 503, 403])
def test_a_failed_report_is_logged_and_never_raised(
    failure: Exception | int, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(failure, Exception):
            raise failure
        return httpx.Response(failure)

    reporter, _, _ = _reporter(httpx.MockTransport(handler))
    with caplog.at_level(logging.WARNING, logger="workers.progress"):
        reporter.block(_block(1, 40_000))
        reporter.phase("done")
    assert len(caplog.records) == 2
    assert "progress report" in caplog.records[0].getMessage()
    assert "s3cr3t" not in caplog.text


def test_without_a_url_nothing_is_sent() -> None:
    transport, bodies = _recording()
    reporter, _, _ = _reporter(transport, url=None)
    reporter.block(_block(1, 40_000))
    reporter.phase("done")
    assert bodies == [] and reporter.current().phase == "done" and reporter.current().frames == 1
