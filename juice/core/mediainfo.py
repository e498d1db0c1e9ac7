"""What the planner needs to know about a source, as probed (by juice.media.probe) through a presigned URL."""

from __future__ import annotations

from fractions import Fraction

from pydantic import BaseModel, ConfigDict


class VideoStreamInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int  # absolute stream index in the container
    codec: str  # ffprobe codec_name, e.g. "h264"
    width: int  # coded width
    height: int  # coded height
    display_width: int  # after rotation and sample aspect ratio: what a player shows
    display_height: int
    rotation: int  # degrees, 0/90/180/270 (display matrix)
    pix_fmt: str
    frame_rate: str  # exact rational r_frame_rate, "24000/1001"
    avg_frame_rate: str
    frame_count: int  # counted packets of the stream (not the container's estimate)
    duration: float  # seconds
    start_time: float  # seconds
    variable_frame_rate: bool

    @property
    def rate(self) -> Fraction:
        return Fraction(self.frame_rate)


class AudioStreamInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int  # absolute stream index
    ordinal: int  # position among audio streams (ffmpeg's 0:a:N)
    codec: str
    channels: int
    sample_rate: int
    duration: float
    start_time: float


class MediaInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_name: str
    duration: float  # container duration, seconds
    size_bytes: int | None
    video: VideoStreamInfo | None  # the first video stream; None when there is none
    audio: list[AudioStreamInfo]
