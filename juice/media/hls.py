"""HLS playlists, pure: parse ffmpeg's per-chunk media playlists, render stitched media and master playlists.

Rules followed (RFC 8216 and Apple's HLS authoring spec): EXTINF with 6 decimals, TARGETDURATION is the
largest EXTINF rounded to the nearest integer (the same value for every media playlist of a package),
VERSION 7 for fMP4 (EXT-X-MAP), VOD with ENDLIST, no DISCONTINUITY (timestamps continue across chunks),
master BANDWIDTH = peak segment bit rate of the variant including its audio rendition.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from juice.errors import StitchError

MEDIA_VERSION = 7
INIT_NAME = "init.mp4"
AUDIO_GROUP = "aud"
_SEGMENT_NUMBER = re.compile(r"(\d+)\.m4s$")
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@dataclass(frozen=True)
class Segment:
    """One media segment: its number on the job-wide grid, EXTINF seconds, size in bytes."""

    number: int
    duration: float
    bytes: int = 0

    @property
    def uri(self) -> str:
        return segment_name(self.number)


@dataclass(frozen=True)
class ParsedPlaylist:
    """What ffmpeg wrote for one chunk: the segments' file names and EXTINF durations, in order."""

    target_duration: int
    media_sequence: int
    map_uri: str | None
    entries: tuple[tuple[str, float], ...]
    ended: bool


@dataclass(frozen=True)
class Variant:
    """One EXT-X-STREAM-INF entry of a master playlist."""

    uri: str
    bandwidth: int
    average_bandwidth: int
    codecs: str
    width: int
    height: int
    frame_rate: Fraction


@dataclass(frozen=True)
class AudioRendition:
    """The EXT-X-MEDIA entry of the audio group."""

    uri: str
    name: str


def segment_name(number: int) -> str:
    return f"seg_{number:05d}.m4s"


def segment_number(uri: str) -> int:
    """'seg_00042.m4s' -> 42."""
    m = _SEGMENT_NUMBER.search(uri)
    if not m:
        raise ValueError(f"{uri!r} is not a seg_NNNNN.m4s segment name")
    return int(m.group(1))


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def parse_media_playlist(text: str) -> ParsedPlaylist:
    """Parse a media playlist as ffmpeg's HLS muxer writes it (single EXT-X-MAP, no byte ranges)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an M3U8 playlist: the first line is not #EXTM3U")
    target, sequence, map_uri, ended = 0, 0, None, False
    entries: list[tuple[str, float]] = []
    pending: float | None = None
    for line in lines[1:]:
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-TARGETDURATION":
            target = int(value)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            sequence = int(value)
        elif tag == "#EXT-X-MAP":
            map_uri = parse_attributes(value).get("URI")
        elif tag == "#EXTINF":
            pending = float(value.split(",", 1)[0])
        elif tag == "#EXT-X-ENDLIST":
            ended = True
        elif not line.startswith("#"):
            if pending is None:
                raise ValueError(f"segment {line!r} has no #EXTINF before it")
            entries.append((line, pending))
            pending = None
    return ParsedPlaylist(target, sequence, map_uri, tuple(entries), ended)


def parse_attributes(text: str) -> dict[str, str]:
    """'URI="init.mp4",BYTERANGE="1@0"' -> {'URI': 'init.mp4', 'BYTERANGE': '1@0'}."""
    return {key: value.strip('"') for key, value in _ATTRIBUTE.findall(text)}


def target_duration(durations: Iterable[float]) -> int:
    """The smallest TARGETDURATION every given EXTINF satisfies (RFC 8216 section 4.3.3.1)."""
    return max((round_half_up(d) for d in durations), default=1) or 1


def render_media_playlist(segments: Sequence[Segment], target: int, init_uri: str = INIT_NAME) -> str:
    """A VOD fMP4 media playlist starting at media sequence 0."""
    if not segments:
        raise StitchError("a media playlist needs at least one segment")
    too_long = [s.number for s in segments if round_half_up(s.duration) > target]
    if too_long:
        raise StitchError(f"segments {too_long} are longer than TARGETDURATION {target}")
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{MEDIA_VERSION}",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f'#EXT-X-MAP:URI="{init_uri}"',
    ]
    for segment in segments:
        lines += [f"#EXTINF:{segment.duration:.6f},", segment.uri]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def peak_bitrate(segments: Sequence[Segment]) -> int:
    """Largest per-segment bit rate (bits/s), measured from bytes and EXTINF."""
    return max((math.ceil(s.bytes * 8 / s.duration) for s in segments if s.duration > 0), default=0)


def average_bitrate(segments: Sequence[Segment]) -> int:
    total = sum(s.duration for s in segments)
    return math.ceil(sum(s.bytes for s in segments) * 8 / total) if total > 0 else 0


def render_master(variants: Sequence[Variant], audio: AudioRendition | None) -> str:
    """Master playlist: the audio group (if any), then the variants by ascending BANDWIDTH."""
    if not variants:
        raise StitchError("a master playlist needs at least one variant")
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{MEDIA_VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio is not None:
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="{audio.name}",'
            f'DEFAULT=YES,AUTOSELECT=YES,URI="{audio.uri}"'
        )
    for v in sorted(variants, key=lambda v: (v.bandwidth, v.uri)):
        attributes = [
            f"BANDWIDTH={v.bandwidth}",
            f"AVERAGE-BANDWIDTH={v.average_bandwidth}",
            f'CODECS="{v.codecs}"',
            f"RESOLUTION={v.width}x{v.height}",
            f"FRAME-RATE={float(v.frame_rate):.3f}",
        ]
        if audio is not None:
            attributes.append(f'AUDIO="{AUDIO_GROUP}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), v.uri]
    return "\n".join(lines) + "\n"
