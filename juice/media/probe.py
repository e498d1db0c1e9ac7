"""ffprobe adapter: a source (presigned http URL or local path) -> `MediaInfo` for the planner.

One ffprobe run reads the whole input once: `-show_format -show_streams -count_packets` gives the
container facts and an exact packet (= frame) count for the video stream. Then one ffmpeg run proves the
video stream decodes:

- constant frame rate: the first frame is decoded (a codec ffmpeg cannot decode is refused here);
- variable frame rate (r_frame_rate and avg_frame_rate more than 0.1 % apart): the source is going to be
  normalized to a constant rate, `normalized_rate(avg_frame_rate)`: the average rate, snapped to a
  standard rate when within 0.1 % of it. The whole file is decoded once through `fps=<rate>` and the
  frames that come out are counted, so `frame_rate` and `frame_count` describe the normalized timeline
  the workers encode (frame k = slot k of that filter on the file's own timestamps).

A still image or cover art (an `attached_pic` stream, or an image demuxer) is not a video stream.
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
STANDARD_RATES = tuple(
    Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60")
)
DECODE_TIMEOUT = 3600.0  # a VFR source is decoded once, whole
_MESSAGE_LIMIT = 300
_NO_CODEC = ("", "none", "unknown")


def probe(
    url: str,
    *,
    timeout: float = 120.0,
    ffprobe: str = "ffprobe",
    ffmpeg: str = "ffmpeg",
    decode_timeout: float = DECODE_TIMEOUT,
) -> MediaInfo:
    """Probe a source. Raises `ProbeError` with a short, readable reason when it cannot be transcoded."""
    info = _read_streams(url, timeout, ffprobe)
    if info.video is not None:
        budget = decode_timeout if info.video.variable_frame_rate else timeout
        info = info.model_copy(update={"video": _check_decoding(url, info.video, ffmpeg, budget)})
    log.info(
        "probed %s: %s, video=%s, audio streams=%d",
        redact(url),
        info.format_name,
        info.video.codec if info.video else None,
        len(info.audio),
        extra={"source": redact(url)},
    )
    return info


def _read_streams(url: str, timeout: float, ffprobe: str) -> MediaInfo:
    argv = [ffprobe, "-v", "error", "-count_packets", "-show_format", "-show_streams", "-of", "json", url]
    shown = redact(url)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(f"ffprobe timed out after {timeout:g} s reading {shown}") from exc
    except OSError as exc:
        raise ProbeError(f"cannot run {ffprobe}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        reason = _message(done.stderr.decode(errors="replace"), url) or f"ffprobe exit {done.returncode}"
        raise ProbeError(f"not a readable media file: {reason}")
    try:
        data = json.loads(done.stdout)
        info = media_info_from_json(data)
    except (ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        raise ProbeError(f"unreadable ffprobe output for {shown}: {exc}") from exc
    if info.video is not None and info.video.codec in _NO_CODEC:
        raise ProbeError("the video codec is unknown to ffmpeg: it cannot be decoded")
    return info


def _check_decoding(url: str, video: VideoStreamInfo, ffmpeg: str, timeout: float) -> VideoStreamInfo:
    """Decode the first frame (CFR) or the whole stream through the fps filter (VFR, counting frames)."""
    if not video.variable_frame_rate:
        _decode(url, ["-frames:v", "1"], ffmpeg, timeout)
        return video
    rate = normalized_rate(Fraction(video.avg_frame_rate))
    frames = _decode(url, ["-vf", f"fps={_rate_text(rate)}"], ffmpeg, timeout)
    if frames <= 0:
        raise ProbeError(f"the video stream gives no frames at {_rate_text(rate)} fps")
    log.info(
        "variable frame rate: normalized to %s fps, %d frames",
        _rate_text(rate),
        frames,
        extra={"source": redact(url), "frame_rate": _rate_text(rate), "frames": frames},
    )
    return video.model_copy(update={"frame_rate": _rate_text(rate), "frame_count": frames})


def _decode(url: str, video_args: list[str], ffmpeg: str, timeout: float) -> int:
    """Decode the first video stream to nothing; return the frames that came out (ffmpeg -progress)."""
    argv = [ffmpeg, "-v", "error", "-nostdin", "-nostats", "-i", url, "-map", "0:v:0", *video_args]
    argv += ["-f", "null", "-progress", "pipe:1", "-"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(f"decoding the video timed out after {timeout:g} s") from exc
    except OSError as exc:
        raise ProbeError(f"cannot run {ffmpeg}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        reason = _message(done.stderr.decode(errors="replace"), url) or f"ffmpeg exit {done.returncode}"
        raise ProbeError(f"the video stream cannot be decoded: {reason}")
    counts = [line[6:] for line in done.stdout.decode(errors="replace").splitlines() if line[:6] == "frame="]
    return int(counts[-1]) if counts and counts[-1].isdigit() else 0


def normalized_rate(avg_rate: Fraction) -> Fraction:
    """The constant rate a VFR source is normalized to: a standard rate within 0.1 %, else avg (1/1000)."""
    if avg_rate <= 0:
        raise ProbeError("a variable frame rate stream without an average frame rate cannot be normalized")
    for standard in STANDARD_RATES:
        if abs(avg_rate - standard) / standard <= VFR_TOLERANCE:
            return standard
    return Fraction(round(avg_rate * 1000), 1000)


def redact(url: str) -> str:
    """Drop the query string (presigned signature) from a URL before it goes into a message."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.query:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _message(stderr: str, url: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    text = text.removeprefix(f"{url}: ").replace(url, redact(url))  # the source is known to the reader
    return text[:_MESSAGE_LIMIT]


def media_info_from_json(data: dict[str, Any]) -> MediaInfo:
    """Build `MediaInfo` from ffprobe's JSON (`-show_format -show_streams -count_packets`)."""
    fmt = data.get("format", {})
    streams: list[dict[str, Any]] = data.get("streams", [])
    duration = _float(fmt.get("duration"))
    still = _is_image_format(str(fmt.get("format_name", "")))
    video_streams = [s for s in streams if s.get("codec_type") == "video" and not (still or _is_cover_art(s))]
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


def _is_image_format(format_name: str) -> bool:
    """A still picture read by an image demuxer (png_pipe, jpeg_pipe, image2, ...) is not a video."""
    return any(name == "image2" or name.endswith("_pipe") for name in format_name.split(","))


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
