"""Run ffmpeg for a worker task, follow its `-progress` output, and check what it wrote before any upload.

Failures are sorted by whose fault they are: `SourceUnreadable` (the input cannot be opened or decoded:
retrying will not help) versus `TranscodeError` (encode failed, output not as planned, transient I/O).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from juice.core.worktask import AudioTask, RenditionManifest, SegmentEntry, VideoChunkTask
from juice.errors import TranscodeError
from juice.media.codecs import InitInfo, read_init
from juice.media.hls import Segment, parse_media_playlist, segment_number
from juice.media.probe import redact
from workers.ffmpeg_cmd import INIT_NAME, PLAYLIST_NAME, audio_argv, video_chunk_argv
from workers.progress import Phase

log = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, str]], None]
PhaseCallback = Callable[[Phase], None]
_TRANSIENT_INPUT = ("Server returned 5", "Connection refused", "timed out", "Connection reset", "I/O error")
_BAD_INPUT = (
    "Invalid data found",
    "matches no streams",
    "does not contain any stream",
    "Error while decoding",
)
_MESSAGE_LIMIT = 400


class SourceUnreadable(TranscodeError):
    """The source cannot be opened or decoded: the input's fault, no retry."""


class ProcessSlot:
    """The ffmpeg process currently running, so a signal handler can stop it."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)


@dataclass(frozen=True)
class EncodedRendition:
    """One rendition's checked local output."""

    name: str
    directory: Path
    init: InitInfo
    init_sha256: str
    init_bytes: int
    segments: tuple[Segment, ...]
    frame_count: int | None

    @property
    def init_path(self) -> Path:
        return self.directory / INIT_NAME

    def segment_path(self, segment: Segment) -> Path:
        return self.directory / segment.uri

    def manifest(self) -> RenditionManifest:
        return RenditionManifest(
            name=self.name,
            codecs=self.init.codecs,
            width=self.init.width,
            height=self.init.height,
            frame_count=self.frame_count,
            init_sha256=self.init_sha256,
            init_bytes=self.init_bytes,
            segments=[
                SegmentEntry(number=s.number, duration=s.duration, bytes=s.bytes) for s in self.segments
            ],
        )


def encode_video(
    task: VideoChunkTask,
    workdir: Path,
    *,
    slot: ProcessSlot,
    on_progress: ProgressCallback | None = None,
    on_phase: PhaseCallback | None = None,
    ffmpeg_bin: str = "ffmpeg",
    ffprobe_bin: str = "ffprobe",
) -> list[EncodedRendition]:
    """Encode the chunk into every rendition, then check segments, init and frame counts against the plan."""
    for rendition in task.renditions:
        (workdir / rendition.name).mkdir(parents=True, exist_ok=True)
    slot0 = 0 if task.constant_rate else first_slot(task.source_url, task.rate, ffprobe_bin=ffprobe_bin)
    argv = video_chunk_argv(task, workdir, ffmpeg_bin=ffmpeg_bin, first_slot=slot0)
    run_ffmpeg(argv, task.source_url, workdir, slot, on_progress)
    if on_phase is not None:
        on_phase("checking")
    expected = math.ceil(task.frame_count / task.segment_frames)
    planned = list(range(task.first_segment, task.first_segment + expected))
    encoded = []
    for rendition in task.renditions:
        output = collect_output(rendition.name, workdir / rendition.name)
        numbers = [s.number for s in output.segments]
        if numbers != planned:
            raise TranscodeError(
                f"{rendition.name}: ffmpeg wrote segments {_span(numbers)}, the plan is {_span(planned)}"
            )
        frames = count_frames(workdir / rendition.name / PLAYLIST_NAME, ffprobe_bin=ffprobe_bin)
        if frames != task.frame_count:
            raise TranscodeError(f"{rendition.name}: encoded {frames} frames, the plan is {task.frame_count}")
        encoded.append(replace(output, frame_count=frames))
    return encoded


def encode_audio(
    task: AudioTask,
    workdir: Path,
    *,
    slot: ProcessSlot,
    on_progress: ProgressCallback | None = None,
    on_phase: PhaseCallback | None = None,
    ffmpeg_bin: str = "ffmpeg",
) -> EncodedRendition:
    """Encode the audio stream; its segments are numbered from 0 and must fit the URLs the task carries."""
    (workdir / task.name).mkdir(parents=True, exist_ok=True)
    run_ffmpeg(audio_argv(task, workdir, ffmpeg_bin=ffmpeg_bin), task.source_url, workdir, slot, on_progress)
    if on_phase is not None:
        on_phase("checking")
    output = collect_output(task.name, workdir / task.name)
    numbers = [s.number for s in output.segments]
    if numbers != list(range(len(numbers))):
        raise TranscodeError(f"{task.name}: segments {_span(numbers)} are not numbered 0, 1, 2, ...")
    if len(numbers) > len(task.segment_urls):
        raise TranscodeError(
            f"{task.name}: {len(numbers)} segments but only {len(task.segment_urls)} upload URLs"
        )
    return output


