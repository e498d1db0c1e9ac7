"""Read an HLS package's files (local path or http(s) URL) and the timing boxes of its fMP4 segments.

Only the few bytes that carry timing are read: the init segment (`mdhd` timescale, `elst` presentation
shift) and, per media segment, the boxes before its `mdat` (`tfdt` decode time, `trun` sample durations,
composition offsets and flags). Over http a segment costs one ranged GET, which also tells its size.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from juice.errors import JuiceError

HEAD_BYTES = 65_536
_CONTAINERS = {b"moov", b"trak", b"mdia", b"edts", b"moof", b"traf"}
_NON_SYNC = 0x00010000  # sample_is_non_sync_sample in the ISO BMFF sample flags


class FetchError(JuiceError):
    """A playlist, init or media segment could not be read, or its boxes are malformed."""


def is_url(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


def resolve(base: str, uri: str) -> str:
    """A playlist entry's URI made absolute against the playlist's own location."""
    if is_url(uri) or Path(uri).is_absolute():
        return uri
    if is_url(base):
        return urljoin(base, uri)
    return str(Path(base).parent / uri)


class Fetcher:
    """Reads local files or http(s) objects; one connection pool for the whole validation."""

    def __init__(self, timeout: float = 60.0) -> None:
        self._client: httpx.Client | None = None
        self._timeout = timeout

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        if self._client is not None:
            self._client.close()

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout, follow_redirects=True)
        return self._client

    def text(self, location: str) -> str:
        return self.read(location, 0, None)[0].decode(errors="replace")

    def read(self, location: str, offset: int, length: int | None) -> tuple[bytes, int]:
        """Bytes [offset, offset + length) (to the end when length is None) and the object's total size."""
        if not is_url(location):
            try:
                with Path(location).open("rb") as f:
                    size = f.seek(0, 2)
                    f.seek(offset)
                    return f.read(-1 if length is None else length), size
            except OSError as exc:
                raise FetchError(f"cannot read {location}: {exc.strerror or exc}") from exc
        headers = {} if length is None and offset == 0 else {"Range": _range(offset, length)}
        shown = location.split("?", 1)[0]
        try:
            response = self._http().get(location, headers=headers)
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot fetch {shown}: {exc}") from exc
        if response.status_code == 206:
            total = response.headers.get("Content-Range", "").rpartition("/")[2]
            return response.content, int(total) if total.isdigit() else offset + len(response.content)
        if response.status_code == 200:
            body = response.content
            return body[offset : None if length is None else offset + length], len(body)
        raise FetchError(f"cannot fetch {shown}: HTTP {response.status_code}")


def _range(offset: int, length: int | None) -> str:
    return f"bytes={offset}-" if length is None else f"bytes={offset}-{offset + length - 1}"


@dataclass(frozen=True)
class TrackTiming:
    """From the init segment: ticks per second and the edit list's presentation shift (in ticks)."""

    timescale: int
    shift: int


@dataclass(frozen=True)
class SegmentTiming:
    """One media segment, in its track's ticks. `start` is the presentation time of its first sample."""

    size: int
    decode_start: int  # tfdt
    decode_duration: int  # sum of sample durations
    samples: int
    start: int  # tfdt + first composition offset - shift
    earliest: int  # smallest presentation time of any sample
    first_sync: bool


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise FetchError(f"box {kind!r} at byte {pos} has a bad size {size}")
        yield kind, pos + header, pos + size
        pos += size


def _find_all(data: bytes, path: tuple[bytes, ...], start: int = 0, end: int | None = None) -> list[int]:
    """Payload offsets of every box reached by `path` (container names, then the wanted box)."""
    found: list[int] = []
    for kind, payload, stop in _boxes(data, start, end):
        if kind != path[0]:
            continue
        if len(path) == 1:
            found.append(payload)
        elif kind in _CONTAINERS:
            found += _find_all(data, path[1:], payload, min(stop, len(data)))
    return found


def parse_init(data: bytes) -> TrackTiming:
    """Timescale (mdhd) and presentation shift (first edit's media_time) of the init's first track."""
    try:
        mdhd = _find_all(data, (b"moov", b"trak", b"mdia", b"mdhd"))
        if not mdhd:
            raise FetchError("init segment has no mdhd box")
        version = data[mdhd[0]]
        (timescale,) = struct.unpack_from(">I", data, mdhd[0] + (20 if version == 1 else 12))
        shift = 0
        for elst in _find_all(data, (b"moov", b"trak", b"edts", b"elst"))[:1]:
            v1 = data[elst] == 1
            (count,) = struct.unpack_from(">I", data, elst + 4)
            entry = struct.calcsize(">Qq" if v1 else ">Ii") + 4
            for i in range(count):
                (media_time,) = struct.unpack_from(
                    ">q" if v1 else ">i", data, elst + 8 + i * entry + (8 if v1 else 4)
                )
                if media_time >= 0:
                    shift = media_time
                    break
    except (struct.error, IndexError) as exc:
        raise FetchError(f"init segment is truncated: {exc}") from exc
    if timescale <= 0:
        raise FetchError("init segment has a zero timescale")
    return TrackTiming(timescale, shift)


