"""The plan of one job: frame-exact chunks on the HLS segment grid, the ladder and the audio task.

Everything is decided in frame indices with the source's exact rational frame rate, so chunk
boundaries never fall between frames, whatever the rate (23.976 fps: 144 frames = 6.006 s). A VFR source
is planned on the constant rate the probe chose for it; the worker normalizes it to that rate.

One chunk task encodes every rendition from one decode of its frames (split + scale in one ffmpeg):
decoding and seeking are paid once instead of once per rendition, the renditions see exactly the same
frames (so their segments align by construction), and a job needs fewer tasks. The price is coarser
parallelism, which the chunk length makes up for.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

from juice.core.jobspec import JobSpec, Rendition, parse_bitrate
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
    constant_rate: bool = True  # False: the source is VFR and is normalized to frame_rate
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
    chunk_seconds: float = 30.0  # longest chunk a task gets (a job may ask for shorter or longer)
    parallelism: int = 4  # task slots the cluster offers
    task_overhead_seconds: float = 3.0  # launch, seek preroll and upload of one task, in encode-seconds


# The ladder used when a job names no renditions: (height, video bitrate), never above the source.
DEFAULT_LADDER: tuple[tuple[int, str], ...] = (
    (1080, "5000k"),
    (720, "2800k"),
    (480, "1400k"),
    (360, "800k"),
    (240, "400k"),
)


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


def default_ladder(display_height: int) -> list[Rendition]:
    return [Rendition(height=h, video_bitrate=b) for h, b in DEFAULT_LADDER if h <= display_height]


def ladder(spec: JobSpec, video: VideoStreamInfo) -> list[RenditionPlan]:
    """The job's renditions (or the default ladder), never upscaled; width from the display aspect ratio."""
    aspect = Fraction(video.display_width, video.display_height)
    wanted = (
        spec.renditions
        or default_ladder(video.display_height)
        or [Rendition(height=240, video_bitrate="300k")]
    )
    rungs = [r for r in wanted if r.height <= video.display_height]
    if not rungs:  # every requested rung is above the source: keep the smallest at source height
        smallest = min(wanted, key=lambda r: r.height)
        rungs = [smallest.model_copy(update={"height": max(64, _even(video.display_height))})]
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


def makespan(segment_count: int, k: int, slots: int, segment_seconds: float, overhead: float) -> float:
    """Estimated wall time (encode-seconds) of chunks of k segments, `slots` at a time, longest first."""
    lengths = [min(k, segment_count - s) for s in range(0, segment_count, k)]
    rounds = [lengths[i : i + slots] for i in range(0, len(lengths), slots)]
    return sum(max(r) * segment_seconds + overhead for r in rounds)


def segments_per_chunk(
    segment_count: int, segment_seconds: float, limits: PlanLimits, chunk_seconds: float | None = None
) -> int:
    """Chunk length k (in whole segments) with the shortest estimated makespan on the cluster's slots.

    k is at most chunk_seconds long (the job's, else the limit's). Each task costs a fixed overhead, so
    more chunks than slots only pay when the rounds stay full; a last round left to one short task is
    what the estimate penalizes. Ties go to longer chunks (fewer tasks, better rate control).
    """
    longest = chunk_seconds or limits.chunk_seconds
    max_k = max(1, min(segment_count, int(longest // segment_seconds)))
    slots = max(1, limits.parallelism)
    costs = {
        k: makespan(segment_count, k, slots, segment_seconds, limits.task_overhead_seconds)
        for k in range(1, max_k + 1)
    }
    best = min(costs.values())
    return max(k for k, cost in costs.items() if cost <= best * 1.0001)


def plan_job(spec: JobSpec, media: MediaInfo, limits: PlanLimits) -> JobPlan:
    video = _video_or_refuse(media, limits)
    rate = Fraction(video.frame_rate)
    total = video.frame_count
    seg_frames = max(1, round(spec.segment_seconds * rate))
    seg_count = math.ceil(total / seg_frames)
    k = segments_per_chunk(seg_count, float(seg_frames / rate), limits, spec.chunk_seconds)
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
        constant_rate=not video.variable_frame_rate,
        total_frames=total,
        segment_frames=seg_frames,
        gop_frames=gop_for(seg_frames, rate),
        segment_count=seg_count,
        duration=duration,
        renditions=ladder(spec, video),
        chunks=chunks,
        audio=audio,
    )
