"""Quality and speed of the chunked encode against one single-pass encode with the same settings.

    .venv/bin/python benchmarks/quality.py [--clip FILE] [--seconds 60] [--workers 2]

(a) one ffmpeg process (`-threads <workers>`) encodes the clip to fMP4 HLS with the workers' x264 settings;
(b) the clip is cut into chunks on the segment grid and encoded exactly as the workers do
    (`workers.transcode.encode_video`, `-threads 1`, `--workers` at a time, longest first, plus the audio
    task), then stitched with `juice.media.stitch` into a local directory store and validated.
Prints PSNR (mean of per-frame PSNR against the source, paired by index) and video bitrate of both, their
differences (goal: within 0.1 dB and 3 %) and the wall-time ratio chunked / single, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from juice.core.worktask import AudioTask, TaskManifest, VideoChunkTask, VideoOutput  # noqa: E402
from juice.errors import ObjectNotFound  # noqa: E402
from juice.media import validate_psnr  # noqa: E402
from juice.media.probe import probe  # noqa: E402
from juice.media.samples import make_clip  # noqa: E402
from juice.media.stitch import stitch  # noqa: E402
from juice.media.validate import validate  # noqa: E402
from workers.ffmpeg_cmd import decimal  # noqa: E402
from workers.transcode import EncodedRendition, ProcessSlot, encode_audio, encode_video  # noqa: E402

BUCKET, PREFIX = "out", "job/"


class DirectoryStore:
    """The object-store port on a local directory (<root>/<bucket>/<key>); no presigning."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure_bucket(self, bucket: str) -> None:
        (self.root / bucket).mkdir(parents=True, exist_ok=True)

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "") -> None:
        path = self.root / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def put_file(self, bucket: str, key: str, path: str, content_type: str = "") -> None:
        self.put_bytes(bucket, key, Path(path).read_bytes())

    def get_bytes(self, bucket: str, key: str) -> bytes:
        path = self.root / bucket / key
        if not path.is_file():
            raise ObjectNotFound(f"{bucket}/{key}")
        return path.read_bytes()

    def exists(self, bucket: str, key: str) -> bool:
        return (self.root / bucket / key).is_file()

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        base = self.root / bucket
        return sorted(
            k
            for p in base.rglob("*")
            if p.is_file() and (k := p.relative_to(base).as_posix()).startswith(prefix)
        )

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        keys = self.list_keys(bucket, prefix)
        for key in keys:
            (self.root / bucket / key).unlink()
        return len(keys)

    def presign_get(self, bucket: str, key: str, expires_seconds: int) -> str:
        return str(self.root / bucket / key)

    def presign_put(self, bucket: str, key: str, expires_seconds: int) -> str:
        return str(self.root / bucket / key)


@dataclass(frozen=True)
class Settings:
    rate: Fraction
    frames: int
    width: int
    height: int
    segment_frames: int
    gop_frames: int
    chunk_frames: int
    bitrate: int
    workers: int
    preset: str


@dataclass(frozen=True)
class Result:
    psnr: float
    kbps: float
    wall: float