@dataclass
class _Samples:
    durations: list[int]
    offsets: list[int]
    first_flags: int | None = None


def _parse_traf(data: bytes, start: int, end: int, samples: _Samples) -> int | None:
    """Append the traf's samples; returns its tfdt (None when absent)."""
    default_duration, default_flags, tfdt = 0, 0, None
    for kind, payload, _ in _boxes(data, start, end):
        if kind == b"tfhd":
            flags = int.from_bytes(data[payload + 1 : payload + 4], "big")
            pos = payload + 8 + (8 if flags & 0x1 else 0) + (4 if flags & 0x2 else 0)
            if flags & 0x8:
                (default_duration,) = struct.unpack_from(">I", data, pos)
                pos += 4
            pos += 4 if flags & 0x10 else 0
            if flags & 0x20:
                (default_flags,) = struct.unpack_from(">I", data, pos)
        elif kind == b"tfdt":
            (tfdt,) = struct.unpack_from(">Q" if data[payload] == 1 else ">I", data, payload + 4)
        elif kind == b"trun":
            _parse_trun(data, payload, default_duration, default_flags, samples)
    return tfdt


def _parse_trun(data: bytes, payload: int, duration: int, flags_default: int, samples: _Samples) -> None:
    signed = data[payload] == 1
    flags = int.from_bytes(data[payload + 1 : payload + 4], "big")
    (count,) = struct.unpack_from(">I", data, payload + 4)
    pos = payload + 8 + (4 if flags & 0x1 else 0)
    first_flags = None
    if flags & 0x4:
        (first_flags,) = struct.unpack_from(">I", data, pos)
        pos += 4
    for i in range(count):
        d, f, cto = duration, flags_default, 0
        if flags & 0x100:
            (d,) = struct.unpack_from(">I", data, pos)
            pos += 4
        pos += 4 if flags & 0x200 else 0
        if flags & 0x400:
            (f,) = struct.unpack_from(">I", data, pos)
            pos += 4
        if flags & 0x800:
            (cto,) = struct.unpack_from(">i" if signed else ">I", data, pos)
            pos += 4
        if i == 0 and samples.first_flags is None:
            samples.first_flags = first_flags if first_flags is not None else f
        samples.durations.append(d)
        samples.offsets.append(cto)


def segment_timing(fetcher: Fetcher, location: str, track: TrackTiming) -> SegmentTiming:
    """Walk the segment's top-level boxes (skipping mdat payloads) and sum up its samples' timing."""
    window, size = fetcher.read(location, 0, HEAD_BYTES)
    window_at = 0
    samples = _Samples([], [])
    starts: list[tuple[int, int]] = []  # (tfdt, index of the traf's first sample)
    pos = 0
    shown = location.split("?", 1)[0]
    try:
        while pos + 8 <= size:
            if not window_at <= pos <= window_at + len(window) - 16:
                window, window_at = fetcher.read(location, pos, HEAD_BYTES)[0], pos
            box_size, kind = struct.unpack_from(">I4s", window, pos - window_at)
            if box_size == 1:
                (box_size,) = struct.unpack_from(">Q", window, pos - window_at + 8)
            if box_size < 8:
                raise FetchError(f"{shown}: box {kind!r} at byte {pos} has a bad size {box_size}")
            if kind == b"moof":
                if pos + box_size > window_at + len(window):
                    window, window_at = fetcher.read(location, pos, box_size)[0], pos
                moof = window[pos - window_at : pos - window_at + box_size]
                for traf in _find_all(moof, (b"traf",), 8, len(moof)):
                    first = len(samples.durations)
                    tfdt = _parse_traf(moof, traf, len(moof), samples)
                    if tfdt is not None:
                        starts.append((tfdt, first))
            pos += box_size
    except (struct.error, IndexError) as exc:
        raise FetchError(f"{shown}: truncated boxes: {exc}") from exc
    if not starts or not samples.durations:
        raise FetchError(f"{shown}: no tfdt/trun (not an fMP4 media segment)")
    return _timing(size, starts, samples, track)


def _timing(size: int, starts: list[tuple[int, int]], samples: _Samples, track: TrackTiming) -> SegmentTiming:
    presentation: list[int] = []
    for k, (tfdt, first) in enumerate(starts):
        stop = starts[k + 1][1] if k + 1 < len(starts) else len(samples.durations)
        dts = tfdt
        for i in range(first, stop):
            presentation.append(dts + samples.offsets[i] - track.shift)
            dts += samples.durations[i]
    return SegmentTiming(
        size=size,
        decode_start=starts[0][0],
        decode_duration=sum(samples.durations),
        samples=len(samples.durations),
        start=presentation[0],
        earliest=min(presentation),
        first_sync=not (samples.first_flags or 0) & _NON_SYNC,
    )
