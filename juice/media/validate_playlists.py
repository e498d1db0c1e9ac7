"""Pure playlist checks for `juice validate`: RFC 8216 rules for VOD fMP4 media playlists, the master
playlist's required attributes, segment alignment across renditions and BANDWIDTH against measured sizes.

Each check returns readable one-line failures (empty when the rule holds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from juice.media.hls import Segment, average_bitrate, parse_attributes, peak_bitrate, round_half_up

MAP_VERSION = 6  # EXT-X-MAP in a media playlist without I-frames only (RFC 8216 section 7)
DECIMAL_EXTINF_VERSION = 3
BANDWIDTH_TOLERANCE = 0.10  # declared figures may exceed the measured ones by this fraction


@dataclass(frozen=True)
class MediaPlaylist:
    version: int | None = None
    target_duration: int | None = None
    media_sequence: int | None = None
    playlist_type: str | None = None
    map_uri: str | None = None
    ended: bool = False
    discontinuities: int = 0
    entries: tuple[tuple[str, float], ...] = ()

    @property
    def durations(self) -> list[float]:
        return [d for _, d in self.entries]


@dataclass(frozen=True)
class StreamInf:
    """One EXT-X-STREAM-INF entry; absent attributes are None."""

    uri: str
    bandwidth: int | None = None
    average_bandwidth: int | None = None
    codecs: str | None = None
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None
    audio: str | None = None


@dataclass(frozen=True)
class MasterPlaylist:
    version: int | None = None
    variants: tuple[StreamInf, ...] = ()
    audio_groups: Mapping[str, str] = field(default_factory=dict)  # GROUP-ID -> URI


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an M3U8 playlist: the first line is not #EXTM3U")
    return lines


def parse_media(text: str) -> MediaPlaylist:
    """Every tag the checks need. Raises ValueError when the text is not a playlist or an EXTINF is bad."""
    fields: dict[str, object] = {}
    entries: list[tuple[str, float]] = []
    pending: float | None = None
    discontinuities = 0
    for line in _lines(text)[1:]:
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-VERSION":
            fields["version"] = _int(value)
        elif tag == "#EXT-X-TARGETDURATION":
            fields["target_duration"] = _int(value)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            fields["media_sequence"] = _int(value)
        elif tag == "#EXT-X-PLAYLIST-TYPE":
            fields["playlist_type"] = value.strip()
        elif tag == "#EXT-X-MAP":
            fields["map_uri"] = parse_attributes(value).get("URI")
        elif tag == "#EXT-X-ENDLIST":
            fields["ended"] = True
        elif tag == "#EXT-X-DISCONTINUITY":
            discontinuities += 1
        elif tag == "#EXTINF":
            pending = float(value.split(",", 1)[0])
        elif not line.startswith("#"):
            if pending is None:
                raise ValueError(f"segment {line!r} has no #EXTINF before it")
            entries.append((line, pending))
            pending = None
    return MediaPlaylist(
        version=_opt_int(fields.get("version")),
        target_duration=_opt_int(fields.get("target_duration")),
        media_sequence=_opt_int(fields.get("media_sequence")),
        playlist_type=str(fields["playlist_type"]) if "playlist_type" in fields else None,
        map_uri=str(fields["map_uri"]) if fields.get("map_uri") else None,
        ended=bool(fields.get("ended")),
        discontinuities=discontinuities,
        entries=tuple(entries),
    )


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def parse_master(text: str) -> MasterPlaylist:
    """Variants in playlist order, and the URI of every EXT-X-MEDIA TYPE=AUDIO group."""
    version: int | None = None
    variants: list[StreamInf] = []
    groups: dict[str, str] = {}
    pending: dict[str, str] | None = None
    for line in _lines(text)[1:]:
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-VERSION":
            version = _int(value)
        elif tag == "#EXT-X-MEDIA":
            attributes = parse_attributes(value)
            if attributes.get("TYPE") == "AUDIO" and "GROUP-ID" in attributes:
                groups[attributes["GROUP-ID"]] = attributes.get("URI", "")
        elif tag == "#EXT-X-STREAM-INF":
            pending = parse_attributes(value)
        elif not line.startswith("#") and pending is not None:
            variants.append(_stream_inf(line, pending))
            pending = None
    return MasterPlaylist(version, tuple(variants), groups)


def _stream_inf(uri: str, attributes: dict[str, str]) -> StreamInf:
    resolution = None
    width, sep, height = attributes.get("RESOLUTION", "").partition("x")
    if sep and _int(width) is not None and _int(height) is not None:
        resolution = (int(width), int(height))
    rate = attributes.get("FRAME-RATE")
    try:
        frame_rate = float(rate) if rate is not None else None
    except ValueError:
        frame_rate = None
    return StreamInf(
        uri=uri,
        bandwidth=_int(attributes.get("BANDWIDTH", "")),
        average_bandwidth=_int(attributes.get("AVERAGE-BANDWIDTH", "")),
        codecs=attributes.get("CODECS") or None,
        resolution=resolution,
        frame_rate=frame_rate,
        audio=attributes.get("AUDIO"),
    )


def media_failures(name: str, playlist: MediaPlaylist) -> list[str]:
    """RFC 8216 rules for a VOD fMP4 media playlist."""
    out: list[str] = []
    if not playlist.entries:
        out.append(f"{name}: the playlist lists no segments")
    if playlist.version is None:
        out.append(f"{name}: no EXT-X-VERSION")
    elif playlist.map_uri is not None and playlist.version < MAP_VERSION:
        out.append(f"{name}: EXT-X-VERSION {playlist.version} is too low for EXT-X-MAP (needs {MAP_VERSION})")
    elif playlist.version < DECIMAL_EXTINF_VERSION:
        out.append(f"{name}: EXT-X-VERSION {playlist.version} is too low for decimal EXTINF")
    longest = max((round_half_up(d) for d in playlist.durations), default=0)
    if playlist.target_duration is None:
        out.append(f"{name}: no EXT-X-TARGETDURATION")
    elif playlist.entries and playlist.target_duration != longest:
        out.append(
            f"{name}: EXT-X-TARGETDURATION is {playlist.target_duration}, "
            f"the longest EXTINF rounds to {longest}"
        )
    if playlist.media_sequence is None:
        out.append(f"{name}: no EXT-X-MEDIA-SEQUENCE")
    if playlist.playlist_type != "VOD":
        out.append(f"{name}: EXT-X-PLAYLIST-TYPE is {playlist.playlist_type or 'missing'}, not VOD")
    if not playlist.ended:
        out.append(f"{name}: no EXT-X-ENDLIST")
    if playlist.discontinuities:
        out.append(f"{name}: {playlist.discontinuities} EXT-X-DISCONTINUITY tag(s); timestamps must continue")
    if playlist.map_uri is None:
        out.append(f"{name}: no EXT-X-MAP (an fMP4 rendition needs its init segment)")
    return out


def target_failures(playlists: Mapping[str, MediaPlaylist]) -> list[str]:
    """Every media playlist of a package (audio included) declares the same TARGETDURATION."""
    targets = {name: p.target_duration for name, p in playlists.items()}
    if len(set(targets.values())) <= 1:
        return []
    shown = ", ".join(f"{name}={t}" for name, t in targets.items())
    return [f"media playlists disagree on EXT-X-TARGETDURATION: {shown}"]


def alignment_failures(playlists: Mapping[str, MediaPlaylist], tolerance: float) -> list[str]:
    """Video renditions share the segment grid: same count and EXTINF within `tolerance` seconds."""
    items = list(playlists.items())
    if len(items) < 2:
        return []
    first_name, first = items[0]
    out: list[str] = []
    for name, other in items[1:]:
        if len(other.entries) != len(first.entries):
            out.append(f"{name} has {len(other.entries)} segments, {first_name} has {len(first.entries)}")
            continue
        off = [
            i
            for i, (a, b) in enumerate(zip(first.durations, other.durations, strict=True))
            if abs(a - b) > tolerance
        ]
        if off:
            i = off[0]
            out.append(
                f"{name}: {len(off)} segment(s) differ in EXTINF from {first_name}, first at segment {i} "
                f"({other.durations[i]:.6f} vs {first.durations[i]:.6f} s)"
            )
    return out


def master_failures(master: MasterPlaylist) -> list[str]:
    """Required and recommended attributes present; every AUDIO group resolves to an EXT-X-MEDIA."""
    out: list[str] = []
    if master.version is None:
        out.append("master: no EXT-X-VERSION")
    if not master.variants:
        out.append("master: no EXT-X-STREAM-INF variants")
    for v in master.variants:
        missing = [
            name
            for name, value in (
                ("BANDWIDTH", v.bandwidth),
                ("AVERAGE-BANDWIDTH", v.average_bandwidth),
                ("CODECS", v.codecs),
                ("RESOLUTION", v.resolution),
                ("FRAME-RATE", v.frame_rate),
            )
            if value is None
        ]
        if missing:
            out.append(f"master: variant {v.uri} lacks {', '.join(missing)}")
        if v.audio is not None and v.audio not in master.audio_groups:
            out.append(
                f"master: variant {v.uri} names AUDIO group {v.audio!r}, which no EXT-X-MEDIA declares"
            )
        if master.audio_groups and v.audio is None:
            out.append(f"master: variant {v.uri} does not reference the AUDIO group")
    return out


def measured_bandwidth(sizes: Sequence[int], durations: Sequence[float]) -> tuple[int, int]:
    """(peak, average) bits/s of a rendition's segments, from their sizes and EXTINF durations."""
    segments = [Segment(i, d, b) for i, (b, d) in enumerate(zip(sizes, durations, strict=True))]
    return peak_bitrate(segments), average_bitrate(segments)


def bandwidth_failures(
    name: str,
    declared: tuple[int | None, int | None],
    measured: tuple[int, int],
    tolerance: float = BANDWIDTH_TOLERANCE,
) -> list[str]:
    """BANDWIDTH must cover the measured peak (and not overstate it by more than `tolerance`);
    AVERAGE-BANDWIDTH must be within `tolerance` of the measured average."""
    (peak, average), out = declared, []
    measured_peak, measured_average = measured
    if peak is not None:
        if peak < measured_peak:
            out.append(f"{name}: BANDWIDTH {peak} is below the measured peak {measured_peak} bit/s")
        elif peak > measured_peak * (1 + tolerance):
            out.append(f"{name}: BANDWIDTH {peak} overstates the measured peak {measured_peak} bit/s")
    if average is not None and abs(average - measured_average) > measured_average * tolerance:
        out.append(f"{name}: AVERAGE-BANDWIDTH {average} differs from the measured {measured_average} bit/s")
    return out
