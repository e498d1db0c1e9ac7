"""Decoded figures of one rendition (ffprobe) and the pure checks on them: frame count, pts steps,
IDR at every segment start, audio start (AAC priming), length and gaps.

How the IDR check works, and why this way: a video rendition is decoded **once** by ffprobe through its
media playlist (`-show_frames`, which yields the decoded frame count, every pts and the decoder's own
key_frame/pict_type), and each segment's start time comes from its own `tfdt` + first composition offset
(`juice.media.validate_fmp4`, a few hundred bytes per segment, no process). The frame whose pts equals a
segment's start must be a decoded IDR. Probing every segment joined with its init segment would start
one ffprobe per segment (hundreds for a long title) and would only see the container's sync flag.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from typing import Any

from juice.media.validate_fmp4 import SegmentTiming, TrackTiming

FFMPEG_AAC_PRIMING = 1024  # samples ffmpeg's native AAC encoder puts before the first real sample
AUDIO_START_TOLERANCE = 0.010  # seconds audio may start before or after video
_ERROR_LINES = 3


@dataclass(frozen=True)
class DecodedVideo:
    time_base: Fraction
    rate: Fraction  # r_frame_rate of the rendition
    width: int
    height: int
    pts: list[int]
    keys: list[bool]  # decoded as an IDR (key_frame=1 and pict_type I)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AudioPackets:
    time_base: Fraction
    sample_rate: int
    pts: list[int]
    durations: list[int]  # 0 where ffprobe gives none
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TimestampFigures:
    first: float
    last: float
    duration: float  # last - first + one frame
    max_gap: float
    non_increasing: int


class ProbeFailed(Exception):
    """ffprobe could not run or gave no usable output (the message says why)."""


def _ffprobe(argv: list[str], timeout: float) -> tuple[dict[str, Any], list[str]]:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProbeFailed(f"ffprobe timed out after {timeout:g} s") from exc
    except OSError as exc:
        raise ProbeFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    errors = [line.strip() for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
    try:
        data: dict[str, Any] = json.loads(done.stdout or b"{}")
    except ValueError as exc:
        raise ProbeFailed(f"ffprobe gave no JSON: {exc}") from exc
    if done.returncode != 0 or not data.get("streams"):
        raise ProbeFailed((errors or [f"ffprobe exit status {done.returncode}"])[-1][:300])
    return data, errors[:_ERROR_LINES]


def _ffprobe_entries(
    ffprobe: str, location: str, stream: str, entries: str, timeout: float
) -> tuple[dict[str, Any], list[str]]:
    argv = [
        ffprobe,
        "-v",
        "error",
        "-select_streams",
        stream,
        "-show_entries",
        entries,
        "-of",
        "json",
        location,
    ]
    return _ffprobe(argv, timeout)


def probe_video(location: str, *, timeout: float, ffprobe: str = "ffprobe") -> DecodedVideo:
    entries = "stream=time_base,r_frame_rate,width,height:frame=pts,key_frame,pict_type"
    data, errors = _ffprobe_entries(ffprobe, location, "v:0", entries, timeout)
    stream = data["streams"][0]
    frames = [f for f in data.get("frames", []) if f.get("pts") is not None]
    return DecodedVideo(
        time_base=Fraction(stream["time_base"]),
        rate=Fraction(stream.get("r_frame_rate", "0/1")),
        width=int(stream.get("width", 0)),
        height=int(stream.get("height", 0)),
        pts=[int(f["pts"]) for f in frames],
        keys=[int(f.get("key_frame", 0)) == 1 and f.get("pict_type") == "I" for f in frames],
        errors=errors,
    )


def probe_audio(location: str, *, timeout: float, ffprobe: str = "ffprobe") -> AudioPackets:
    entries = "stream=time_base,sample_rate:packet=pts,duration"
    data, errors = _ffprobe_entries(ffprobe, location, "a:0", entries, timeout)
    stream = data["streams"][0]
    packets = [p for p in data.get("packets", []) if p.get("pts") is not None]
    return AudioPackets(
        time_base=Fraction(stream["time_base"]),
        sample_rate=int(stream.get("sample_rate", 0)),
        pts=[int(p["pts"]) for p in packets],
        durations=[int(p["duration"]) if str(p.get("duration", "")).isdigit() else 0 for p in packets],
        errors=errors,
    )


def timestamps(pts: Sequence[int], time_base: Fraction, frame: Fraction) -> TimestampFigures:
    steps = [b - a for a, b in pairwise(pts)]
    if not pts:
        return TimestampFigures(0.0, 0.0, 0.0, 0.0, 0)
    return TimestampFigures(
        first=float(pts[0] * time_base),
        last=float(pts[-1] * time_base),
        duration=float((pts[-1] - pts[0]) * time_base + frame),
        max_gap=float(max(steps, default=0) * time_base),
        non_increasing=sum(1 for s in steps if s <= 0),
    )


def timestamp_failures(name: str, figures: TimestampFigures, frame: float, tick: float) -> list[str]:
    out = []
    if figures.non_increasing:
        out.append(f"{name}: {figures.non_increasing} frame(s) do not come strictly after the previous one")
    if figures.max_gap > frame + tick + 1e-9:
        out.append(
            f"{name}: a gap of {figures.max_gap * 1000:.1f} ms between frames "
            f"(one frame is {frame * 1000:.1f} ms)"
        )
    return out


def idr_misses(video: DecodedVideo, starts: Sequence[int], track: TrackTiming) -> list[int]:
    """Positions of the segments whose start time is not a decoded IDR frame (or no frame at all)."""
    by_time = {
        round(p * video.time_base * track.timescale): key
        for p, key in zip(video.pts, video.keys, strict=True)
    }
    return [i for i, start in enumerate(starts) if not by_time.get(start, False)]


def segment_failures(name: str, timings: Sequence[SegmentTiming], segment_frames: int | None) -> list[str]:
    """fMP4 timing inside the segments: closed GOPs, tfdt continuing, frames on the segment grid."""
    out: list[str] = []
    for i, t in enumerate(timings):
        if not t.first_sync:
            out.append(f"{name}: segment {i} does not start with a sync sample")
        if t.earliest < t.start:
            out.append(f"{name}: segment {i} shows frames before its first sample (open GOP)")
    jumps = [
        i + 1
        for i, (a, b) in enumerate(pairwise(timings))
        if b.decode_start != a.decode_start + a.decode_duration
    ]
    if jumps:
        out.append(f"{name}: tfdt does not continue from the previous segment at segment(s) {jumps[:5]}")
    if segment_frames is not None:
        off = [i for i, t in enumerate(timings[:-1]) if t.samples != segment_frames]
        if off or (timings and timings[-1].samples > segment_frames):
            shown = off[:5] or [len(timings) - 1]
            out.append(f"{name}: segment(s) {shown} do not hold {segment_frames} frames")
    return out


@dataclass(frozen=True)
class AudioFigures:
    packets: int
    sample_rate: int
    priming_samples: int
    first_pts: float  # as stored, priming included
    start_offset: float  # first real sample minus the video's first pts; > 0: audio late
    duration: float  # from the first real sample to the end of the last packet
    end_offset: float  # audio end minus video end
    gaps: int
    max_gap: float  # largest step between packets beyond one packet duration, seconds


def audio_figures(
    packets: AudioPackets, video_first: float, video_end: float, priming: int = FFMPEG_AAC_PRIMING
) -> AudioFigures:
    base = packets.time_base
    steps = [b - a for a, b in pairwise(packets.pts)]
    nominal = Counter(steps).most_common(1)[0][0] if steps else 0
    last_duration = packets.durations[-1] if packets.durations and packets.durations[-1] else nominal
    start = float(packets.pts[0] * base) + priming / max(packets.sample_rate, 1) if packets.pts else 0.0
    end = float((packets.pts[-1] + last_duration) * base) if packets.pts else 0.0
    return AudioFigures(
        packets=len(packets.pts),
        sample_rate=packets.sample_rate,
        priming_samples=priming,
        first_pts=float(packets.pts[0] * base) if packets.pts else 0.0,
        start_offset=start - video_first,
        duration=end - start,
        end_offset=end - video_end,
        gaps=sum(1 for s in steps if s > nominal or s <= 0),
        max_gap=float(max((s - nominal for s in steps if s > nominal), default=0) * base),
    )


def audio_failures(name: str, figures: AudioFigures, frame: float) -> list[str]:
    out = []
    if not figures.packets:
        return [f"{name}: no audio packets"]
    if abs(figures.start_offset) > AUDIO_START_TOLERANCE:
        side = "after" if figures.start_offset > 0 else "before"
        out.append(
            f"{name}: audio starts {abs(figures.start_offset) * 1000:.1f} ms {side} video "
            f"(priming {figures.priming_samples} samples taken into account)"
        )
    if figures.gaps:
        out.append(f"{name}: {figures.gaps} gap(s) or overlap(s) between audio packets")
    aac_frame = 1024 / max(figures.sample_rate, 1)
    if not -(aac_frame + frame) <= figures.end_offset <= 2 * aac_frame + frame:
        side = "after" if figures.end_offset > 0 else "before"
        out.append(f"{name}: audio ends {abs(figures.end_offset) * 1000:.1f} ms {side} video")
    return out
