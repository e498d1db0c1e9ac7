"""What `juice validate` reports: a verdict, readable failures, and the figures behind them (JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

PsnrMode = Literal["all", "joins", "none"]


class RenditionReport(BaseModel):
    """One video rendition. Times in seconds on the output's timeline; bandwidth in bits/s."""

    model_config = ConfigDict(extra="forbid")

    name: str
    playlist: str
    codecs: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: str | None = None
    segments: int = 0
    frames: int | None = None
    first_pts: float | None = None
    last_pts: float | None = None
    duration: float | None = None  # last - first pts + one frame
    extinf_total: float | None = None
    max_gap: float | None = None
    non_increasing: int = 0
    idr_misses: list[int] = []  # positions of segments that do not start with a decoded IDR
    bandwidth_declared: int | None = None
    bandwidth_measured: int | None = None  # peak segment rate of the rendition plus the audio's peak
    average_bandwidth_declared: int | None = None
    average_bandwidth_measured: int | None = None
    psnr_frames: int = 0  # frames compared with the source
    psnr_min: float | None = None
    psnr_mean: float | None = None
    neighbour_wins: int = 0  # frames matching source j-1 or j+1 better than source j
    first_neighbour_win: int | None = None


class AudioReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    playlist: str
    codecs: str | None = None
    segments: int = 0
    packets: int = 0
    sample_rate: int | None = None
    priming_samples: int | None = None
    first_pts: float | None = None  # as stored (priming included)
    start_offset_ms: float | None = None  # first real sample minus the video's first pts; > 0 = late
    duration: float | None = None
    end_offset_ms: float | None = None  # audio end minus video end
    gaps: int = 0
    max_gap_ms: float | None = None


class ValidationReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: bool
    failures: list[str]
    master: str
    source: str | None = None
    psnr: PsnrMode = "none"
    source_fps: str | None = None  # the rate a VFR source was normalized to (fps filter) for PSNR
    expected_frames: int | None = None
    target_duration: int | None = None
    playlists_checked: int = 0
    renditions: list[RenditionReport] = []
    audio: AudioReport | None = None
