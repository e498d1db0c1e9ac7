"""Synthetic test clips: lavfi `testsrc2` (a moving picture) plus `sine` tones, H.264 + AAC in MP4.

Knobs for the awkward inputs a transcoder meets: any frame rate, fixed GOP, B-frames, open GOPs,
sizes that are not even (`width`/`height` are exact: the picture is scaled, and 4:2:0 cannot be odd,
so pass `pix_fmt="yuv444p"` for those), rotation metadata, a variable frame rate (`vfr_drop`), no audio
or several audio tracks of different tones.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from juice.errors import TranscodeError

# Every third frame from this time on is dropped (-fps_mode vfr): the clip changes its rate midway.
VFR_SELECT = "select='lt(t,{start})+not(eq(mod(n,3),2))'"


@dataclass(frozen=True)
class _Clip:
    seconds: float
    rate: str
    width: int
    height: int
    tones: tuple[int, ...]
    gop_seconds: float | None
    bframes: bool
    open_gop: bool
    pix_fmt: str
    vfr_drop: float | None
    extra_args: tuple[str, ...]


def make_clip(
    path: str | Path,
    *,
    seconds: float,
    rate: str = "25",
    width: int = 640,
    height: int = 360,
    audio: bool = True,
    tones: Sequence[int] = (440,),
    gop_seconds: float | None = None,
    bframes: bool = True,
    open_gop: bool = False,
    pix_fmt: str = "yuv420p",
    vfr_drop: float | None = None,
    rotation: int = 0,
    extra_args: Sequence[str] = (),
    ffmpeg: str = "ffmpeg",
) -> Path:
    """Write a clip to `path` and return it.

    `tones`: one audio track per entry (a sine of that frequency with a short beep every second), in
    order; `audio=False` writes none. `vfr_drop`: from that second on, drop every third frame (the clip
    becomes variable frame rate). `rotation` (clockwise degrees) is stored as display matrix.
    """
    target = Path(path)
    clip = _Clip(
        seconds,
        rate,
        width,
        height,
        tuple(tones) if audio else (),
        gop_seconds,
        bframes,
        open_gop,
        pix_fmt,
        vfr_drop,
        tuple(extra_args),
    )
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
    # testsrc2 only draws even sizes: draw the next even size up and scale to the exact one.
    even_w, even_h = clip.width + clip.width % 2, clip.height + clip.height % 2
    argv = [ffmpeg, "-v", "error", "-nostdin", "-y"]
    argv += ["-f", "lavfi", "-i", f"testsrc2=size={even_w}x{even_h}:rate={clip.rate}:duration={seconds}"]
    for tone in clip.tones:
        source = f"sine=frequency={tone}:beep_factor=4:sample_rate=48000:duration={seconds}"
        argv += ["-f", "lavfi", "-i", source]
    argv += ["-map", "0:v"]
    for i in range(len(clip.tones)):
        argv += ["-map", f"{i + 1}:a"]
    filters = (
        []
        if (even_w, even_h) == (clip.width, clip.height)
        else [f"scale={clip.width}:{clip.height}", "setsar=1"]
    )
    if clip.vfr_drop is not None:
        filters.append(VFR_SELECT.format(start=clip.vfr_drop))
        argv += ["-fps_mode", "vfr"]
    if filters:
        argv += ["-vf", ",".join(filters)]
    preset = (
        "veryfast" if clip.open_gop else "ultrafast"
    )  # ultrafast's fixed B-frame pattern never opens a GOP
    argv += ["-c:v", "libx264", "-preset", preset, "-pix_fmt", clip.pix_fmt, "-threads", "1"]
    if clip.gop_seconds is not None:
        gop = max(1, round(Fraction(clip.rate) * Fraction(clip.gop_seconds)))
        argv += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    argv += ["-bf", "3" if clip.bframes else "0"]
    if clip.open_gop:
        argv += ["-x264-params", "open_gop=1"]
    if clip.tones:
        argv += ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]
    return [*argv, *clip.extra_args, str(target)]


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, check=False)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise TranscodeError(f"making a sample clip failed: {message[-1] if message else done.returncode}")
