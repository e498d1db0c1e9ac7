"""RFC 6381 codec strings read from an fMP4 init segment (`init.mp4`).

Video: `avc1.PPCCLL` from the avcC box (profile, constraint flags, level). Audio: `mp4a.40.N` from the
esds box (object type 0x40 = MPEG-4 audio, N = audio object type, 2 for AAC-LC).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from juice.errors import TranscodeError

# Container boxes on the way from the file's top level to the sample description.
_PATH_TO_STSD = (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")
_VISUAL_ENTRY_HEADER = 78  # SampleEntry (8) + VisualSampleEntry fields (70)
_AUDIO_ENTRY_HEADER = 28  # SampleEntry (8) + AudioSampleEntry fields (20)
_ES_DESCRIPTOR, _DECODER_CONFIG, _DECODER_SPECIFIC = 3, 4, 5


@dataclass(frozen=True)
class InitInfo:
    """What a player needs to know about one init segment's (single) track."""

    codecs: str
    width: int | None = None
    height: int | None = None


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, payload_start, payload_end) for each box in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                break
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise TranscodeError(f"init segment: box {kind!r} at byte {pos} has a bad size {size}")
        yield kind, pos + header, pos + size
        pos += size


def _find(data: bytes, kind: bytes, start: int, end: int) -> tuple[int, int]:
    for found, payload, stop in _boxes(data, start, end):
        if found == kind:
            return payload, stop
    raise TranscodeError(f"init segment has no {kind.decode(errors='replace')} box")


def _sample_entry(data: bytes) -> tuple[bytes, int, int]:
    start, end = 0, len(data)
    for kind in _PATH_TO_STSD:
        start, end = _find(data, kind, start, end)
    # stsd is a full box: version/flags (4) + entry_count (4), then the sample entries.
    for entry in _boxes(data, start + 8, end):
        return entry
    raise TranscodeError("init segment has an empty sample description")


def _avc_codecs(data: bytes, start: int, end: int) -> InitInfo:
    width, height = struct.unpack_from(">HH", data, start + 24)
    avcc, avcc_end = _find(data, b"avcC", start + _VISUAL_ENTRY_HEADER, end)
    if avcc_end - avcc < 4:
        raise TranscodeError("init segment: avcC box is truncated")
    profile, compat, level = data[avcc + 1], data[avcc + 2], data[avcc + 3]
    return InitInfo(f"avc1.{profile:02x}{compat:02x}{level:02x}", width, height)


def _descriptor(data: bytes, pos: int) -> tuple[int, int, int]:
    """Parse an MPEG-4 descriptor header at pos: (tag, payload_start, payload_end)."""
    tag = data[pos]
    pos += 1
    length = 0
    for _ in range(4):
        byte = data[pos]
        pos += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return tag, pos, pos + length


def _esds_codecs(data: bytes, start: int, end: int) -> InitInfo:
    esds, esds_end = _find(data, b"esds", start + _AUDIO_ENTRY_HEADER, end)
    try:
        tag, pos, _ = _descriptor(data, esds + 4)  # skip full-box version/flags
        if tag != _ES_DESCRIPTOR:
            raise TranscodeError("init segment: esds does not start with an ES descriptor")
        flags = data[pos + 2]
        pos += 3 + (2 if flags & 0x80 else 0)
        if flags & 0x40:
            pos += 1 + data[pos]
        pos += 2 if flags & 0x20 else 0
        tag, pos, _ = _descriptor(data, pos)
        if tag != _DECODER_CONFIG:
            raise TranscodeError("init segment: esds has no decoder config descriptor")
        object_type = data[pos]
        tag, pos, _ = _descriptor(data, pos + 13)
        if tag != _DECODER_SPECIFIC or pos >= esds_end:
            return InitInfo(f"mp4a.{object_type:x}")
        audio_object_type = data[pos] >> 3
        if audio_object_type == 31:
            audio_object_type = 32 + (((data[pos] & 0x07) << 3) | (data[pos + 1] >> 5))
    except IndexError as exc:
        raise TranscodeError("init segment: esds box is truncated") from exc
    return InitInfo(f"mp4a.{object_type:x}.{audio_object_type}")


def read_init(data: bytes) -> InitInfo:
    """Codec string (and picture size for video) of an fMP4 init segment's first track."""
    kind, start, end = _sample_entry(data)
    if kind in (b"avc1", b"avc3"):
        return _avc_codecs(data, start, end)
    if kind == b"mp4a":
        return _esds_codecs(data, start, end)
    raise TranscodeError(f"init segment: unsupported sample entry {kind.decode(errors='replace')}")
