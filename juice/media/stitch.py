"""Join the workers' outputs into one HLS package: media playlists per rendition, then the master, last.

The media bytes are never touched: every chunk of a rendition wrote a byte-identical init.mp4 and
segments whose timestamps (tfdt) and numbers already continue across chunks. The stitcher checks that
this holds (same init, contiguous segment numbers, frame totals) and writes the playlists.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from juice.core.worktask import RenditionManifest, TaskManifest
from juice.errors import StitchError
from juice.media.hls import (
    INIT_NAME,
    AudioRendition,
    Segment,
    Variant,
    average_bitrate,
    peak_bitrate,
    render_master,
    render_media_playlist,
    target_duration,
)
from juice.storage.port import ObjectStore

log = logging.getLogger(__name__)

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
MASTER_NAME = "master.m3u8"
MEDIA_PLAYLIST_NAME = "index.m3u8"


@dataclass(frozen=True)
class RenditionFigures:
    """One stitched rendition, as written."""

    name: str
    playlist_key: str
    codecs: str
    width: int | None
    height: int | None
    frames: int | None
    segments: tuple[Segment, ...]
    peak_bandwidth: int
    average_bandwidth: int

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)


@dataclass(frozen=True)
class StitchResult:
    master_key: str
    target_duration: int
    renditions: tuple[RenditionFigures, ...]
    audio: RenditionFigures | None


def stitch(
    store: ObjectStore,
    bucket: str,
    prefix: str,
    *,
    video: list[TaskManifest],
    audio: TaskManifest | None,
    frame_rate: str,
    expected_frames: int,
) -> StitchResult:
    """Verify the chunk manifests (in chunk order), write every media playlist, then master.m3u8."""
    rate = _rate(frame_rate)
    renditions = [_figures(prefix, group) for group in merge_video(video, expected_frames)]
    audio_figures = _figures(prefix, merge_audio(audio)) if audio is not None else None
    every = [*renditions, *([audio_figures] if audio_figures else [])]
    target = target_duration(s.duration for r in every for s in r.segments)
    for figures in every:
        init_key = f"{prefix}{figures.name}/{INIT_NAME}"
        if not store.exists(bucket, init_key):
            raise StitchError(f"{figures.name}: {init_key} is missing from the bucket")
    for figures in every:
        text = render_media_playlist(figures.segments, target)
        store.put_bytes(bucket, figures.playlist_key, text.encode(), PLAYLIST_TYPE)
    master_key = f"{prefix}{MASTER_NAME}"
    store.put_bytes(bucket, master_key, master_text(renditions, audio_figures, rate).encode(), PLAYLIST_TYPE)
    log.info(
        "stitched %s: %d renditions, audio=%s, %d frames",
        master_key,
        len(renditions),
        audio_figures is not None,
        expected_frames,
        extra={"bucket": bucket, "master_key": master_key},
    )
    return StitchResult(master_key, target, tuple(renditions), audio_figures)


def merge_video(chunks: Sequence[TaskManifest], expected_frames: int) -> list[list[RenditionManifest]]:
    """Per rendition (in the first chunk's order), its manifests from every chunk, checked for joinability."""
    if not chunks:
        raise StitchError("no video chunks to stitch")
    if any(chunk.kind != "video" for chunk in chunks):
        raise StitchError("a video chunk manifest is not of kind 'video'")
    names = [r.name for r in chunks[0].renditions]
    if not names or len(set(names)) != len(names):
        raise StitchError(f"chunk {chunks[0].task_key}: rendition names {names} are empty or repeat")
    groups: list[list[RenditionManifest]] = []
    for name in names:
        group = []
        for chunk in chunks:
            found = [r for r in chunk.renditions if r.name == name]
            if len(found) != 1 or len(chunk.renditions) != len(names):
                raise StitchError(
                    f"chunk {chunk.task_key}: renditions {[r.name for r in chunk.renditions]}, "
                    f"expected {names}"
                )
            group.append(found[0])
        _check_group(name, group, expected_frames)
        groups.append(group)
    return groups


def merge_audio(manifest: TaskManifest) -> list[RenditionManifest]:
    if manifest.kind != "audio" or len(manifest.renditions) != 1:
        raise StitchError(f"audio manifest {manifest.task_key} must be of kind 'audio' with one rendition")
    _check_numbers(manifest.renditions[0].name, [manifest.renditions[0]])
    return [manifest.renditions[0]]


def _check_group(name: str, group: Sequence[RenditionManifest], expected_frames: int) -> None:
    first = group[0]
    for part in group[1:]:
        if part.init_sha256 != first.init_sha256:
            raise StitchError(
                f"{name}: chunks wrote different init.mp4 (sha256 {first.init_sha256[:12]}… "
                f"vs {part.init_sha256[:12]}…); the encodes are not joinable"
            )
        if (part.codecs, part.width, part.height) != (first.codecs, first.width, first.height):
            raise StitchError(f"{name}: chunks differ in codec or size")
    _check_numbers(name, group)
    if any(part.frame_count is None for part in group):
        raise StitchError(f"{name}: a chunk manifest has no frame count")
    frames = sum(part.frame_count or 0 for part in group)
    if frames != expected_frames:
        raise StitchError(f"{name}: chunks hold {frames} frames, the source has {expected_frames}")


def _check_numbers(name: str, group: Sequence[RenditionManifest]) -> None:
    numbers = [s.number for part in group for s in part.segments]
    if not numbers:
        raise StitchError(f"{name}: no segments")
    if numbers != list(range(len(numbers))):
        gap = next(i for i, n in enumerate(numbers) if n != i)
        raise StitchError(
            f"{name}: segment numbers are not contiguous from 0 (position {gap} is {numbers[gap]})"
        )
    if any(s.duration <= 0 for part in group for s in part.segments):
        raise StitchError(f"{name}: a segment has no duration")


def _figures(prefix: str, group: Sequence[RenditionManifest]) -> RenditionFigures:
    segments = tuple(Segment(s.number, s.duration, s.bytes) for part in group for s in part.segments)
    first = group[0]
    frames = sum(p.frame_count or 0 for p in group) if first.frame_count is not None else None
    return RenditionFigures(
        name=first.name,
        playlist_key=f"{prefix}{first.name}/{MEDIA_PLAYLIST_NAME}",
        codecs=first.codecs,
        width=first.width,
        height=first.height,
        frames=frames,
        segments=segments,
        peak_bandwidth=peak_bitrate(segments),
        average_bandwidth=average_bitrate(segments),
    )


def master_text(
    renditions: Sequence[RenditionFigures], audio: RenditionFigures | None, rate: Fraction
) -> str:
    """The master playlist: BANDWIDTH adds the audio's peak to each variant's peak (RFC 8216 4.3.4.2)."""
    audio_peak = audio.peak_bandwidth if audio else 0
    audio_average = audio.average_bandwidth if audio else 0
    variants = []
    for r in renditions:
        if r.width is None or r.height is None:
            raise StitchError(f"{r.name}: no picture size in the chunk manifests")
        variants.append(
            Variant(
                uri=f"{r.name}/{MEDIA_PLAYLIST_NAME}",
                bandwidth=r.peak_bandwidth + audio_peak,
                average_bandwidth=r.average_bandwidth + audio_average,
                codecs=f"{r.codecs},{audio.codecs}" if audio else r.codecs,
                width=r.width,
                height=r.height,
                frame_rate=rate,
            )
        )
    group = AudioRendition(uri=f"{audio.name}/{MEDIA_PLAYLIST_NAME}", name=audio.name) if audio else None
    return render_master(variants, group)


def _rate(text: str) -> Fraction:
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError) as exc:
        raise StitchError(f"frame rate {text!r} is not a rational number") from exc
    if rate <= 0:
        raise StitchError(f"frame rate {text!r} is not positive")
    return rate
