"""`validate()` on real packages: a good one built the way the workers and the stitcher do, and packages
with the defects a chunked encode can really have. Each defect must turn `ok` False with a readable line."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from media_objects import DirStore, ObjectServer

from juice.core.worktask import AudioTask, TaskManifest, VideoChunkTask, VideoOutput
from juice.media.probe import probe
from juice.media.samples import make_clip
from juice.media.stitch import stitch
from juice.media.validate import main_validate, validate
from workers.ffmpeg_cmd import video_chunk_argv
from workers.transcode import (
    EncodedRendition,
    ProcessSlot,
    collect_output,
    count_frames,
    encode_audio,
    encode_video,
)

pytestmark = pytest.mark.integration

RATE = "24000/1001"
FRAMES = 111  # 4.6 s at 23.976
SEGMENT_FRAMES = 24
GOP_FRAMES = 12
CHUNK_FRAMES = 48  # chunks start at frames 48 and 96: between two frames on a whole-second clock
HEIGHTS = (180, 90)
BUCKET = "out"
PREFIX = "job/"
ArgvEdit = Callable[[list[str]], list[str]]
Chunk = tuple[VideoChunkTask, list[EncodedRendition]]


@dataclass(frozen=True)
class Parts:
    source: Path
    chunks: tuple[tuple[VideoChunkTask, list[EncodedRendition]], ...]
    audio: EncodedRendition
    audio_task: AudioTask


def chunk_task(source: Path, first: int, count: int, *, first_segment: int | None = None) -> VideoChunkTask:
    segments = -(-count // SEGMENT_FRAMES)
    outputs = [
        VideoOutput(
            name=f"{h}p",
            width=h * 16 // 9 // 2 * 2,
            height=h,
            video_bitrate=h * 2000,
            max_rate=h * 3000,
            profile="high",
            init_url="unused",
            segment_urls=["unused"] * segments,
        )
        for h in HEIGHTS
    ]
    return VideoChunkTask(
        job_id="j",
        task_key=f"v{first:05d}",
        source_url=str(source),
        frame_rate=RATE,
        first_frame=first,
        frame_count=count,
        segment_frames=SEGMENT_FRAMES,
        gop_frames=GOP_FRAMES,
        first_segment=first // SEGMENT_FRAMES if first_segment is None else first_segment,
        renditions=outputs,
        manifest_url="unused",
    )


def encode(task: VideoChunkTask, workdir: Path, edit: ArgvEdit | None = None) -> list[EncodedRendition]:
    """The worker's encode; with `edit`, its ffmpeg command changed first (to build a defect)."""
    if edit is None:
        return encode_video(task, workdir, slot=ProcessSlot())
    for rendition in task.renditions:
        (workdir / rendition.name).mkdir(parents=True, exist_ok=True)
    subprocess.run(edit(video_chunk_argv(task, workdir)), check=True, capture_output=True, timeout=120)
    return [
        replace(
            collect_output(r.name, workdir / r.name),
            frame_count=count_frames(workdir / r.name / "chunk.m3u8"),
        )
        for r in task.renditions
    ]


def audio_task(source: Path, ts_offset: float = 10.0) -> AudioTask:
    return AudioTask(
        job_id="j",
        task_key="a0",
        source_url=str(source),
        stream_index=0,
        name="audio",
        bitrate=64_000,
        duration=FRAMES * 1001 / 24000,
        segment_seconds=SEGMENT_FRAMES * 1001 / 24000,
        ts_offset=ts_offset,
        init_url="unused",
        segment_urls=["unused"] * 8,
        manifest_url="unused",
    )


def manifest(key: str, kind: str, outputs: Sequence[EncodedRendition]) -> TaskManifest:
    return TaskManifest.model_validate(
        {
            "job_id": "j",
            "task_key": key,
            "kind": kind,
            "renditions": [o.manifest().model_dump() for o in outputs],
            "wall_seconds": 1.0,
            "ffmpeg_version": "test",
        }
    )


def assemble(
    root: Path,
    chunks: Sequence[tuple[VideoChunkTask, list[EncodedRendition]]],
    audio: EncodedRendition,
) -> Path:
    """Upload every output into a directory store and stitch it; returns the local master.m3u8."""
    store = DirStore(root, "http://unused")
    for _, outputs in chunks:
        for out in [*outputs, audio]:
            target = root / BUCKET / PREFIX / out.name
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(out.init_path, target / "init.mp4")
            for segment in out.segments:
                shutil.copy(out.segment_path(segment), target / segment.uri)
    video = [manifest(task.task_key, "video", outputs) for task, outputs in chunks]
    frames = sum(outputs[0].frame_count or 0 for _, outputs in chunks)
    result = stitch(
        store,
        BUCKET,
        PREFIX,
        video=video,
        audio=manifest("a0", "audio", [audio]),
        frame_rate=RATE,
        expected_frames=frames,
    )
    return root / BUCKET / result.master_key


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Parts:
    work = tmp_path_factory.mktemp("validate-parts")
    source = make_clip(work / "src.mp4", seconds=4.6, rate=RATE, width=320, height=180, gop_seconds=2.5)
    info = probe(str(source))
    assert info.video is not None and info.video.frame_count == FRAMES
    chunks = []
    for first in range(0, FRAMES, CHUNK_FRAMES):
        task = chunk_task(source, first, min(CHUNK_FRAMES, FRAMES - first))
        chunks.append((task, encode(task, work / task.task_key)))
    a_task = audio_task(source)
    audio = encode_audio(a_task, work / "a0", slot=ProcessSlot())
    return Parts(source, tuple(chunks), audio, a_task)


