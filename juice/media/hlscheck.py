"""Check a finished HLS package on local disk: decode it and measure what a player would get.

Per video rendition: decoded frame count, pts strictly increasing, largest step between consecutive
frames (must stay within one frame duration plus one tick), first pts, duration. Audio: first pts and
duration. Then an end-to-end decode of master.m3u8 with `-v error`, collecting every error line.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

from juice.errors import JuiceError
from juice.media.hls import parse_attributes
from juice.storage.port import ObjectStore

_TIMEOUT = 600.0


class HlsCheckError(JuiceError):
    """The package could not be inspected at all (missing files, ffprobe failure)."""


@dataclass(frozen=True)
class VideoCheck:
    name: str
    frames: int
    first_pts: float  # seconds
    duration: float  # last pts - first pts + one frame
    frame_duration: float  # 1 / r_frame_rate
    tick: float  # the stream's time base, seconds
    max_gap: float  # largest pts step between consecutive frames, seconds
    non_increasing: int  # how many frames did not come strictly after the previous one
    errors: list[str]

    @property
    def gaps_ok(self) -> bool:
        return self.non_increasing == 0 and self.max_gap <= self.frame_duration + self.tick + 1e-9


@dataclass(frozen=True)
class AudioCheck:
    name: str
    packets: int
    first_pts: float
    duration: float
    errors: list[str]


@dataclass(frozen=True)
class HlsReport:
    video: list[VideoCheck]
    audio: AudioCheck | None
    decode_errors: list[str]  # from the end-to-end decode of master.m3u8

    @property
    def ok(self) -> bool:
        clean = not self.decode_errors and all(not v.errors for v in self.video)
        return clean and all(v.gaps_ok for v in self.video) and (self.audio is None or not self.audio.errors)


def inspect(master_path: str | Path, *, ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe") -> HlsReport:
    """Decode every rendition of a local HLS package (master.m3u8 and the files beside it)."""
    master = Path(master_path)
    try:
        variants, audio_uri = master_entries(master.read_text())
    except OSError as exc:
        raise HlsCheckError(f"cannot read {master}: {exc}") from exc
    video = [check_video(master.parent / uri, ffprobe=ffprobe) for uri in variants]
    audio = check_audio(master.parent / audio_uri, ffprobe=ffprobe) if audio_uri else None
    argv = [
        ffmpeg,
        "-v",
        "error",
        "-nostdin",
        "-i",
        str(master),
        "-map",
        "0:v?",
        "-map",
        "0:a?",
        "-f",
        "null",
        "-",
    ]
    done = _run(argv)
    errors = _lines(done.stderr)
    if done.returncode != 0 and not errors:
        errors = [f"ffmpeg exit status {done.returncode}"]
    return HlsReport(video, audio, errors)


def master_entries(text: str) -> tuple[list[str], str | None]:
    """Variant URIs (in order) and the audio rendition's URI of a master playlist."""
    variants: list[str] = []
    audio: str | None = None
    expect_uri = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-MEDIA:"):
            attributes = parse_attributes(line.partition(":")[2])
            if attributes.get("TYPE") == "AUDIO" and "URI" in attributes:
                audio = attributes["URI"]
        elif line.startswith("#EXT-X-STREAM-INF:"):
            expect_uri = True
        elif line and not line.startswith("#") and expect_uri:
            variants.append(line)
            expect_uri = False
    return variants, audio


def check_video(playlist: Path, *, ffprobe: str = "ffprobe") -> VideoCheck:
    data, errors = _probe(playlist, ffprobe, "v:0", "stream=time_base,r_frame_rate:frame=pts")
    stream = _first_stream(data, playlist)
    base = Fraction(stream["time_base"])
    rate = Fraction(stream["r_frame_rate"])
    pts = [int(f["pts"]) for f in data.get("frames", []) if f.get("pts") is not None]
    steps = [b - a for a, b in pairwise(pts)]
    frame = 1 / rate if rate > 0 else Fraction(0)
    return VideoCheck(
        name=playlist.parent.name,
        frames=len(pts),
        first_pts=float(pts[0] * base) if pts else 0.0,
        duration=float((pts[-1] - pts[0]) * base + frame) if pts else 0.0,
        frame_duration=float(frame),
        tick=float(base),
        max_gap=float(max(steps, default=0) * base),
        non_increasing=sum(1 for s in steps if s <= 0),
        errors=errors,
    )


def check_audio(playlist: Path, *, ffprobe: str = "ffprobe") -> AudioCheck:
    data, errors = _probe(playlist, ffprobe, "a:0", "stream=time_base:packet=pts,duration")
    base = Fraction(_first_stream(data, playlist)["time_base"])
    packets = [p for p in data.get("packets", []) if p.get("pts") is not None]
    if not packets:
        return AudioCheck(playlist.parent.name, 0, 0.0, 0.0, [*errors, "no audio packets"])
    first, last = int(packets[0]["pts"]), packets[-1]
    end = int(last["pts"]) + int(last.get("duration", 0))
    return AudioCheck(
        playlist.parent.name, len(packets), float(first * base), float((end - first) * base), errors
    )


def download_prefix(store: ObjectStore, bucket: str, prefix: str, dest_dir: str | Path) -> Path:
    """Mirror every object under `prefix` into dest_dir (keys relative to the prefix); returns dest_dir."""
    root = Path(dest_dir)
    for key in store.list_keys(bucket, prefix):
        relative = PurePosixPath(key[len(prefix) :])
        if not relative.parts or ".." in relative.parts or relative.is_absolute():
            raise HlsCheckError(f"refusing to mirror key {key!r}")
        target = root.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(bucket, key))
    return root


def _probe(playlist: Path, ffprobe: str, stream: str, entries: str) -> tuple[dict[str, Any], list[str]]:
    if not playlist.is_file():
        raise HlsCheckError(f"{playlist} does not exist")
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
        str(playlist),
    ]
    done = _run(argv)
    try:
        data: dict[str, Any] = json.loads(done.stdout or b"{}")
    except ValueError as exc:
        raise HlsCheckError(f"ffprobe gave no JSON for {playlist}: {exc}") from exc
    errors = _lines(done.stderr)
    if done.returncode != 0:
        errors.append(f"ffprobe exit status {done.returncode}")
    return data, errors


def _first_stream(data: dict[str, Any], playlist: Path) -> dict[str, Any]:
    streams: list[dict[str, Any]] = data.get("streams", [])
    if not streams:
        raise HlsCheckError(f"{playlist}: no such stream")
    return streams[0]


def _run(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, capture_output=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HlsCheckError(f"{argv[0]} failed: {exc}") from exc


def _lines(stderr: bytes) -> list[str]:
    return [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
