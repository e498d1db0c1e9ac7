"""The plan of one job: frame-exact chunks on the HLS segment grid, the ladder and the audio task.

Everything is decided in frame indices with the source's exact rational frame rate, so chunk
boundaries never fall between frames, whatever the rate (23.976 fps: 144 frames = 6.006 s).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

from juice.core.jobspec import JobSpec, parse_bitrate
from juice.core.mediainfo import MediaInfo, VideoStreamInfo
from juice.errors import PlanningError

IDR_SECONDS = 2  # Apple's authoring spec: an IDR every 2 s; segments start on one


class RenditionPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    width: int
    height: int
    video_bitrate: int
    max_rate: int
    profile: Literal["baseline", "main", "high"]


class ChunkPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str  # "v0003"
    first_frame: int
    frame_count: int
    first_segment: int
    segment_count: int


class AudioPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str  # "a0"
    name: str  # output directory
    stream_ordinal: int
    bitrate: int
    ts_shift: float  # seconds added to the common offset so audio keeps its place against video
    segment_count_max: int


class JobPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    frame_rate: str
    total_frames: int
    segment_frames: int
    gop_frames: int
    segment_count: int
    duration: float  # seconds of video, total_frames / rate
    renditions: list[RenditionPlan]
    chunks: list[ChunkPlan]
    audio: list[AudioPlan]

    @property
    def rate(self) -> Fraction:
        return Fraction(self.frame_rate)

    @property
    def segment_seconds(self) -> float:
        return float(self.segment_frames / self.rate)

    @property
    def task_keys(self) -> list[str]:
        return [c.key for c in self.chunks] + [a.key for a in self.audio]


class PlanLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_duration_seconds: float = 4 * 3600.0
    max_pixels: int = 4096 * 2304
    chunk_seconds: float = 30.0  # longest chunk a task gets
    parallelism: int = 4  # task slots the cluster offers; chunk count is rounded up to a multiple


def _video_or_refuse(media: MediaInfo, limits: PlanLimits) -> VideoStreamInfo:
    video = media.video
    if video is None:
        raise PlanningError("source has no video stream")
    if video.frame_count <= 0 or video.duration <= 0:
        raise PlanningError("source video has no frames (zero duration)")
    if Fraction(video.frame_rate) <= 0:
        raise PlanningError(f"source frame rate {video.frame_rate!r} is not usable")
    if video.duration > limits.max_duration_seconds:
        raise PlanningError(
            f"source is {video.duration:.0f} s long, over the limit of {limits.max_duration_seconds:.0f} s"
        )
    if video.width * video.height > limits.max_pixels:
        raise PlanningError(
            f"source is {video.width}x{video.height}, over the limit of {limits.max_pixels} pixels"
        )
    return video


def gop_for(segment_frames: int, rate: Fraction) -> int:
    """The divisor of the segment length closest to a 2 s IDR interval (so every segment starts on an IDR)."""
    target = float(rate) * IDR_SECONDS
    divisors = [d for d in range(1, segment_frames + 1) if segment_frames % d == 0]
    return min(divisors, key=lambda d: (abs(d - target), -d))


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def ladder(spec: JobSpec, video: VideoStreamInfo) -> list[RenditionPlan]:
    """The job's renditions, never upscaled; width from the display aspect ratio."""
    aspect = Fraction(video.display_width, video.display_height)
    rungs = [r for r in spec.renditions if r.height <= video.display_height]
    if not rungs:  # every requested rung is above the source: keep the smallest at source height
        smallest = min(spec.renditions, key=lambda r: r.height)
        rungs = [smallest.model_copy(update={"height": _even(video.display_height)})]
    return [
        RenditionPlan(
            name=f"{r.height}p",
            width=_even(float(r.height * aspect)),
            height=_even(r.height),
            video_bitrate=r.bitrate_bps,
            max_rate=r.max_rate_bps,
            profile=r.profile,
        )
        for r in sorted(rungs, key=lambda r: r.height, reverse=True)
    ]


def segments_per_chunk(segment_count: int, segment_seconds: float, limits: PlanLimits) -> int:
    """Chunk length k (in segments): at most chunk_seconds, and the chunk count a multiple of parallelism."""
    max_k = max(1, int(limits.chunk_seconds // segment_seconds))
    slots = max(1, limits.parallelism)
    min_chunks = math.ceil(segment_count / max_k)
    chunks = min(segment_count, math.ceil(min_chunks / slots) * slots)
    return max(1, math.ceil(segment_count / chunks))


def plan_job(spec: JobSpec, media: MediaInfo, limits: PlanLimits) -> JobPlan:
    video = _video_or_refuse(media, limits)
    rate = Fraction(video.frame_rate)
    total = video.frame_count
    seg_frames = max(1, round(spec.segment_seconds * rate))
    seg_count = math.ceil(total / seg_frames)
    k = segments_per_chunk(seg_count, float(seg_frames / rate), limits)
    chunks = []
    for i, first_segment in enumerate(range(0, seg_count, k)):
        first = first_segment * seg_frames
        count = min(k * seg_frames, total - first)
        chunks.append(
            ChunkPlan(
                key=f"v{i:04d}",
                first_frame=first,
                frame_count=count,
                first_segment=first_segment,
                segment_count=math.ceil(count / seg_frames),
            )
        )
    duration = float(total / rate)
    audio: list[AudioPlan] = []
    if media.audio:
        first_audio = media.audio[0]
        file_start = min([video.start_time, *(a.start_time for a in media.audio)])
        audio.append(
            AudioPlan(
                key="a0",
                name="audio",
                stream_ordinal=first_audio.ordinal,
                bitrate=parse_bitrate(spec.audio_bitrate),
                ts_shift=round(-(video.start_time - file_start), 6),
                segment_count_max=seg_count + 2,
            )
        )
    return JobPlan(
        frame_rate=f"{rate.numerator}/{rate.denominator}",
        total_frames=total,
        segment_frames=seg_frames,
        gop_frames=gop_for(seg_frames, rate),
        segment_count=seg_count,
        duration=duration,
        renditions=ladder(spec, video),
        chunks=chunks,
        audio=audio,
    )
