"""The contract between the framework and a worker task.

The framework puts a `WorkerTask` (JSON) into the task's environment as `JUICE_TASK`; the worker
(`juice-worker run`) encodes, uploads every output object through the presigned PUT URLs it was given
(it never sees S3 credentials), and finally uploads a `TaskManifest` (JSON) to `manifest_url`.

Output layout under the job's output prefix (keys are deterministic, so a retried attempt overwrites
the same objects and never duplicates them):

    <prefix>master.m3u8                 written last by the stitcher
    <prefix><rendition>/index.m3u8      media playlist per rendition (stitcher)
    <prefix><rendition>/init.mp4        fMP4 init segment (every chunk writes identical bytes)
    <prefix><rendition>/seg_00000.m4s   media segments, numbered on the job-wide segment grid
    <prefix>audio/index.m3u8, init.mp4, seg_*.m4s
    <prefix>.juice/<task_key>.json      task manifests (internal)
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Every job's timestamps start at this constant, for video and audio alike, so that no chunk ever
# has a negative DTS (B-frame delay) and the muxer never shifts one chunk against the others.
TS_OFFSET_SECONDS = 10


def parse_rate(text: str) -> Fraction:
    """'24000/1001' -> Fraction(24000, 1001); '25' -> Fraction(25)."""
    return Fraction(text)


class VideoOutput(BaseModel):
    """One rendition a chunk task encodes. Segment URL i is for segment number first_segment + i."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    width: int
    height: int
    video_bitrate: int  # bits/s
    max_rate: int  # bits/s (VBV max rate; buffer = 2x)
    profile: Literal["baseline", "main", "high"]
    init_url: str
    segment_urls: list[str]


class VideoChunkTask(BaseModel):
    """Encode source frames [first_frame, first_frame + frame_count) into every rendition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["video"] = "video"
    job_id: str
    task_key: str  # e.g. "v0003": stable across attempts
    source_url: str  # presigned GET of the original
    frame_rate: str  # exact rational, "24000/1001"
    first_frame: int
    frame_count: int
    segment_frames: int  # frames per HLS segment; first_frame is a multiple of it
    gop_frames: int  # IDR interval in frames; divides segment_frames
    first_segment: int  # = first_frame // segment_frames
    constant_rate: bool = True  # False: the source is VFR; normalize it to frame_rate (fps filter) first
    ts_offset: int = TS_OFFSET_SECONDS
    preset: str = "veryfast"
    threads: int = 1
    renditions: list[VideoOutput]
    manifest_url: str
    progress_url: str | None = None  # presigned PUT; the worker overwrites a small TaskProgress JSON there

    @property
    def rate(self) -> Fraction:
        return parse_rate(self.frame_rate)


class AudioTask(BaseModel):
    """Encode one audio stream of the whole file (AAC), trimmed to `duration` seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["audio"] = "audio"
    job_id: str
    task_key: str  # e.g. "a0"
    source_url: str
    stream_index: int  # ordinal among the source's audio streams (0:a:N)
    name: str  # rendition directory, e.g. "audio"
    bitrate: int  # bits/s
    sample_rate: int = 48_000
    channels: int = 2
    duration: float  # seconds of video to cover
    segment_seconds: float  # same grid as video
    ts_offset: float = TS_OFFSET_SECONDS  # where the audio's first sample lands, aligned with video
    init_url: str
    segment_urls: list[str]  # a little more than needed; the manifest lists those used
    manifest_url: str
    progress_url: str | None = None


class TaskProgress(BaseModel):
    """What a running worker reports (from ffmpeg -progress), every few seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_key: str
    phase: Literal["encoding", "checking", "uploading", "done"]
    frames: int = 0  # frames encoded so far (video); 0 for audio
    out_seconds: float = 0.0  # media time written so far
    speed: float | None = None  # x realtime
    at: float  # worker's wall clock, seconds since the epoch


class WorkerTask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Annotated[VideoChunkTask | AudioTask, Field(discriminator="kind")]


class SegmentEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int
    duration: float  # EXTINF seconds
    bytes: int


class RenditionManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    codecs: str  # RFC 6381, e.g. "avc1.64001f" or "mp4a.40.2"
    width: int | None = None
    height: int | None = None
    frame_count: int | None = None  # video: frames encoded (checked against the plan)
    init_sha256: str
    init_bytes: int
    segments: list[SegmentEntry]


class TaskManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str
    task_key: str
    kind: Literal["video", "audio"]
    renditions: list[RenditionManifest]
    wall_seconds: float
    ffmpeg_version: str