@pytest.fixture(scope="module")
def good_master(parts: Parts, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble(tmp_path_factory.mktemp("good"), parts.chunks, parts.audio)


def with_chunk(parts: Parts, index: int, chunk: Chunk) -> list[Chunk]:
    chunks = list(parts.chunks)
    chunks[index] = chunk
    return chunks


def failures_about(report_failures: list[str], *words: str) -> list[str]:
    return [f for f in report_failures if all(w.lower() in f.lower() for w in words)]


def test_good_package_passes_with_figures(good_master: Path, parts: Parts) -> None:
    report = validate(good_master, source=parts.source, psnr="all", segment_frames=SEGMENT_FRAMES)
    assert report.failures == []
    assert report.ok
    assert report.expected_frames == FRAMES and report.target_duration == 1
    assert [(r.name, r.frames, r.segments) for r in report.renditions] == [
        ("90p", FRAMES, 5),
        ("180p", FRAMES, 5),
    ]
    for r in report.renditions:
        assert r.first_pts == pytest.approx(10.0)
        assert r.idr_misses == [] and r.non_increasing == 0
        assert r.psnr_frames == FRAMES and r.neighbour_wins == 0
        assert r.psnr_min is not None and r.psnr_min > 28
        assert r.bandwidth_declared == r.bandwidth_measured
    assert report.audio is not None and report.audio.start_offset_ms == pytest.approx(0.0, abs=0.1)
    assert report.audio.priming_samples == 1024 and report.audio.gaps == 0


def test_joins_mode_compares_only_frames_near_boundaries(good_master: Path, parts: Parts) -> None:
    report = validate(good_master, source=parts.source, psnr="joins")
    assert report.ok, report.failures
    # boundaries every 24 frames, 4 frames either side, plus the first and last frames
    assert {r.psnr_frames for r in report.renditions} == {46}


def bdup(argv: list[str]) -> list[str]:
    """The worker's command without the first-frame fix (setpts=PTS-STARTPTS, -fps_mode passthrough)."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "-fps_mode":
            out.pop()
            continue
        out.append(arg.replace("setpts=PTS-STARTPTS", "null"))
    return out


def test_duplicated_first_frame_of_a_chunk_is_caught(parts: Parts, tmp_path: Path) -> None:
    task = parts.chunks[1][0]
    chunk = (task, encode(task, tmp_path / "bdup", bdup))
    assert [r.frame_count for r in chunk[1]] == [CHUNK_FRAMES, CHUNK_FRAMES]  # counts alone look fine
    master = assemble(tmp_path / "pkg", with_chunk(parts, 1, chunk), parts.audio)
    report = validate(master, source=parts.source, psnr="joins")
    assert not report.ok
    assert all(r.frames == FRAMES for r in report.renditions)
    found = failures_about(report.failures, "neighbouring source frame")
    assert len(found) == 2, report.failures
    assert all(r.first_neighbour_win == CHUNK_FRAMES + 1 for r in report.renditions)


def test_missing_frame_at_a_join_is_caught(parts: Parts, tmp_path: Path) -> None:
    task = chunk_task(parts.source, 0, CHUNK_FRAMES - 1)
    master = assemble(
        tmp_path / "pkg", with_chunk(parts, 0, (task, encode(task, tmp_path / "c0"))), parts.audio
    )
    report = validate(master, source=parts.source, psnr="none")
    assert not report.ok
    assert failures_about(report.failures, "110 frames decoded", "source has 111")
    assert failures_about(report.failures, "gap of 83.4 ms")


def test_extra_frame_at_a_join_is_caught(parts: Parts, tmp_path: Path) -> None:
    first = 2 * CHUNK_FRAMES - 1
    task = chunk_task(parts.source, first, FRAMES - first, first_segment=2 * CHUNK_FRAMES // SEGMENT_FRAMES)
    master = assemble(
        tmp_path / "pkg", with_chunk(parts, 2, (task, encode(task, tmp_path / "c2"))), parts.audio
    )
    report = validate(master, expected_frames=FRAMES, psnr="none")
    assert not report.ok
    assert failures_about(report.failures, "180p: the segments hold 112 frames")
    assert failures_about(report.failures, "180p: tfdt does not continue", "segment(s) [4]")


def no_idr(argv: list[str]) -> list[str]:
    """One IDR at the chunk's first frame only, and segments cut by time rather than at keyframes."""
    values = {
        "-force_key_frames": "expr:eq(n,0)",
        "-g": "1000",
        "-keyint_min": "1000",
        "-hls_flags": "independent_segments+split_by_time",
        "-hls_time": "0.99",  # a cut after 24 frames, none after 48
    }
    return [values.get(argv[i - 1], arg) if i else arg for i, arg in enumerate(argv)]


def test_segment_without_an_idr_is_caught(parts: Parts, tmp_path: Path) -> None:
    task = parts.chunks[1][0]
    chunk = (task, encode(task, tmp_path / "noidr", no_idr))
    master = assemble(tmp_path / "pkg", with_chunk(parts, 1, chunk), parts.audio)
    report = validate(master, source=parts.source, psnr="none")
    assert not report.ok
    assert all(r.idr_misses == [3] for r in report.renditions), report.renditions
    assert failures_about(report.failures, "segment(s) [3] do not start with an IDR")


def test_audio_starting_late_is_caught(parts: Parts, tmp_path: Path) -> None:
    late = encode_audio(audio_task(parts.source, ts_offset=10.25), tmp_path / "late", slot=ProcessSlot())
    master = assemble(tmp_path / "pkg", parts.chunks, late)
    report = validate(master, psnr="none")
    assert not report.ok
    assert report.audio is not None and report.audio.start_offset_ms == pytest.approx(250.0, abs=1.0)
    assert failures_about(report.failures, "audio starts 250.0 ms after video")


def copy_package(master: Path, tmp_path: Path) -> Path:
    target = tmp_path / "pkg"
    shutil.copytree(master.parent, target)
    return target / master.name


def test_discontinuity_tag_is_caught(good_master: Path, tmp_path: Path) -> None:
    master = copy_package(good_master, tmp_path)
    playlist = master.parent / "180p" / "index.m3u8"
    lines = playlist.read_text().splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("#EXTINF")][2]
    playlist.write_text("\n".join([*lines[:at], "#EXT-X-DISCONTINUITY", *lines[at:]]) + "\n")
    report = validate(master, psnr="none")
    assert not report.ok
    assert report.failures == ["180p: 1 EXT-X-DISCONTINUITY tag(s); timestamps must continue"]


