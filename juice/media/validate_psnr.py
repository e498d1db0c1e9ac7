"""Content alignment of a rendition with its source, paired by frame index (not by timestamp).

One ffmpeg run per rendition decodes the rendition and the source once and computes three PSNR series:
output frame j against source frame j ("same"), j - 1 ("prev") and j + 1 ("next"). The source is
autorotated by ffmpeg, normalized to the planned rate with `fps=` when it is VFR, and scaled to the
rendition's size. An aligned frame matches source j best; one dropped or duplicated frame makes every
later frame match a neighbour better. With `windows`, only frames in those index ranges are compared
(chunk joins and segment boundaries, where such defects start).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

PSNR_FLOOR_DB = 18.0  # below this the output does not show the source at all
NEIGHBOUR_MARGIN_DB = 0.5  # a neighbour must beat the same-index frame by this much to count
# A dropped or duplicated frame shifts every later frame of its chunk, so neighbours win over a run of
# consecutive frames; a lone win is a near-static picture or a rate-control restart, not a defect.
MIN_SHIFT_RUN = 3
IDENTICAL_DB = 100.0  # what "inf" (identical pictures) is counted as
_PSNR = re.compile(r"psnr_avg:(\S+)")
_SERIES = ("same", "prev", "next")

Window = tuple[int, int]  # inclusive range of output frame indices


@dataclass(frozen=True)
class PsnrPlan:
    width: int
    height: int
    fps: Fraction | None  # normalize the source to this rate first (VFR sources)
    windows: tuple[Window, ...] | None  # None: every frame


@dataclass(frozen=True)
class PsnrSeries:
    """PSNR (dB) per output frame index, against source j, j - 1 and j + 1."""

    same: Mapping[int, float]
    prev: Mapping[int, float]
    next: Mapping[int, float]


@dataclass(frozen=True)
class PsnrFigures:
    frames: int
    psnr_min: float | None
    psnr_mean: float | None
    neighbour_wins: int
    first_neighbour_win: int | None


def join_windows(boundaries: Sequence[int], frames: int, radius: int = 4) -> tuple[Window, ...]:
    """Merged index ranges: `radius` frames either side of every boundary, plus the first and last frames."""
    if frames <= 0:
        return ()
    ranges = sorted(
        [(0, radius), (frames - 1 - radius, frames - 1)]
        + [(b - radius, b + radius) for b in boundaries if 0 < b < frames]
    )
    merged: list[Window] = []
    for start, stop in ranges:
        lo, hi = max(start, 0), min(stop, frames - 1)
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _select(windows: tuple[Window, ...] | None, shift: int) -> str:
    if windows is None:
        return ""
    terms = "+".join(f"between(n\\,{lo + shift}\\,{hi + shift})" for lo, hi in windows)
    return f"select={terms},"


def psnr_graph(plan: PsnrPlan) -> str:
    """The filtergraph (for -filter_complex_script): input 0 is the rendition, input 1 the source."""
    fps = f"fps={plan.fps.numerator}/{plan.fps.denominator}," if plan.fps is not None else ""
    scale = f"scale={plan.width}:{plan.height},format=yuv420p"
    index = "settb=1/1,setpts=N"
    windows = plan.windows
    lines = [
        "[0:v]format=yuv420p,split=3[o0][o1][o2]",
        f"[1:v]{fps}split=3[s0][s1][s2]",
        f"[o0]{_select(windows, 0)}{index}[a0]",
        f"[s0]{_select(windows, 0)}{scale},{index}[b0]",
        f"[o1]trim=start_frame=1,{_select(windows, -1)}{index}[a1]",
        f"[s1]{_select(windows, -1)}{scale},{index}[b1]",
        f"[o2]{_select(windows, 0)}{index}[a2]",
        f"[s2]trim=start_frame=1,{_select(windows, 0)}{scale},{index}[b2]",
    ]
    for k, name in enumerate(_SERIES):
        lines.append(f"[a{k}][b{k}]psnr=stats_file={name}.log:shortest=1[x{k}]")
    lines += ["[x1]nullsink", "[x2]nullsink"]
    return ";\n".join(lines) + "\n"


def _indices(windows: tuple[Window, ...] | None, first: int, count: int) -> list[int]:
    if windows is None:
        return list(range(first, first + count))
    picked = [j for lo, hi in windows for j in range(max(lo, first), hi + 1)]
    return picked[:count]


def parse_stats(text: str) -> list[float]:
    values = []
    for found in _PSNR.findall(text):
        values.append(IDENTICAL_DB if found == "inf" else float(found))
    return values


def series_from_stats(stats: Mapping[str, str], windows: tuple[Window, ...] | None) -> PsnrSeries:
    """Map each stats file's lines onto output frame indices (prev pairs start at output frame 1)."""
    parsed = {name: parse_stats(stats.get(name, "")) for name in _SERIES}
    maps = {}
    for name, values in parsed.items():
        first = 1 if name == "prev" else 0
        maps[name] = dict(zip(_indices(windows, first, len(values)), values, strict=False))
    return PsnrSeries(maps["same"], maps["prev"], maps["next"])


