"""Synthetic test clips: lavfi `testsrc2` (a moving picture) plus a `sine` tone, H.264 + AAC in MP4."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from juice.errors import TranscodeError


@dataclass(frozen=True)
class _Clip:
    seconds: float
    rate: str
    width: int
    height: int
    audio: bool
    gop_seconds: float | None
    bframes: bool
    extra_args: tuple[str, ...]


def make_clip(
    path: str | Path,
    *,
    seconds: float,
    rate: str = "25",
    width: int = 640,
    height: int = 360,
    audio: bool = True,
    gop_seconds: float | None = None,
    bframes: bool = True,
    rotation: int = 0,
    extra_args: Sequence[str] = (),
    ffmpeg: str = "ffmpeg",
) -> Path:
    """Write a clip to `path` and return it. `rotation` (clockwise degrees) is stored as display matrix."""
    target = Path(path)
    clip = _Clip(seconds, rate, width, height, audio, gop_seconds, bframes, tuple(extra_args))
    if rotation % 360 == 0:
        _run(_encode_argv(ffmpeg, clip, target))
        return target
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        upright = Path(tmp) / f"upright{target.suffix}"
        _run(_encode_argv(ffmpeg, clip, upright))
        copy = [ffmpeg, "-v", "error", "-nostdin", "-y", "-i", str(upright), "-map", "0", "-c", "copy"]
        _run([*copy, "-metadata:s:v:0", f"rotate={rotation % 360}", str(target)])
    return target


def _encode_argv(ffmpeg: str, clip: _Clip, target: Path) -> list[str]:
    seconds = clip.seconds
    argv = [ffmpeg, "-v", "error", "-nostdin", "-y"]
    argv += [
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={clip.width}x{clip.height}:rate={clip.rate}:duration={seconds}",
    ]
    if clip.audio:
        argv += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:beep_factor=4:sample_rate=48000:duration={seconds}",
        ]
    argv += ["-map", "0:v"] + (["-map", "1:a"] if clip.audio else [])
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-threads", "1"]
    if clip.gop_seconds is not None:
        gop = max(1, round(Fraction(clip.rate) * Fraction(clip.gop_seconds)))
        argv += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    argv += ["-bf", "3" if clip.bframes else "0"]
    if clip.audio:
        argv += ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]
    return [*argv, *clip.extra_args, str(target)]


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, check=False)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise TranscodeError(f"making a sample clip failed: {message[-1] if message else done.returncode}")
