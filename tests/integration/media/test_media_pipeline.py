"""Real ffmpeg end to end: probe a clip over HTTP, run the worker for every chunk and the audio, upload
through presigned-style URLs to a local server, stitch, then decode the package and check it."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from media_objects import DirStore, ObjectServer

from juice.core.mediainfo import MediaInfo
from juice.core.worktask import (
    AudioTask,
    TaskManifest,
    TaskProgress,
    VideoChunkTask,
    VideoOutput,
    WorkerTask,
)
from juice.media.codecs import read_init
from juice.media.hlscheck import download_prefix, inspect
from juice.media.probe import probe, rendition_width
from juice.media.samples import make_clip
from juice.media.stitch import stitch
from workers.ffmpeg_cmd import chunk_frames
from workers.transcode import first_slot

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
BUCKET = "out"
SEGMENT_FRAMES = 24  # 1.001 s at 23.976
GOP_FRAMES = 12
CHUNK_SEGMENTS = 2  # chunk starts at frames 48, 96: between two frames on a whole-second clock


@dataclass
class Plan:
    video: list[VideoChunkTask]
    audio: AudioTask | None
    frames: int


def _url(store: DirStore, key: str) -> str:
    return store.presign_put(BUCKET, key, 3600)


def make_plan(
    store: DirStore, source_url: str, info: MediaInfo, prefix: str, heights: tuple[int, ...]
) -> Plan:
    video = info.video
    assert video is not None
    chunk_frames = SEGMENT_FRAMES * CHUNK_SEGMENTS
    tasks = []
    for k, first in enumerate(range(0, video.frame_count, chunk_frames)):
        count = min(chunk_frames, video.frame_count - first)
        first_segment = first // SEGMENT_FRAMES
        numbers = range(first_segment, first_segment + math.ceil(count / SEGMENT_FRAMES))
        outputs = [
            VideoOutput(
                name=f"{h}p",
                width=rendition_width(video.display_width, video.display_height, h),
                height=h,
                video_bitrate=h * 1500,
                max_rate=h * 2250,
                profile="high",
                init_url=_url(store, f"{prefix}{h}p/init.mp4"),
                segment_urls=[_url(store, f"{prefix}{h}p/seg_{n:05d}.m4s") for n in numbers],
            )
            for h in heights
        ]
        tasks.append(
            VideoChunkTask(
                job_id="j1",
                task_key=f"v{k:04d}",
                source_url=source_url,
                frame_rate=video.frame_rate,
                first_frame=first,
                frame_count=count,
                segment_frames=SEGMENT_FRAMES,
                gop_frames=GOP_FRAMES,
                first_segment=first_segment,
                constant_rate=not video.variable_frame_rate,
                renditions=outputs,
                manifest_url=_url(store, f"{prefix}.juice/v{k:04d}.json"),
                progress_url=_url(store, f"{prefix}.juice/v{k:04d}.progress.json"),
            )
        )
    audio = None
    if info.audio:
        seconds = Fraction(video.frame_count) / video.rate
        segment = SEGMENT_FRAMES / video.rate
        audio = AudioTask(
            job_id="j1",
            task_key="a0",
            source_url=source_url,
            stream_index=0,
            name="audio",
            bitrate=64_000,
            duration=float(seconds),
            segment_seconds=float(segment),
            init_url=_url(store, f"{prefix}audio/init.mp4"),
            segment_urls=[
                _url(store, f"{prefix}audio/seg_{n:05d}.m4s") for n in range(math.ceil(seconds / segment) + 2)
            ],
            manifest_url=_url(store, f"{prefix}.juice/a0.json"),
        )
    return Plan(tasks, audio, video.frame_count)


def start_worker(
    task: VideoChunkTask | AudioTask, sandbox: Path, task_file: Path | None = None
) -> subprocess.Popen[bytes]:
    payload = WorkerTask(task=task).model_dump_json()
    env = {**os.environ, "PYTHONPATH": str(REPO), "MESOS_SANDBOX": str(sandbox)}
    argv = [sys.executable, "-m", "workers", "run"]
    if task_file is None:
        env["JUICE_TASK"] = payload
    else:
        task_file.write_text(payload)
        argv += ["--task-file", str(task_file)]
        env.pop("JUICE_TASK", None)
    sandbox.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[bytes]) -> tuple[int, list[dict[str, object]]]:
    _, stderr = process.communicate(timeout=120)
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    return process.returncode, lines


def run_all(tasks: list[VideoChunkTask | AudioTask], tmp_path: Path) -> None:
    processes = [start_worker(t, tmp_path / "sandbox" / t.task_key) for t in tasks]
    for task, process in zip(tasks, processes, strict=True):
        code, lines = finish(process)
        assert code == 0, (task.task_key, lines)
        phases = [line.get("phase") for line in lines]
        assert phases[0] == "start" and phases[-1] == "done" and "upload" in phases


def manifests(store: DirStore, prefix: str, plan: Plan) -> tuple[list[TaskManifest], TaskManifest | None]:
    def load(key: str) -> TaskManifest:
        return TaskManifest.model_validate_json(store.get_bytes(BUCKET, f"{prefix}.juice/{key}.json"))

    return [load(t.task_key) for t in plan.video], (load("a0") if plan.audio else None)


def per_frame_psnr(ffmpeg_input: Path, source: Path, shift: int = 0) -> list[float]:
    """PSNR of output frame j against source frame j + shift, paired by index (not by timestamp)."""
    graph = (
        f"[0:v]settb=1/25,setpts=N[a];[1:v]trim=start_frame={shift},scale=320:180,settb=1/25,setpts=N[b];"
        "[a][b]psnr=stats_file=-"
    )
    done = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-i",
            str(ffmpeg_input),
            "-i",
            str(source),
            "-lavfi",
            graph,
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    return [float(v) if v != "inf" else 99.0 for v in re.findall(r"psnr_avg:(\S+)", done.stdout.decode())]


def test_chunks_stitch_into_an_exact_stream_at_23_976(
    tmp_path: Path, store: DirStore, object_server: ObjectServer
) -> None:
    store.ensure_bucket("src")
    source = make_clip(
        tmp_path / "src.mp4", seconds=4.6, rate="24000/1001", width=320, height=180, gop_seconds=2.5
    )
    store.put_file("src", "clip.mp4", str(source))
    source_url = store.presign_get("src", "clip.mp4", 3600)
    info = probe(source_url)
    assert info.video is not None and info.video.frame_count == 111
    prefix = "jobs/j1/"
    plan = make_plan(store, source_url, info, prefix, heights=(180, 90))
    assert [t.first_frame for t in plan.video] == [0, 48, 96]
    assert plan.audio is not None
    run_all([*plan.video, plan.audio], tmp_path)

    for path, content_type in object_server.puts:
        expected = (
            "video/iso.segment" if path.endswith(".m4s") else "video/mp4" if path.endswith(".mp4") else None
        )
        assert expected is None or content_type == expected, path
    video, audio = manifests(store, prefix, plan)
    assert [r.frame_count for r in video[1].renditions] == [48, 48]
    assert video[0].renditions[0].codecs.startswith("avc1.64")
    assert audio is not None and audio.renditions[0].codecs == "mp4a.40.2"

    result = stitch(
        store, BUCKET, prefix, video=video, audio=audio, frame_rate=info.video.frame_rate, expected_frames=111
    )
    assert result.master_key == f"{prefix}master.m3u8"
    local = download_prefix(store, BUCKET, prefix, tmp_path / "mirror")
    media = (local / "180p" / "index.m3u8").read_text()
    assert "DISCONTINUITY" not in media and media.count("#EXTINF") == 5
    target = re.search(r"TARGETDURATION:(\d+)", media)
    assert target and f"TARGETDURATION:{target.group(1)}" in (local / "audio" / "index.m3u8").read_text()

    report = inspect(local / "master.m3u8")
    assert report.decode_errors == []
    assert [(v.name, v.frames) for v in report.video] == [("90p", 111), ("180p", 111)]
    for check in report.video:
        assert check.gaps_ok, check
        assert check.first_pts == pytest.approx(10.0, abs=check.tick)
        assert check.duration == pytest.approx(111 * 1001 / 24000, abs=check.tick)
    assert report.audio is not None
    assert abs(report.audio.first_pts - report.video[0].first_pts) < 0.05
    assert abs(report.audio.duration - report.video[0].duration) < 0.05 + 2 * 1024 / 48000
    assert report.ok

    aligned = per_frame_psnr(local / "180p" / "index.m3u8", source)
    shifted = per_frame_psnr(local / "180p" / "index.m3u8", source, shift=1)
    assert len(aligned) == 111
    assert min(aligned) > 30.0
    assert [j for j in range(110) if shifted[j] >= aligned[j]] == []


def test_rotated_source_comes_out_upright(tmp_path: Path, store: DirStore) -> None:
    store.ensure_bucket("src")
    source = make_clip(
        tmp_path / "rot.mp4", seconds=1.0, rate="25", width=320, height=180, audio=False, rotation=90
    )
    store.put_file("src", "rot.mp4", str(source))
    url = store.presign_get("src", "rot.mp4", 3600)
    info = probe(url)
    assert info.video is not None and (info.video.display_width, info.video.display_height) == (180, 320)
    plan = make_plan(store, url, info, "jobs/rot/", heights=(160,))
    assert plan.audio is None and len(plan.video) == 1
    run_all(list(plan.video), tmp_path)
    init = read_init(store.get_bytes(BUCKET, "jobs/rot/160p/init.mp4"))
    assert (init.width, init.height) == (90, 160)


@pytest.fixture
def clip_url(tmp_path: Path, store: DirStore) -> tuple[str, MediaInfo]:
    store.ensure_bucket("src")
    source = make_clip(tmp_path / "c.mp4", seconds=2.0, rate="24000/1001", width=192, height=108, audio=False)
    store.put_file("src", "c.mp4", str(source))
    url = store.presign_get("src", "c.mp4", 3600)
    return url, probe(url)


def _failing_run(task: VideoChunkTask | AudioTask, tmp_path: Path) -> tuple[int, list[dict[str, object]]]:
    code, lines = finish(start_worker(task, tmp_path / "sandbox", task_file=tmp_path / "task.json"))
    assert lines and lines[-1]["exit_code"] == code
    return code, lines


def test_garbage_source_exits_3(tmp_path: Path, store: DirStore, clip_url: tuple[str, MediaInfo]) -> None:
    url, info = clip_url
    store.put_bytes("src", "junk.mp4", b"this is not a video at all" * 100)
    task = make_plan(store, url, info, "jobs/g/", heights=(108,)).video[0]
    code, lines = _failing_run(
        task.model_copy(update={"source_url": store.presign_get("src", "junk.mp4", 60)}), tmp_path
    )
    assert code == 3
    assert "Invalid data" in str(lines[-1]["msg"]) and "secret" not in str(lines[-1]["msg"])


def test_more_frames_than_the_source_has_exits_4(
    tmp_path: Path, store: DirStore, clip_url: tuple[str, MediaInfo]
) -> None:
    url, info = clip_url
    assert info.video is not None and info.video.frame_count == 48
    task = make_plan(store, url, info, "jobs/m/", heights=(108,)).video[0]
    renditions = [
        r.model_copy(update={"segment_urls": [*r.segment_urls, r.segment_urls[-1]]}) for r in task.renditions
    ]
    code, lines = _failing_run(
        task.model_copy(update={"frame_count": 72, "renditions": renditions}), tmp_path
    )
    assert code == 4
    assert "plan" in str(lines[-1]["msg"])
    assert not store.exists(BUCKET, "jobs/m/.juice/v0000.json")


def test_refused_upload_exits_5_without_a_manifest(
    tmp_path: Path, store: DirStore, clip_url: tuple[str, MediaInfo]
) -> None:
    url, info = clip_url
    task = make_plan(store, url, info, "jobs/d/", heights=(108,)).video[0]
    denied = [r.model_copy(update={"init_url": store.base_url + "/deny/init.mp4"}) for r in task.renditions]
    code, lines = _failing_run(task.model_copy(update={"renditions": denied}), tmp_path)
    assert code == 5 and "403" in str(lines[-1]["msg"])
    assert store.exists(BUCKET, "jobs/d/108p/seg_00000.m4s")
    assert not store.exists(BUCKET, "jobs/d/.juice/v0000.json")


def test_bad_payload_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "JUICE_TASK": '{"task": {"kind": "video", "job_id": "x"}}'}
    done = subprocess.run(
        [sys.executable, "-m", "workers", "run"], cwd=REPO, env=env, capture_output=True, check=False
    )
    assert done.returncode == 2
    assert json.loads(done.stderr.decode().splitlines()[-1])["exit_code"] == 2


def test_sigterm_kills_ffmpeg_and_exits_143(
    tmp_path: Path, store: DirStore, clip_url: tuple[str, MediaInfo]
) -> None:
    url, info = clip_url
    task = make_plan(store, url, info, "jobs/t/", heights=(108,)).video[0]
    stalled = task.model_copy(update={"source_url": url.replace("/src/", "/stall/src/")})
    process = start_worker(stalled, tmp_path / "sandbox")
    assert process.stderr is not None
    first = json.loads(process.stderr.readline())
    assert first["phase"] == "start"
    process.send_signal(signal.SIGTERM)
    code, lines = finish(process)
    assert code == 143
    assert lines[-1]["exit_code"] == 143


# --- variable frame rate ----------------------------------------------------------------------------


def _framemd5(argv: list[str]) -> list[str]:
    out = subprocess.run(argv, capture_output=True, check=True, text=True).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def _late_video(clip: Path, seconds: float) -> Path:
    """The same clip with its video starting `seconds` after its audio (the file starts with the audio)."""
    late = clip.with_name(f"late-{clip.name}")
    argv = ["ffmpeg", "-v", "error", "-y", "-itsoffset", str(seconds), "-i", str(clip), "-i", str(clip)]
    subprocess.run([*argv, "-map", "0:v", "-map", "1:a", "-c", "copy", str(late)], check=True)
    return late


@pytest.mark.parametrize("late", [0.0, 0.3], ids=["video-first", "video-0.3s-late"])
def test_vfr_chunks_concatenate_to_one_normalized_decode(tmp_path: Path, late: float) -> None:
    clip = make_clip(
        tmp_path / "vfr.mp4", seconds=5.0, rate="30", width=160, height=90, gop_seconds=1.0, vfr_drop=2.0
    )
    if late:
        clip = _late_video(clip, late)
    info = probe(str(clip))
    video = info.video
    assert video is not None and video.variable_frame_rate
    decode = ["ffmpeg", "-v", "error", "-i", str(clip), "-map", "0:v:0", "-vf", f"fps={video.frame_rate}"]
    whole = _framemd5([*decode, "-f", "framemd5", "-"])
    assert len(whole) == video.frame_count
    slot = first_slot(str(clip), video.rate)
    assert slot == round(late * video.rate)
    chunk = 17  # chunk starts fall between source frames and between keyframes
    template = VideoChunkTask(
        job_id="j",
        task_key="v",
        source_url=str(clip),
        frame_rate=video.frame_rate,
        first_frame=0,
        frame_count=chunk,
        segment_frames=chunk,
        gop_frames=chunk,
        first_segment=0,
        constant_rate=False,
        renditions=[],
        manifest_url="unused",
    )
    joined: list[str] = []
    for first in range(0, video.frame_count, chunk):
        task = template.model_copy(
            update={"first_frame": first, "frame_count": min(chunk, video.frame_count - first)}
        )
        frames = chunk_frames(task, slot).output("-", f="framemd5", **{"frames:v": task.frame_count})
        joined += _framemd5(list(frames.compile(cmd=["ffmpeg", "-v", "error"])))
    assert joined == whole


def test_vfr_worker_encodes_its_normalized_frames_and_reports_progress(
    tmp_path: Path, store: DirStore, object_server: ObjectServer
) -> None:
    store.ensure_bucket("src")
    source = make_clip(
        tmp_path / "vfr.mp4", seconds=4.0, rate="30", width=160, height=90, audio=False, vfr_drop=2.0
    )
    store.put_file("src", "vfr.mp4", str(source))
    url = store.presign_get("src", "vfr.mp4", 3600)
    info = probe(url)
    assert info.video is not None and info.video.frame_count == 101
    prefix = "jobs/vfr/"
    plan = make_plan(store, url, info, prefix, heights=(90,))
    assert [(t.first_frame, t.frame_count, t.constant_rate) for t in plan.video] == [
        (0, 48, False),
        (48, 48, False),
        (96, 5, False),
    ]
    run_all(list(plan.video), tmp_path)
    video, _ = manifests(store, prefix, plan)
    assert [m.renditions[0].frame_count for m in video] == [48, 48, 5]

    progress_key = f"/{BUCKET}/{prefix}.juice/v0001.progress.json"
    puts = [path for path, _ in object_server.puts if path == progress_key]
    assert len(puts) >= 4  # encoding, checking, uploading, done
    last = TaskProgress.model_validate_json(store.get_bytes(BUCKET, progress_key.split("/", 2)[2]))
    assert (last.task_key, last.phase, last.frames) == ("v0001", "done", 48)