def shifted_frames(
    series: PsnrSeries, margin: float = NEIGHBOUR_MARGIN_DB, run: int = MIN_SHIFT_RUN
) -> list[int]:
    """Output frames inside runs of at least `run` consecutive frames that all match the same neighbour
    (the previous, or the next, source frame) better than their own by more than `margin`."""

    def side(j: int, value: float) -> str | None:
        if series.prev.get(j, -1.0) > value + margin:
            return "prev"
        if series.next.get(j, -1.0) > value + margin:
            return "next"
        return None

    shifted: list[int] = []
    current: list[int] = []
    current_side: str | None = None
    for j, value in sorted(series.same.items()):
        s = side(j, value)
        if s is not None and s == current_side and current and j == current[-1] + 1:
            current.append(j)
            continue
        if len(current) >= run:
            shifted += current
        current, current_side = ([j], s) if s is not None else ([], None)
    if len(current) >= run:
        shifted += current
    return shifted


def figures(series: PsnrSeries, margin: float = NEIGHBOUR_MARGIN_DB) -> PsnrFigures:
    same = series.same
    wins = shifted_frames(series, margin)
    values = list(same.values())
    return PsnrFigures(
        frames=len(values),
        psnr_min=round(min(values), 3) if values else None,
        psnr_mean=round(sum(values) / len(values), 3) if values else None,
        neighbour_wins=len(wins),
        first_neighbour_win=wins[0] if wins else None,
    )


def failures(name: str, result: PsnrFigures, floor: float = PSNR_FLOOR_DB) -> list[str]:
    out = []
    if result.frames == 0:
        return [f"{name}: no frame could be compared with the source"]
    if result.neighbour_wins:
        out.append(
            f"{name}: {result.neighbour_wins} frame(s) match a neighbouring source frame better than "
            f"their own, "
            f"first at frame {result.first_neighbour_win} (dropped or duplicated frame)"
        )
    if result.psnr_min is not None and result.psnr_min < floor:
        out.append(f"{name}: PSNR falls to {result.psnr_min:.2f} dB against the source (floor {floor:g} dB)")
    return out


class PsnrFailed(Exception):
    """ffmpeg could not compare the rendition with the source (the message says why)."""


def run(rendition: str, source: str, plan: PsnrPlan, *, timeout: float, ffmpeg: str = "ffmpeg") -> PsnrSeries:
    with tempfile.TemporaryDirectory(prefix="juice-psnr-") as tmp:
        work = Path(tmp)
        (work / "graph.txt").write_text(psnr_graph(plan))
        argv = [ffmpeg, "-v", "error", "-nostdin", "-i", _absolute(rendition), "-i", _absolute(source)]
        argv += ["-filter_complex_script", "graph.txt", "-map", "[x0]", "-f", "null", "-"]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, cwd=work)
        except subprocess.TimeoutExpired as exc:
            raise PsnrFailed(f"PSNR run timed out after {timeout:g} s") from exc
        except OSError as exc:
            raise PsnrFailed(f"cannot run {ffmpeg}: {exc.strerror or exc}") from exc
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            raise PsnrFailed(lines[-1][:300] if lines else f"ffmpeg exit status {done.returncode}")
        stats = {name: _read(work / f"{name}.log") for name in _SERIES}
    return series_from_stats(stats, plan.windows)


def _absolute(location: str) -> str:
    """The work directory is a temporary one: local paths must not be relative."""
    return location if "://" in location else str(Path(location).resolve())


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""
