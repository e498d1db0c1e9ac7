"""`juice-worker run`: one worker task from payload to uploaded outputs; the exit code is the result.

The payload (a `WorkerTask` JSON document) comes from the environment variable `JUICE_TASK`, or from
`--task-file PATH`. Work happens in a temporary directory under `$MESOS_SANDBOX` when set, else under
the system temp dir. Logs are JSON lines on stderr: start, progress (every few seconds), upload, done.
When the task carries a `progress_url`, a `TaskProgress` document is PUT there while it runs
(`workers.progress`).

Exit codes (the framework maps them to failure reasons):

    0    success: every object and then the task manifest uploaded
    1    anything unexpected (a bug or the environment): retry elsewhere
    2    bad payload: missing, not JSON, or not a valid task (the framework's fault, no retry)
    3    source unreadable or undecodable (the input's fault, no retry)
    4    encode failed, or the output does not match the plan (frame count, segments, init)
    5    upload failed (after retries)
    143  stopped by SIGTERM (ffmpeg killed first)
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from pydantic import ValidationError

from juice.core.worktask import AudioTask, TaskManifest, VideoChunkTask, WorkerTask
from juice.errors import TranscodeError
from workers.progress import ProgressReporter
from workers.transcode import ProcessSlot, SourceUnreadable, encode_audio, encode_video, ffmpeg_version
from workers.upload import Uploader, UploadError, audio_uploads, manifest_upload, upload_all, video_uploads

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_BAD_PAYLOAD = 2
EXIT_SOURCE = 3
EXIT_ENCODE = 4
EXIT_UPLOAD = 5
EXIT_TERMINATED = 143
PROGRESS_INTERVAL = 5.0
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class BadPayload(Exception):
    """The task payload is missing or invalid."""


class Terminated(BaseException):
    """SIGTERM arrived; unwinds through every handler up to `main`."""


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def load_task(task_file: str | None, environ: Mapping[str, str]) -> VideoChunkTask | AudioTask:
    """Read and validate the payload; raise `BadPayload` with a readable reason."""
    try:
        text = Path(task_file).read_text() if task_file else environ.get("JUICE_TASK", "")
    except OSError as exc:
        raise BadPayload(f"cannot read the task file: {exc}") from exc
    if not text.strip():
        raise BadPayload("no task: set JUICE_TASK or pass --task-file")
    try:
        task = WorkerTask.model_validate_json(text).task
    except ValidationError as exc:
        raise BadPayload(f"invalid task: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
    problem = plan_problem(task)
    if problem:
        raise BadPayload(f"inconsistent task: {problem}")
    return task


def plan_problem(task: VideoChunkTask | AudioTask) -> str | None:
    """What makes a well-formed task impossible to carry out, or None."""
    if isinstance(task, AudioTask):
        if task.duration <= 0 or task.segment_seconds <= 0 or not task.segment_urls:
            return "audio needs a positive duration, a positive segment length and segment URLs"
        return None
    try:
        rate_ok = task.rate > 0
    except (ValueError, ZeroDivisionError):
        rate_ok = False
    expected = math.ceil(task.frame_count / task.segment_frames) if task.segment_frames > 0 else 0
    checks = [
        (rate_ok, f"frame rate {task.frame_rate!r} is not a positive rational"),
        (task.frame_count > 0 and task.first_frame >= 0, "frame range is empty or negative"),
        (task.segment_frames > 0 and task.gop_frames > 0, "segment and GOP lengths must be positive"),
        (task.gop_frames > 0 and task.segment_frames % task.gop_frames == 0, "GOP must divide the segment"),
        (task.segment_frames > 0 and task.first_frame % task.segment_frames == 0, "chunk is off the grid"),
        (
            task.segment_frames > 0 and task.first_segment == task.first_frame // task.segment_frames,
            "first_segment does not match first_frame",
        ),
        (bool(task.renditions), "no renditions"),
        (len({r.name for r in task.renditions}) == len(task.renditions), "rendition names repeat"),
    ]
    checks += _rendition_checks(task, expected)
    return next((message for ok, message in checks if not ok), None)


def _rendition_checks(task: VideoChunkTask, expected_segments: int) -> list[tuple[bool, str]]:
    checks = []
    for r in task.renditions:
        even = r.width > 0 and r.height > 0 and r.width % 2 == 0 and r.height % 2 == 0
        checks.append((even, f"{r.name}: size must be even and positive"))
        count = len(r.segment_urls)
        checks.append(
            (count == expected_segments, f"{r.name}: {count} segment URLs for {expected_segments} segments")
        )
    return checks


class ProgressLog:
    """Logs ffmpeg's `-progress` blocks at most every `interval` seconds (and the final one)."""

    def __init__(self, fields: Mapping[str, Any], interval: float = PROGRESS_INTERVAL) -> None:
        self._fields = dict(fields)
        self._interval = interval
        self._last = time.monotonic()

    def __call__(self, block: dict[str, str]) -> None:
        now = time.monotonic()
        if block.get("progress") != "end" and now - self._last < self._interval:
            return
        self._last = now
        extra = {"phase": "progress", "frame": block.get("frame"), "out_time": block.get("out_time")}
        log.info(
            "encoding: frame %s, speed %s",
            block.get("frame"),
            block.get("speed"),
            extra={**self._fields, **extra},
        )