def run_ffmpeg(
    argv: Sequence[str],
    source_url: str,
    workdir: Path,
    slot: ProcessSlot,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Run ffmpeg to the end, passing each `-progress` block to on_progress; raise on failure."""
    log_path = workdir / "ffmpeg.log"
    started = time.monotonic()
    log.debug("ffmpeg argv: %s", " ".join(argv).replace(source_url, redact(source_url)))
    with log_path.open("wb") as stderr:
        try:
            process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=stderr)
        except OSError as exc:
            raise TranscodeError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        slot.process = process
        try:
            _follow_progress(process, on_progress)
            returncode = process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
            slot.process = None
    log.info(
        "ffmpeg exited %d after %.1f s", returncode, time.monotonic() - started, extra={"phase": "encoded"}
    )
    if returncode != 0:
        raise classify_failure(log_path.read_text(errors="replace"), source_url, returncode)


def _follow_progress(process: subprocess.Popen[bytes], on_progress: ProgressCallback | None) -> None:
    if process.stdout is None:
        return
    block: dict[str, str] = {}
    for raw in process.stdout:
        key, sep, value = raw.decode(errors="replace").strip().partition("=")
        if not sep:
            continue
        block[key] = value
        if key == "progress":
            if on_progress is not None:
                on_progress(block)
            block = {}


def classify_failure(stderr: str, source_url: str, returncode: int) -> TranscodeError:
    """Turn ffmpeg's error output into the matching exception (input's fault or not)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    shown = redact(source_url)
    lines = [line.replace(source_url, shown) for line in lines]
    about_input = [line for line in lines if line.startswith(shown)]
    message = (about_input or lines or [f"ffmpeg exit status {returncode}"])[-1][:_MESSAGE_LIMIT]
    if any(marker in line for line in about_input for marker in _TRANSIENT_INPUT):
        return TranscodeError(f"source not reachable: {message}")
    if about_input or any(marker in line for line in lines for marker in _BAD_INPUT):
        return SourceUnreadable(f"source unreadable: {message}")
    return TranscodeError(f"ffmpeg failed (exit {returncode}): {message}")


def collect_output(name: str, directory: Path) -> EncodedRendition:
    """Read ffmpeg's local playlist, init segment and segment sizes of one rendition."""
    playlist_path = directory / PLAYLIST_NAME
    init_path = directory / INIT_NAME
    if not playlist_path.is_file() or not init_path.is_file():
        raise TranscodeError(f"{name}: ffmpeg wrote no {PLAYLIST_NAME} or {INIT_NAME}")
    try:
        parsed = parse_media_playlist(playlist_path.read_text())
        segments = tuple(
            Segment(segment_number(uri), duration, (directory / uri).stat().st_size)
            for uri, duration in parsed.entries
        )
    except (ValueError, OSError) as exc:
        raise TranscodeError(f"{name}: bad output playlist: {exc}") from exc
    if not parsed.ended or not segments:
        raise TranscodeError(f"{name}: the output playlist is empty or unfinished")
    data = init_path.read_bytes()
    return EncodedRendition(
        name=name,
        directory=directory,
        init=read_init(data),
        init_sha256=hashlib.sha256(data).hexdigest(),
        init_bytes=len(data),
        segments=segments,
        frame_count=None,
    )


def count_frames(playlist: Path, *, ffprobe_bin: str = "ffprobe", timeout: float = 300.0) -> int:
    """Video packets (= frames) in a local playlist, counted by ffprobe."""
    argv = [ffprobe_bin, "-v", "error", "-count_packets", "-select_streams", "v:0"]
    argv += ["-show_entries", "stream=nb_read_packets", "-of", "json", str(playlist)]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        streams = json.loads(done.stdout).get("streams", []) if done.returncode == 0 else []
        return int(streams[0]["nb_read_packets"]) if streams else 0
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError) as exc:
        raise TranscodeError(f"counting frames of {playlist.parent.name} failed: {exc}") from exc


def first_slot(
    source_url: str, rate: Fraction, *, ffprobe_bin: str = "ffprobe", timeout: float = 60.0
) -> int:
    """The `fps=rate` output slot of the source's first video frame (0 unless the video starts late).

    ffmpeg puts the file's start time at 0, and the fps filter rounds a frame's time to the nearest
    slot (halves away from zero), which is what this computes from the stream's exact start pts.
    """
    argv = [ffprobe_bin, "-v", "error", "-select_streams", "v:0"]
    argv += ["-show_entries", "stream=start_pts,time_base:format=start_time", "-of", "json", source_url]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        data: dict[str, Any] = json.loads(done.stdout or b"{}") if done.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        raise TranscodeError(f"reading the source's start time failed: {exc}") from exc
    if done.returncode != 0:
        raise classify_failure(done.stderr.decode(errors="replace"), source_url, done.returncode)
    streams = data.get("streams") or [{}]
    try:
        start = Fraction(int(streams[0].get("start_pts", 0))) * Fraction(streams[0].get("time_base", "1"))
        start -= Fraction(str(data.get("format", {}).get("start_time", "0")))
    except (ValueError, ZeroDivisionError) as exc:
        raise TranscodeError(f"the source's start time is unreadable: {exc}") from exc
    slots = start * rate
    whole = math.floor(abs(slots) + Fraction(1, 2))
    return whole if slots >= 0 else -whole


def ffmpeg_version(ffmpeg_bin: str = "ffmpeg") -> str:
    """'5.1.9-0+deb12u1' from `ffmpeg -version` ('unknown' if it cannot tell)."""
    try:
        done = subprocess.run([ffmpeg_bin, "-version"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    words = done.stdout.decode(errors="replace").split()
    return words[2] if len(words) > 2 and words[:2] == ["ffmpeg", "version"] else "unknown"


def _span(numbers: Sequence[int]) -> str:
    if not numbers:
        return "none"
    return f"{numbers[0]}..{numbers[-1]} ({len(numbers)})"
