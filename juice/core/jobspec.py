"""The wire contract for upload services: one job = one JSON document (see README, "Submitting jobs")."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
_BITRATE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")
_S3_URL = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)$")  # S3 bucket names: 3-63 chars


def parse_bitrate(text: str) -> int:
    """'800k' -> 800000 bits/s; '2.5M' -> 2500000; '96000' -> 96000."""
    m = _BITRATE.match(text)
    if not m:
        raise ValueError(f"bitrate {text!r} is not a number with an optional k or M suffix")
    value = float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    if value < 1_000:
        raise ValueError(f"bitrate {text!r} is below 1 kbit/s")
    return int(value)


def split_s3_url(url: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    m = _S3_URL.match(url)
    if not m:
        raise ValueError(f"{url!r} is not an s3://bucket/key URL")
    return m.group(1), m.group(2)


class Rendition(BaseModel):
    """One rung of the video ladder. Width follows the source's display aspect ratio."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    height: Annotated[int, Field(ge=64, le=4320)]
    video_bitrate: str
    max_rate: str | None = None
    profile: Literal["baseline", "main", "high"] = "high"

    @field_validator("video_bitrate", "max_rate")
    @classmethod
    def _bitrate(cls, v: str | None) -> str | None:
        if v is not None:
            parse_bitrate(v)
        return v

    @property
    def name(self) -> str:
        return f"{self.height}p"

    @property
    def bitrate_bps(self) -> int:
        return parse_bitrate(self.video_bitrate)

    @property
    def max_rate_bps(self) -> int:
        return parse_bitrate(self.max_rate) if self.max_rate else int(self.bitrate_bps * 1.5)


class JobSpec(BaseModel):
    """A transcode request. `id` is the client's and makes submission idempotent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=JOB_ID_PATTERN)]
    source: str
    output: str
    # None: the default ladder for the source's height (juice.core.plan.DEFAULT_LADDER)
    renditions: Annotated[list[Rendition], Field(min_length=1, max_length=8)] | None = None
    segment_seconds: Annotated[float, Field(ge=1.0, le=30.0)] = 6.0
    # longest chunk one task encodes; shorter chunks when the cluster has slots to spare
    chunk_seconds: Annotated[float, Field(ge=1.0, le=600.0)] | None = None
    audio_bitrate: str = "128k"

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        _, key = split_s3_url(v)
        if not key or key.endswith("/"):
            raise ValueError("source must name an object, s3://bucket/key")
        return v

    @field_validator("output")
    @classmethod
    def _output(cls, v: str) -> str:
        split_s3_url(v)
        if not v.endswith("/"):
            raise ValueError("output must be a prefix ending in '/', e.g. s3://out/clip-42/")
        return v

    @field_validator("audio_bitrate")
    @classmethod
    def _audio_bitrate(cls, v: str) -> str:
        parse_bitrate(v)
        return v

    @model_validator(mode="after")
    def _unique_heights(self) -> JobSpec:
        heights = [r.height for r in self.renditions or []]
        if len(set(heights)) != len(heights):
            raise ValueError("renditions must have distinct heights")
        return self

    @property
    def source_location(self) -> tuple[str, str]:
        return split_s3_url(self.source)

    @property
    def output_location(self) -> tuple[str, str]:
        return split_s3_url(self.output)