def x264_args(s: Settings, threads: int) -> list[str]:
    """The same video options `workers.ffmpeg_cmd.video_chunk_argv` gives each rendition."""
    return [
        "-c:v",
        "libx264",
        "-preset",
        s.preset,
        "-threads",
        str(threads),
        "-b:v",
        str(s.bitrate),
        "-maxrate",
        str(s.bitrate * 3 // 2),
        "-bufsize",
        str(s.bitrate * 3),
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(s.gop_frames),
        "-keyint_min",
        str(s.gop_frames),
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:eq(mod(n,{s.gop_frames}),0)",
    ]


def hls_args(out_dir: Path, segment_seconds: Fraction) -> list[str]:
    return [
        "-f",
        "hls",
        "-hls_time",
        decimal(segment_seconds),
        "-hls_playlist_type",
        "vod",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_segment_filename",
        str(out_dir / "seg_%05d.m4s"),
        str(out_dir / "index.m3u8"),
    ]


def single_pass(source: Path, s: Settings, work: Path) -> tuple[Path, float]:
    video, audio = work / "single" / "video", work / "single" / "audio"
    video.mkdir(parents=True)
    audio.mkdir(parents=True)
    argv = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-threads", str(s.workers), "-i", str(source)]
    argv += [
        "-map",
        "0:v:0",
        "-vf",
        f"scale={s.width}:{s.height},setsar=1",
        "-an",
        "-frames:v",
        str(s.frames),
    ]
    argv += [*x264_args(s, s.workers), *hls_args(video, (s.segment_frames - Fraction(1, 2)) / s.rate)]
    argv += ["-map", "0:a:0", "-vn", "-c:a", "aac", "-b:a", "128000", "-ar", "48000", "-ac", "2"]
    argv += hls_args(audio, s.segment_frames / s.rate)
    started = time.monotonic()
    subprocess.run(argv, check=True)
    return video / "index.m3u8", time.monotonic() - started


def chunk_tasks(source: Path, s: Settings) -> list[VideoChunkTask]:
    tasks = []
    for first in range(0, s.frames, s.chunk_frames):
        count = min(s.chunk_frames, s.frames - first)
        output = VideoOutput(
            name="video",
            width=s.width,
            height=s.height,
            video_bitrate=s.bitrate,
            max_rate=s.bitrate * 3 // 2,
            profile="high",
            init_url="-",
            segment_urls=["-"] * math.ceil(count / s.segment_frames),
        )
        tasks.append(
            VideoChunkTask(
                job_id="bench",
                task_key=f"v{first // s.chunk_frames:04d}",
                source_url=str(source),
                frame_rate=f"{s.rate.numerator}/{s.rate.denominator}",
                first_frame=first,
                frame_count=count,
                segment_frames=s.segment_frames,
                gop_frames=s.gop_frames,
                first_segment=first // s.segment_frames,
                preset=s.preset,
                renditions=[output],
                manifest_url="-",
            )
        )
    return sorted(tasks, key=lambda t: -t.frame_count)  # long to short, as the scheduler orders them


def chunked(source: Path, s: Settings, work: Path) -> tuple[Path, float]:
    seconds = Fraction(s.frames) / s.rate
    audio = AudioTask(
        job_id="bench",
        task_key="a0",
        source_url=str(source),
        stream_index=0,
        name="audio",
        bitrate=128_000,
        duration=float(seconds),
        segment_seconds=float(s.segment_frames / s.rate),
        init_url="-",
        segment_urls=["-"] * (math.ceil(seconds * s.rate / s.segment_frames) + 2),
        manifest_url="-",
    )
    tasks = chunk_tasks(source, s)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=s.workers) as pool:
        videos = {
            t.task_key: pool.submit(encode_video, t, work / t.task_key, slot=ProcessSlot()) for t in tasks
        }
        sound = pool.submit(encode_audio, audio, work / "a0", slot=ProcessSlot())
        outputs = {key: future.result() for key, future in videos.items()}
        audio_out = sound.result()
    store = DirectoryStore(work / "store")
    manifests = [_publish(store, key, "video", outputs[key]) for key in sorted(outputs)]
    result = stitch(
        store,
        BUCKET,
        PREFIX,
        video=manifests,
        audio=_publish(store, "a0", "audio", [audio_out]),
        frame_rate=f"{s.rate.numerator}/{s.rate.denominator}",
        expected_frames=s.frames,
    )
    return work / "store" / BUCKET / result.master_key, time.monotonic() - started


def _publish(
    store: DirectoryStore, key: str, kind: Literal["video", "audio"], outputs: list[EncodedRendition]
) -> TaskManifest:
    for out in outputs:
        store.put_file(BUCKET, f"{PREFIX}{out.name}/init.mp4", str(out.init_path))
        for segment in out.segments:
            store.put_file(BUCKET, f"{PREFIX}{out.name}/{segment.uri}", str(out.segment_path(segment)))
    return TaskManifest(
        job_id="bench",
        task_key=key,
        kind=kind,
        renditions=[o.manifest() for o in outputs],
        wall_seconds=0.0,
        ffmpeg_version="-",
    )


