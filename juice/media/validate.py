"""Validate a finished HLS package (`juice validate`, and the stitch step's gate before a job succeeds).

Checks, each failure a readable one-liner in `ValidationReport.failures`:
- playlists (RFC 8216): master attributes and AUDIO group, per media playlist VERSION, TARGETDURATION =
  longest rounded EXTINF (the same for audio), MEDIA-SEQUENCE, VOD, ENDLIST, EXT-X-MAP, no DISCONTINUITY;
  BANDWIDTH / AVERAGE-BANDWIDTH against the measured segment sizes; CODECS and RESOLUTION against init.mp4;
- fMP4 timing: tfdt continues segment to segment, every segment starts with a sync sample that is its
  earliest frame and sits where the EXTINF sums say; renditions share the segment grid;
- decoded video (one ffprobe per rendition): frame count = source count, pts strictly increasing with no
  gap over one frame, the frame at every segment start is an IDR (see `validate_streams`);
- audio: starts with video (AAC priming taken into account), no gaps, ends with video;
- content (with a source): per-frame PSNR paired by index with a neighbour check (`validate_psnr`).
Every ffmpeg/ffprobe run has a timeout; nothing here raises for a bad package.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PurePosixPath

from juice.errors import JuiceError
from juice.media import validate_playlists as playlists
from juice.media import validate_psnr as psnr_check
from juice.media import validate_streams as streams
from juice.media.codecs import read_init
from juice.media.probe import probe, redact
from juice.media.validate_fmp4 import (
    Fetcher,
    FetchError,
    SegmentTiming,
    TrackTiming,
    parse_init,
    resolve,
    segment_timing,
)
from juice.media.validate_report import AudioReport, PsnrMode, RenditionReport, ValidationReport

log = logging.getLogger(__name__)

# What a malformed package or a failing tool can still raise past the checks' own handling.
_UNEXPECTED = (JuiceError, ValueError, KeyError, IndexError, ZeroDivisionError, OSError)


@dataclass
class _Media:
    """One media playlist with what was read of it."""

    name: str
    location: str
    playlist: playlists.MediaPlaylist
    track: TrackTiming
    codecs: str
    size: tuple[int | None, int | None]
    timings: list[SegmentTiming]

    @property
    def starts(self) -> list[int]:
        return [t.start for t in self.timings]


@dataclass
class _Source:
    location: str
    frames: int | None
    fps: Fraction | None  # set when the source is VFR


class _Run:
    def __init__(self, fetcher: Fetcher, timeout: float, ffmpeg: str, ffprobe: str) -> None:
        self.fetcher = fetcher
        self.timeout = timeout
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
        self.failures: list[str] = []

    def media(self, name: str, location: str, segment_frames: int | None) -> _Media | None:
        try:
            playlist = playlists.parse_media(self.fetcher.text(location))
        except (FetchError, ValueError) as exc:
            self.failures.append(f"{name}: media playlist unreadable: {exc}")
            return None
        self.failures += playlists.media_failures(name, playlist)
        if playlist.map_uri is None or not playlist.entries:
            return None
        try:
            init = self.fetcher.read(resolve(location, playlist.map_uri), 0, None)[0]
            track, info = parse_init(init), read_init(init)
            timings = [
                segment_timing(self.fetcher, resolve(location, uri), track) for uri, _ in playlist.entries
            ]
        except JuiceError as exc:
            self.failures.append(f"{name}: {exc}")
            return None
        self.failures += streams.segment_failures(name, timings, segment_frames)
        media = _Media(name, location, playlist, track, info.codecs, (info.width, info.height), timings)
        self._extinf_failures(media)
        return media

    def _extinf_failures(self, media: _Media) -> None:
        """Each segment starts where the EXTINF durations before it say, within one sample duration."""
        scale = media.track.timescale
        first = Fraction(media.starts[0], scale)
        slack = Fraction(max(t.decode_duration // max(t.samples, 1) for t in media.timings), scale)
        elapsed = Fraction(0)
        for i, (timing, duration) in enumerate(zip(media.timings, media.playlist.durations, strict=True)):
            if abs(Fraction(timing.start, scale) - first - elapsed) > slack + Fraction(1, 10**6) * (i + 1):
                self.failures.append(
                    f"{media.name}: segment {i} starts at {float(Fraction(timing.start, scale)):.6f} s, "
                    f"the EXTINF durations put it at {float(first + elapsed):.6f} s"
                )
                return
            elapsed += Fraction(duration).limit_denominator(10**6)

    def decode(
        self, media: _Media, report: RenditionReport, expected: int | None
    ) -> streams.DecodedVideo | None:
        try:
            video = streams.probe_video(media.location, timeout=self.timeout, ffprobe=self.ffprobe)
        except streams.ProbeFailed as exc:
            self.failures.append(f"{media.name}: cannot decode: {exc}")
            return None
        self.failures += [f"{media.name}: decoder: {line}" for line in video.errors]
        frame = 1 / video.rate if video.rate > 0 else Fraction(0)
        figures = streams.timestamps(video.pts, video.time_base, frame)
        report.frames, report.first_pts, report.last_pts = len(video.pts), figures.first, figures.last
        report.duration, report.max_gap = figures.duration, figures.max_gap
        report.non_increasing = figures.non_increasing
        report.frame_rate = f"{video.rate.numerator}/{video.rate.denominator}"
        report.idr_misses = streams.idr_misses(video, media.starts, media.track)
        self.failures += streams.timestamp_failures(media.name, figures, float(frame), float(video.time_base))
        if report.idr_misses:
            self.failures.append(
                f"{media.name}: segment(s) {report.idr_misses[:10]} do not start with an IDR frame"
            )
        stored = sum(t.samples for t in media.timings)
        if stored != len(video.pts):
            self.failures.append(f"{media.name}: the segments hold {stored} frames, {len(video.pts)} decode")
        if expected is not None and len(video.pts) != expected:
            self.failures.append(f"{media.name}: {len(video.pts)} frames decoded, the source has {expected}")
        if (
            report.extinf_total is not None
            and abs(report.extinf_total - figures.duration) > float(frame) + 1e-6
        ):
            self.failures.append(
                f"{media.name}: EXTINF total {report.extinf_total:.6f} s, "
                f"the frames last {figures.duration:.6f} s"
            )
        return video


def validate(
    master: str | Path,
    *,
    source: str | Path | None = None,
    expected_frames: int | None = None,
    psnr: PsnrMode = "all",
    segment_frames: int | None = None,
    timeout: float = 3600.0,
    audio_priming: int = streams.FFMPEG_AAC_PRIMING,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
) -> ValidationReport:
    """Check the package behind `master` (local path or http(s) URL); never raises for a bad package."""
    shown = redact(str(master))
    log.info("validating %s", shown, extra={"master": shown, "psnr": psnr})
    with Fetcher(timeout=min(timeout, 120.0)) as fetcher:
        run = _Run(fetcher, timeout, ffmpeg, ffprobe)
        try:
            report = _validate(run, str(master), source, expected_frames, psnr, segment_frames, audio_priming)
        except _UNEXPECTED as exc:
            run.failures.append(f"validation aborted: {type(exc).__name__}: {exc}")
            report = ValidationReport(ok=False, failures=[], master=shown)
    report.master, report.failures, report.ok = shown, run.failures, not run.failures
    log.info(
        "validated %s: %s",
        shown,
        "ok" if report.ok else f"{len(run.failures)} failure(s)",
        extra={"master": shown, "ok": report.ok},
    )
    return report


def _validate(
    run: _Run,
    master: str,
    source: str | Path | None,
    expected_frames: int | None,
    psnr: PsnrMode,
    segment_frames: int | None,
    priming: int,
) -> ValidationReport:
    report = ValidationReport(
        ok=False, failures=[], master=master, psnr=psnr if source is not None else "none"
    )
    try:
        parsed = playlists.parse_master(run.fetcher.text(master))
    except (FetchError, ValueError) as exc:
        run.failures.append(f"master: unreadable: {exc}")
        return report
    run.failures += playlists.master_failures(parsed)
    src = _source(run, source, expected_frames)
    report.source = redact(str(source)) if source is not None else None
    report.expected_frames = src.frames if src else expected_frames
    videos: list[tuple[_Media, RenditionReport, streams.DecodedVideo | None]] = []
    for variant in parsed.variants:
        name = _name(variant.uri)
        item = RenditionReport(name=name, playlist=variant.uri, bandwidth_declared=variant.bandwidth)
        item.average_bandwidth_declared = variant.average_bandwidth
        report.renditions.append(item)
        media = run.media(name, resolve(master, variant.uri), segment_frames)
        if media is None:
            continue
        _describe(run, media, item, variant)
        videos.append((media, item, run.decode(media, item, report.expected_frames)))
    audio_uri = next(iter(parsed.audio_groups.values()), None)
    audio = run.media(_name(audio_uri), resolve(master, audio_uri), None) if audio_uri else None
    every = {m.name: m.playlist for m, _, _ in videos} | ({audio.name: audio.playlist} if audio else {})
    report.playlists_checked = len(every)
    report.target_duration = next(iter(every.values())).target_duration if every else None
    run.failures += playlists.target_failures(every)
    _cross_checks(run, videos, report.expected_frames)
    if audio is not None and audio_uri is not None:
        report.audio = _audio(run, audio, audio_uri, videos, priming)
    _bandwidths(run, videos, audio)
    if src is not None and psnr != "none":
        report.source_fps = _psnr(run, src, videos, psnr)
    return report


def _name(uri: str) -> str:
    path = PurePosixPath(uri.split("?", 1)[0])
    return path.parent.name or path.name


def _describe(run: _Run, media: _Media, item: RenditionReport, variant: playlists.StreamInf) -> None:
    item.codecs, (item.width, item.height) = media.codecs, media.size
    item.segments, item.extinf_total = len(media.timings), round(sum(media.playlist.durations), 6)
    if variant.codecs is not None and media.codecs not in variant.codecs.split(","):
        run.failures.append(
            f"master: {variant.uri} CODECS {variant.codecs!r} lack {media.codecs} (from init.mp4)"
        )
    if variant.resolution is not None and variant.resolution != media.size:
        run.failures.append(
            f"master: {variant.uri} RESOLUTION {variant.resolution} but init.mp4 says {media.size}"
        )


def _source(run: _Run, source: str | Path | None, expected: int | None) -> _Source | None:
    if source is None:
        return None
    location = str(source)
    try:
        info = probe(location, timeout=run.timeout, ffprobe=run.ffprobe)
    except JuiceError as exc:
        run.failures.append(f"source: {exc}")
        return None
    if info.video is None:
        run.failures.append("source: no video stream")
        return None
    fps = info.video.rate if info.video.variable_frame_rate else None
    frames: int | None = expected if expected is not None else info.video.frame_count
    if expected is None and fps is not None:
        frames = _count_normalized(run, location, fps)
    return _Source(location, frames, fps)


def _count_normalized(run: _Run, location: str, fps: Fraction) -> int | None:
    """Frames of a VFR source after `fps=<rate>` (what the workers encode)."""
    argv = [run.ffmpeg, "-v", "error", "-nostdin", "-i", location, "-map", "0:v:0"]
    argv += ["-vf", f"fps={fps.numerator}/{fps.denominator}", "-f", "null", "-progress", "pipe:1", "-"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=run.timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        run.failures.append(f"source: counting normalized frames failed: {exc}")
        return None
    counts = [
        line.split("=", 1)[1] for line in done.stdout.decode().splitlines() if line.startswith("frame=")
    ]
    return int(counts[-1]) if counts and counts[-1].isdigit() else None


def _cross_checks(
    run: _Run, videos: list[tuple[_Media, RenditionReport, streams.DecodedVideo | None]], expected: int | None
) -> None:
    media = {m.name: m for m, _, _ in videos}
    if not media:
        return
    first = next(iter(media.values()))
    tick = max(Fraction(1, first.track.timescale), Fraction(1, 10**6))
    run.failures += playlists.alignment_failures({n: m.playlist for n, m in media.items()}, float(tick))
    for other in list(media.values())[1:]:
        starts = [Fraction(s, other.track.timescale) for s in other.starts]
        ours = [Fraction(s, first.track.timescale) for s in first.starts]
        if len(starts) == len(ours) and any(abs(a - b) > tick for a, b in zip(starts, ours, strict=True)):
            run.failures.append(f"{other.name}: segment start times differ from {first.name}")
    counts = {item.name: item.frames for _, item, decoded in videos if decoded is not None}
    if expected is None and len(set(counts.values())) > 1:
        run.failures.append(f"renditions decode to different frame counts: {counts}")


def _audio(
    run: _Run,
    audio: _Media,
    uri: str,
    videos: list[tuple[_Media, RenditionReport, streams.DecodedVideo | None]],
    priming: int,
) -> AudioReport:
    item = AudioReport(name=audio.name, playlist=uri, codecs=audio.codecs, segments=len(audio.timings))
    decoded = [(r, v) for _, r, v in videos if v is not None]
    try:
        packets = streams.probe_audio(audio.location, timeout=run.timeout, ffprobe=run.ffprobe)
    except streams.ProbeFailed as exc:
        run.failures.append(f"{audio.name}: cannot read packets: {exc}")
        return item
    run.failures += [f"{audio.name}: demuxer: {line}" for line in packets.errors]
    if not decoded:
        return item
    video, frames = decoded[0]
    frame = float(1 / frames.rate) if frames.rate > 0 else 0.0
    first, end = video.first_pts or 0.0, (video.first_pts or 0.0) + (video.duration or 0.0)
    figures = streams.audio_figures(packets, first, end, priming)
    item.packets, item.sample_rate, item.priming_samples = figures.packets, figures.sample_rate, priming
    item.first_pts, item.duration, item.gaps = figures.first_pts, round(figures.duration, 6), figures.gaps
    item.start_offset_ms = round(figures.start_offset * 1000, 3)
    item.end_offset_ms = round(figures.end_offset * 1000, 3)
    item.max_gap_ms = round(figures.max_gap * 1000, 3)
    run.failures += streams.audio_failures(audio.name, figures, frame)
    return item


def _bandwidths(
    run: _Run, videos: list[tuple[_Media, RenditionReport, streams.DecodedVideo | None]], audio: _Media | None
) -> None:
    extra = (0, 0)
    if audio is not None:
        extra = playlists.measured_bandwidth([t.size for t in audio.timings], audio.playlist.durations)
    for media, item, _ in videos:
        peak, average = playlists.measured_bandwidth(
            [t.size for t in media.timings], media.playlist.durations
        )
        item.bandwidth_measured, item.average_bandwidth_measured = peak + extra[0], average + extra[1]
        declared = (item.bandwidth_declared, item.average_bandwidth_declared)
        measured = (item.bandwidth_measured, item.average_bandwidth_measured)
        run.failures += playlists.bandwidth_failures(f"master: {item.playlist}", declared, measured)


def _psnr(
    run: _Run,
    src: _Source,
    videos: list[tuple[_Media, RenditionReport, streams.DecodedVideo | None]],
    mode: PsnrMode,
) -> str | None:
    for media, item, decoded in videos:
        if decoded is None or item.width is None or item.height is None:
            continue
        fps = (decoded.rate if decoded.rate > 0 else src.fps) if src.fps is not None else None
        windows = None
        if mode == "joins":
            boundaries, total = [], 0
            for timing in media.timings:
                boundaries.append(total)
                total += timing.samples
            windows = psnr_check.join_windows(boundaries, len(decoded.pts))
        plan = psnr_check.PsnrPlan(item.width, item.height, fps, windows)
        try:
            series = psnr_check.run(
                media.location, src.location, plan, timeout=run.timeout, ffmpeg=run.ffmpeg
            )
        except psnr_check.PsnrFailed as exc:
            run.failures.append(f"{media.name}: PSNR against the source failed: {exc}")
            continue
        figures = psnr_check.figures(series)
        item.psnr_frames, item.psnr_min, item.psnr_mean = figures.frames, figures.psnr_min, figures.psnr_mean
        item.neighbour_wins, item.first_neighbour_win = figures.neighbour_wins, figures.first_neighbour_win
        run.failures += psnr_check.failures(media.name, figures)
    if src.fps is None:
        return None
    rate = src.fps if not videos or videos[0][2] is None else videos[0][2].rate
    return f"{rate.numerator}/{rate.denominator}"


def main_validate(master: str, source: str | None, *, sample_joins_only: bool) -> int:
    """`juice validate`: print the JSON report; exit 0 when the package passes, 1 otherwise."""
    mode: PsnrMode = "none" if source is None else "joins" if sample_joins_only else "all"
    report = validate(master, source=source, psnr=mode)
    print(report.model_dump_json(indent=2))
    return 0 if report.ok else 1
