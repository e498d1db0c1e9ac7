"""ffprobe adapter: a source (presigned http URL or local path) -> `MediaInfo` for the planner.

One ffprobe run reads the whole input once: `-show_format -show_streams -count_packets` gives the
container facts and an exact packet (= frame) count for the video stream.
"""

from __future__ import annotations

import json
import logging
import subprocess
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from juice.core.mediainfo import AudioStreamInfo, MediaInfo, VideoStreamInfo
from juice.errors import ProbeError

log = logging.getLogger(__name__)

VFR_TOLERANCE = 0.001  # r_frame_rate and avg_frame_rate further apart than 0.1 % -> variable frame rate
_MESSAGE_LIMIT = 300


def probe(url: str, *, timeout: float = 120.0, ffprobe: str = "ffprobe") -> MediaInfo:
    """Probe a source. Raises `ProbeError` with ffprobe's (short) message when it cannot be read."""
    argv = [ffprobe, "-v", "error", "-count_packets", "-show_format", "-show_streams", "-of", "json", url]
    shown = redact(url)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(f"ffprobe timed out after {timeout:g} s reading {shown}") from exc
    except OSError as exc:
        raise ProbeError(f"cannot run {ffprobe}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        raise ProbeError(
            _message(done.stderr.decode(errors="replace"), url) or f"ffprobe exit {done.returncode}"
        )
    try:
        data = json.loads(done.stdout)
        info = media_info_from_json(data)
    except (ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        raise ProbeError(f"unreadable ffprobe output for {shown}: {exc}") from exc
    log.info(
        "probed %s: %s, video=%s, audio streams=%d",
        shown,
        info.format_name,
        info.video.codec if info.video else None,
        len(info.audio),
        extra={"source": shown},
    )
    return info


def redact(url: str) -> str:
    """Drop the query string (presigned signature) from a URL before it goes into a message."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.query:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _message(stderr: str, url: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    text = text.replace(url, redact(url))
    return text[:_MESSAGE_LIMIT]


def media_info_from_json(data: dict[str, Any]) -> MediaInfo:
    """Build `MediaInfo` from ffprobe's JSON (`-show_format -show_streams -count_packets`)."""
    fmt = data.get("format", {})
    streams: list[dict[str, Any]] = data.get("streams", [])
    duration = _float(fmt.get("duration"))
    video_streams = [s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)]
    audio_streams = [s for s in streams if s.get("codec_type") == "audio"]
    size = fmt.get("size")
    return MediaInfo(
        format_name=str(fmt.get("format_name", "unknown")),
        duration=duration,
        size_bytes=int(size) if size is not None else None,
        video=_video(video_streams[0], duration) if video_streams else None,
        audio=[_audio(s, ordinal, duration) for ordinal, s in enumerate(audio_streams)],
    )


def _is_cover_art(stream: dict[str, Any]) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _video(s: dict[str, Any], container_duration: float) -> VideoStreamInfo:
    width, height = int(s["width"]), int(s["height"])
    rotation = rotation_of(s)
    display_width, display_height = display_size(
        width, height, _ratio(s.get("sample_aspect_ratio")), rotation
    )
    r_rate, avg_rate = _rate(s.get("r_frame_rate")), _rate(s.get("avg_frame_rate"))
    if r_rate <= 0:
        r_rate = avg_rate
    if r_rate <= 0:
        raise ValueError("the video stream has no frame rate")
    count = s.get("nb_read_packets") or s.get("nb_frames") or 0
    return VideoStreamInfo(
        index=int(s["index"]),
        codec=str(s.get("codec_name", "unknown")),
        width=width,
        height=height,
        display_width=display_width,
        display_height=display_height,
        rotation=rotation,
        pix_fmt=str(s.get("pix_fmt", "unknown")),
        frame_rate=_rate_text(r_rate),
        avg_frame_rate=_rate_text(avg_rate),
        frame_count=int(count),
        duration=_float(s.get("duration")) or container_duration,
        start_time=_float(s.get("start_time")),
        variable_frame_rate=is_variable(r_rate, avg_rate),
    )


def _audio(s: dict[str, Any], ordinal: int, container_duration: float) -> AudioStreamInfo:
    return AudioStreamInfo(
        index=int(s["index"]),
        ordinal=ordinal,
        codec=str(s.get("codec_name", "unknown")),
        channels=int(s.get("channels", 0)),
        sample_rate=int(s.get("sample_rate", 0)),
        duration=_float(s.get("duration")) or container_duration,
        start_time=_float(s.get("start_time")),
    )


def rotation_of(stream: dict[str, Any]) -> int:
    """Clockwise display rotation in degrees (0/90/180/270): legacy `rotate` tag, else the display matrix."""
    tag = stream.get("tags", {}).get("rotate")
    if tag is not None:
        return _quadrant(float(tag))
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            # ffprobe reports the display matrix angle counter-clockwise.
            return _quadrant(-float(side["rotation"]))
    return 0


def _quadrant(degrees: float) -> int:
    return (round(degrees / 90) * 90) % 360


def display_size(width: int, height: int, sar: Fraction, rotation: int) -> tuple[int, int]:
    """What a player shows: width stretched by the sample aspect ratio, then w/h swapped for 90/270."""
    shown_width = round(width * sar) if sar > 0 else width
    if rotation in (90, 270):
        return height, shown_width
    return shown_width, height


def rendition_width(display_width: int, display_height: int, height: int) -> int:
    """Width (even) of a rendition `height` pixels high that keeps the display aspect ratio."""
    return max(2, 2 * round(display_width * height / display_height / 2))


def is_variable(r_rate: Fraction, avg_rate: Fraction) -> bool:
    if r_rate <= 0 or avg_rate <= 0:
        return False
    return abs(r_rate - avg_rate) / r_rate > VFR_TOLERANCE


def _rate(text: object) -> Fraction:
    if not text:
        return Fraction(0)
    num, _, den = str(text).partition("/")
    denominator = int(den or 1)
    return Fraction(int(num), denominator) if denominator else Fraction(0)


def _rate_text(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def _ratio(text: object) -> Fraction:
    if not text or str(text) in ("0:1", "N/A"):
        return Fraction(1)
    num, _, den = str(text).partition(":")
    return Fraction(int(num), int(den or 1)) if int(den or 1) else Fraction(1)


def _float(value: object) -> float:
    try:
        return float(str(value)) if value is not None else 0.0
    except ValueError:
        return 0.0