def measure(playlist: Path, source: Path, s: Settings, wall: float) -> Result:
    plan = validate_psnr.PsnrPlan(s.width, s.height, None, None)
    series = validate_psnr.run(str(playlist), str(source), plan, timeout=3600)
    figures = validate_psnr.figures(series)
    if figures.frames != s.frames or figures.psnr_mean is None:
        raise SystemExit(f"{playlist}: compared {figures.frames} frames, expected {s.frames}")
    size = sum(p.stat().st_size for p in playlist.parent.iterdir() if p.suffix in (".m4s", ".mp4"))
    return Result(figures.psnr_mean, size * 8 / float(Fraction(s.frames) / s.rate) / 1000, wall)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, help="source clip (default: generate testsrc2 + noise + tone)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the generated clip")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--rate", default="30", help="frame rate of the generated clip")
    parser.add_argument("--segment-seconds", type=float, default=6.0)
    parser.add_argument("--gop-seconds", type=float, default=2.0)
    parser.add_argument("--chunk-segments", type=int, default=3, help="segments per chunk")
    parser.add_argument("--bitrate", type=int, default=1_200_000, help="video bits/s")
    parser.add_argument(
        "--workers", type=int, default=2, help="chunks at a time (= threads of the single pass)"
    )
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--keep", type=Path, help="keep the work directory here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="juice-quality-", dir=args.keep))
    try:
        source = args.clip or make_clip(
            work / "source.mp4",
            seconds=args.seconds,
            rate=args.rate,
            width=1280,
            height=720,
            gop_seconds=5.0,
            extra_args=["-vf", "noise=alls=12:allf=t+u", "-crf", "20"],
        )
        info = probe(str(source))
        if info.video is None or not info.audio:
            raise SystemExit(f"{source}: needs a video and an audio stream")
        rate = info.video.rate
        segment = round(rate * Fraction(args.segment_seconds))
        gop = max(1, round(rate * Fraction(args.gop_seconds)))
        settings = Settings(
            rate,
            info.video.frame_count,
            args.width,
            args.height,
            segment,
            gop,
            segment * args.chunk_segments,
            args.bitrate,
            args.workers,
            args.preset,
        )
        single_playlist, single_wall = single_pass(source, settings, work)
        master, chunked_wall = chunked(source, settings, work / "chunked")
        report = validate(master, psnr="none", expected_frames=settings.frames, segment_frames=segment)
        single = measure(single_playlist, source, settings, single_wall)
        chunk = measure(master.parent / "video" / "index.m3u8", source, settings, chunked_wall)
        _print(settings, single, chunk, report.ok, report.failures)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _print(s: Settings, single: Result, chunk: Result, ok: bool, failures: list[str]) -> None:
    chunks = math.ceil(s.frames / s.chunk_frames)
    psnr_diff = chunk.psnr - single.psnr
    rate_diff = (chunk.kbps / single.kbps - 1) * 100
    ratio = chunk.wall / single.wall
    size = f"{s.width}x{s.height}"
    print(f"{s.frames} frames at {float(s.rate):.3f} fps, {size}, {chunks} chunks, {s.workers} workers")
    print(f"{'':18}{'PSNR dB':>10}{'video kb/s':>12}{'wall s':>10}")
    print(f"{'single pass':18}{single.psnr:>10.3f}{single.kbps:>12.1f}{single.wall:>10.2f}")
    print(f"{'chunked+stitched':18}{chunk.psnr:>10.3f}{chunk.kbps:>12.1f}{chunk.wall:>10.2f}")
    print(f"{'difference':18}{psnr_diff:>+10.3f}{rate_diff:>+11.2f}%{ratio:>9.2f}x")
    goals = f"|PSNR| <= 0.1 dB: {abs(psnr_diff) <= 0.1}, bitrate <= +3 %: {rate_diff <= 3.0}"
    print(f"goal: {goals}; validate ok: {ok}")
    for failure in failures:
        print(f"  validate: {failure}")
    line = {
        "frames": s.frames,
        "chunks": chunks,
        "workers": s.workers,
        "single": _figures(single),
        "chunked": _figures(chunk),
        "psnr_diff_db": round(psnr_diff, 3),
        "bitrate_diff_pct": round(rate_diff, 2),
        "wall_ratio": round(ratio, 3),
        "validate_ok": ok,
    }
    print(json.dumps(line))


def _figures(result: Result) -> dict[str, float]:
    return {"psnr": round(result.psnr, 3), "kbps": round(result.kbps, 1), "wall": round(result.wall, 2)}


if __name__ == "__main__":
    sys.exit(main())