def run_task(
    task: VideoChunkTask | AudioTask, workdir: Path, slot: ProcessSlot, client: httpx.Client
) -> None:
    """Encode, check, upload objects, then upload the manifest."""
    started = time.monotonic()
    fields = {"job_id": task.job_id, "task_key": task.task_key, "kind": task.kind}
    log.info("start %s task %s", task.kind, task.task_key, extra={**fields, "phase": "start"})
    progress_log = ProgressLog(fields)
    reporter = ProgressReporter(task.task_key, task.progress_url, client)
    reporter.phase("encoding")

    def on_progress(block: dict[str, str]) -> None:
        progress_log(block)
        reporter.block(block)

    if isinstance(task, VideoChunkTask):
        encoded = encode_video(task, workdir, slot=slot, on_progress=on_progress, on_phase=reporter.phase)
        uploads = video_uploads(task, encoded)
    else:
        audio = encode_audio(task, workdir, slot=slot, on_progress=on_progress, on_phase=reporter.phase)
        encoded = [audio]
        uploads = audio_uploads(task, audio)
    log.info("uploading %d objects", len(uploads), extra={**fields, "phase": "upload"})
    reporter.phase("uploading")
    uploader = Uploader(client)
    sent = upload_all(uploader, uploads)
    manifest = TaskManifest(
        job_id=task.job_id,
        task_key=task.task_key,
        kind=task.kind,
        renditions=[r.manifest() for r in encoded],
        wall_seconds=round(time.monotonic() - started, 3),
        ffmpeg_version=ffmpeg_version(),
    )
    uploader.put(manifest_upload(task.manifest_url, manifest))
    reporter.phase("done")
    log.info(
        "done: %d objects, %d bytes, %.1f s",
        len(uploads) + 1,
        sent,
        manifest.wall_seconds,
        extra={**fields, "phase": "done", "exit_code": EXIT_OK},
    )


def _execute(task: VideoChunkTask | AudioTask, slot: ProcessSlot) -> int:
    fields = {"job_id": task.job_id, "task_key": task.task_key, "phase": "failed"}
    sandbox = os.environ.get("MESOS_SANDBOX") or None
    try:
        with (
            tempfile.TemporaryDirectory(prefix=f"juice-{task.task_key}-", dir=sandbox) as tmp,
            httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as client,
        ):
            run_task(task, Path(tmp), slot, client)
        return EXIT_OK
    except SourceUnreadable as exc:
        code, message = EXIT_SOURCE, str(exc)
    except UploadError as exc:
        code, message = EXIT_UPLOAD, str(exc)
    except TranscodeError as exc:
        code, message = EXIT_ENCODE, str(exc)
    except Exception:
        log.exception("unexpected failure", extra={**fields, "exit_code": EXIT_UNEXPECTED})
        return EXIT_UNEXPECTED
    log.error("%s", message, extra={**fields, "exit_code": code})
    return code


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="juice-worker", description="Run one Juice worker task.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the task given in $JUICE_TASK or --task-file")
    run.add_argument("--task-file", help="read the task payload from this file instead of $JUICE_TASK")
    return parser.parse_args(argv)


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    _configure_logging()
    try:
        task = load_task(args.task_file, os.environ)
    except BadPayload as exc:
        log.error("%s", exc, extra={"phase": "failed", "exit_code": EXIT_BAD_PAYLOAD})
        return EXIT_BAD_PAYLOAD
    slot = ProcessSlot()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        slot.kill()
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return _execute(task, slot)
    except Terminated:
        slot.kill()
        log.warning(
            "terminated by SIGTERM",
            extra={
                "job_id": task.job_id,
                "task_key": task.task_key,
                "phase": "failed",
                "exit_code": EXIT_TERMINATED,
            },
        )
        return EXIT_TERMINATED
    finally:
        signal.signal(signal.SIGTERM, previous)