def test_wrong_target_duration_is_caught(good_master: Path, tmp_path: Path) -> None:
    master = copy_package(good_master, tmp_path)
    playlist = master.parent / "90p" / "index.m3u8"
    playlist.write_text(playlist.read_text().replace("#EXT-X-TARGETDURATION:1", "#EXT-X-TARGETDURATION:6"))
    report = validate(master, psnr="none")
    assert not report.ok
    assert failures_about(report.failures, "90p: EXT-X-TARGETDURATION is 6", "rounds to 1")
    assert failures_about(report.failures, "disagree on EXT-X-TARGETDURATION")


def test_understated_bandwidth_is_caught(good_master: Path, tmp_path: Path) -> None:
    master = copy_package(good_master, tmp_path)
    text = master.read_text()
    declared = [int(v) for v in re.findall(r"(?<!-)BANDWIDTH=(\d+)", text)]
    master.write_text(text.replace(f"BANDWIDTH={declared[1]},", f"BANDWIDTH={declared[1] // 2},", 1))
    report = validate(master, psnr="none")
    assert not report.ok
    low, peak = declared[1] // 2, declared[1]
    assert report.failures == [
        f"master: 180p/index.m3u8: BANDWIDTH {low} is below the measured peak {peak} bit/s"
    ]


def test_package_served_over_http_in_joins_mode(
    parts: Parts, object_server: ObjectServer, store: DirStore
) -> None:
    master = assemble(object_server.root, parts.chunks, parts.audio)
    shutil.copy(parts.source, object_server.root / "src.mp4")
    base = store.base_url
    relative = master.relative_to(object_server.root).as_posix()
    report = validate(f"{base}/{relative}", source=f"{base}/src.mp4?X-Amz-Signature=secret", psnr="joins")
    assert report.ok, report.failures
    assert report.source == f"{base}/src.mp4" and "secret" not in report.model_dump_json()
    assert all(r.bandwidth_measured == r.bandwidth_declared for r in report.renditions)


def test_unreachable_master_is_a_failure_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main_validate(str(tmp_path / "nothing" / "master.m3u8"), None, sample_joins_only=False)
    out = capsys.readouterr().out
    assert code == 1
    assert '"ok": false' in out and "master: unreadable" in out
