"""Small builders for the models the tests keep needing."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from juice.core.jobspec import JobSpec
from juice.core.mediainfo import AudioStreamInfo, MediaInfo, VideoStreamInfo


def video(rate: str = "25/1", frames: int = 375, w: int = 1280, h: int = 720, **kw: Any) -> VideoStreamInfo:
    base: dict[str, Any] = dict(
        index=0,
        codec="h264",
        width=w,
        height=h,
        display_width=w,
        display_height=h,
        rotation=0,
        pix_fmt="yuv420p",
        frame_rate=rate,
        avg_frame_rate=rate,
        frame_count=frames,
        duration=float(frames / Fraction(rate)),
        start_time=0.0,
        variable_frame_rate=False,
    )
    base.update(kw)
    return VideoStreamInfo.model_validate(base)


def media(v: VideoStreamInfo | None, audio: int = 1) -> MediaInfo:
    duration = v.duration if v is not None else 15.0
    tracks = [
        AudioStreamInfo(
            index=i + 1,
            ordinal=i,
            codec="aac",
            channels=2,
            sample_rate=48000,
            duration=duration,
            start_time=0.0,
        )
        for i in range(audio)
    ]
    return MediaInfo(format_name="mp4", duration=duration, size_bytes=1000, video=v, audio=tracks)


def spec(job_id: str = "j1", **kw: Any) -> JobSpec:
    base: dict[str, Any] = {
        "id": job_id,
        "source": "s3://uploads/a.mp4",
        "output": f"s3://streams/{job_id}/",
        "renditions": [{"height": 360, "video_bitrate": "800k"}],
    }
    base.update(kw)
    return JobSpec.model_validate(base)
