"""Awkward inputs through the whole local stack: every clip becomes a job pushed into Redis, is probed,
planned, encoded by worker tasks on the dev cluster, stitched on Ceph RGW, and the downloaded package
passes the validator against its source (frame count, timestamps, IDRs, playlists, PSNR by index).

All clips are made and all jobs pushed at once (module fixture), so the cluster works on them together;
each input is then its own test that waits for its job.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from inputs_support import leading_frames_after_keyframes, tone_power

from juice.core.mediainfo import MediaInfo
from juice.local.stack import LocalStack
from juice.media.codecs import read_init
from juice.media.hlscheck import download_prefix, master_entries
from juice.media.probe import probe
from juice.media.samples import make_clip
from juice.media.validate import validate
from tests.support import JobClient

pytestmark = pytest.mark.integration

# Low bitrates on purpose: starved at 60 fps, the P-frame after a chunk's first IDR nearly repeats it,
# which the validator must not take for a duplicated frame (only runs of shifted frames are defects).
LADDER = [{"height": 160, "video_bitrate": "200k"}, {"height": 120, "video_bitrate": "150k"}]
SEGMENT_SECONDS = 2


@dataclass(frozen=True)
class Case:
    name: str
    seconds: float
    frames: int | None  # the source frame count the probe must find (None: VFR, counted by the probe)
    clip: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("23.976fps", 4.0, 96, {"rate": "24000/1001"}),
    Case("25fps", 4.0, 100, {"rate": "25"}),
    Case("29.97fps", 4.0, 120, {"rate": "30000/1001"}),
    Case("60fps", 3.0, 180, {"rate": "60"}),
    Case("bframes-10s-gop", 6.0, 150, {"gop_seconds": 10.0, "bframes": True}),
    Case("open-gop", 6.0, 150, {"gop_seconds": 1.0, "open_gop": True}),
    Case("odd-317x179", 4.0, 100, {"width": 317, "height": 179, "pix_fmt": "yuv444p"}),
    Case("rotated-phone", 4.0, 120, {"rate": "30", "rotation": 90}),
    Case("vfr", 4.0, None, {"rate": "30", "vfr_drop": 2.0}),
    Case("no-audio", 4.0, 100, {"audio": False}),
    Case("two-audio-tracks", 4.0, 100, {"tones": (440, 880)}),
    Case("1s", 1.0, 25, {}),
    Case("7.3s-2s-segments", 7.3, 183, {}),
]


@dataclass(frozen=True)
class Submitted:
    case: Case
    job_id: str
    clip: Path
    info: MediaInfo


@pytest.fixture(scope="module")
def submitted(
    stack: LocalStack, client: JobClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Submitted]]:
    clips = tmp_path_factory.mktemp("inputs")
    store = stack.object_store()
    jobs: dict[str, Submitted] = {}
    for case in CASES:
        options = {"width": 320, "height": 180, "rate": "25", **case.clip}
        clip = make_clip(clips / f"{case.name}.mp4", seconds=case.seconds, **options)
        key = f"inputs/{case.name}.mp4"
        store.put_file("uploads", key, str(clip), "video/mp4")
        job_id = f"in-{case.name.replace('.', '-')}"
        client.push(
            {
                "id": job_id,
                "source": f"s3://uploads/{key}",
                "output": f"s3://streams/{job_id}/",
                "renditions": LADDER,
                "segment_seconds": SEGMENT_SECONDS,
            }
        )
        jobs[case.name] = Submitted(case, job_id, clip, probe(str(clip)))
    yield jobs
    store.close()


def _finished(client: JobClient, job: Submitted, out: Path) -> Path:
    final = client.final(job.job_id)
    assert final["state"] == "SUCCEEDED", final
    video = job.info.video
    assert video is not None
    assert final["plan"]["frames"] == video.frame_count
    assert Fraction(final["plan"]["frame_rate"]) == video.rate
    return download_prefix(client.stack.object_store(), "streams", f"{job.job_id}/", out) / "master.m3u8"


def _check_package(master: Path, job: Submitted) -> None:
    video = job.info.video
    assert video is not None
    report = validate(master, source=job.clip, expected_frames=video.frame_count, psnr="all")
    assert report.ok, report.failures
    assert [r.frames for r in report.renditions] == [video.frame_count] * len(LADDER)
    assert all(r.psnr_frames == video.frame_count for r in report.renditions), report.renditions
    assert (report.audio is not None) == bool(job.info.audio)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_input_becomes_a_valid_package(
    case: Case, client: JobClient, submitted: dict[str, Submitted], tmp_path: Path
) -> None:
    job = submitted[case.name]
    video = job.info.video
    assert video is not None
    if case.frames is not None:
        assert (video.frame_count, video.variable_frame_rate) == (case.frames, False)
    master = _finished(client, job, tmp_path / "out")
    _check_package(master, job)


def test_vfr_source_is_normalized_to_its_average_rate(submitted: dict[str, Submitted]) -> None:
    video = submitted["vfr"].info.video
    assert video is not None and video.variable_frame_rate
    # 60 frames at 30 fps, then 2 of every 3: 100 frames over 3.93 s, normalized to 25.424 fps
    assert (video.avg_frame_rate, video.frame_rate, video.frame_count) == ("1500/59", "3178/125", 101)


def test_open_gop_source_really_has_open_gops(submitted: dict[str, Submitted]) -> None:
    assert leading_frames_after_keyframes(submitted["open-gop"].clip) > 0
    assert leading_frames_after_keyframes(submitted["25fps"].clip) == 0


def test_rotated_phone_video_comes_out_upright(
    client: JobClient, submitted: dict[str, Submitted], tmp_path: Path
) -> None:
    master = _finished(client, submitted["rotated-phone"], tmp_path / "out")
    sizes = [read_init((master.parent / f"{h}p" / "init.mp4").read_bytes()) for h in (120, 160)]
    assert [(i.width, i.height) for i in sizes] == [(68, 120), (90, 160)]


def test_without_audio_there_is_no_audio_rendition(
    client: JobClient, submitted: dict[str, Submitted], tmp_path: Path
) -> None:
    master = _finished(client, submitted["no-audio"], tmp_path / "out")
    variants, audio = master_entries(master.read_text())
    assert len(variants) == 2 and audio is None
    assert not (master.parent / "audio").exists()


def test_the_first_of_two_audio_tracks_is_used(
    client: JobClient, submitted: dict[str, Submitted], tmp_path: Path
) -> None:
    master = _finished(client, submitted["two-audio-tracks"], tmp_path / "out")
    _, audio = master_entries(master.read_text())
    assert audio is not None
    playlist = master.parent / audio
    assert tone_power(playlist, 440) > 100 * tone_power(playlist, 880)


# --- inputs that cannot be transcoded are refused with a readable reason -----------------------------


def _cover_art_only(directory: Path) -> Path:
    song = make_clip(directory / "song.m4a", seconds=1.0, width=64, height=64, extra_args=["-vn"])
    cover = directory / "cover.png"
    draw = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=64x64", "-frames:v", "1"]
    subprocess.run([*draw, str(cover)], check=True)
    target = directory / "cover-art.m4a"
    argv = ["ffmpeg", "-v", "error", "-y", "-i", str(song), "-i", str(cover), "-map", "0", "-map", "1"]
    subprocess.run(
        [*argv, "-c:a", "copy", "-c:v", "mjpeg", "-disposition:v", "attached_pic", str(target)], check=True
    )
    return target


def _unknown_codec(directory: Path) -> Path:
    data = make_clip(directory / "known.mkv", seconds=1.0, width=64, height=64, audio=False).read_bytes()
    target = directory / "unknown-codec.mkv"
    target.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_QUUX4/ISO/AVC"))
    return target


def _garbage(directory: Path) -> Path:
    target = directory / "garbage.mp4"
    target.write_bytes(b"\x00\x01 not a video at all " * 2000)
    return target


def _audio_only(directory: Path) -> Path:
    return make_clip(directory / "audio.m4a", seconds=1.0, width=64, height=64, extra_args=["-vn"])


REFUSALS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "audio-only": (_audio_only, "input: source has no video stream"),
    "cover-art-only": (_cover_art_only, "input: source has no video stream"),
    "garbage": (_garbage, "input: not a readable media file: Invalid data found when processing input"),
    "unknown-codec": (_unknown_codec, "input: the video codec is unknown to ffmpeg"),
}


@pytest.fixture(scope="module")
def refused(stack: LocalStack, client: JobClient, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("refused")
    store = stack.object_store()
    jobs = {}
    for name, (make, _) in REFUSALS.items():
        path = make(directory)
        key = f"refused/{path.name}"
        store.put_file("uploads", key, str(path), "application/octet-stream")
        jobs[name] = f"refused-{name}"
        client.push(
            {"id": jobs[name], "source": f"s3://uploads/{key}", "output": f"s3://streams/{jobs[name]}/"}
        )
    store.close()
    return jobs


@pytest.mark.parametrize("name", list(REFUSALS))
def test_input_that_cannot_be_transcoded_fails_with_a_readable_reason(
    name: str, client: JobClient, refused: dict[str, str]
) -> None:
    final = client.final(refused[name])
    assert final["state"] == "FAILED", final
    assert final["reason"].startswith(REFUSALS[name][1]), final["reason"]
    assert "Signature" not in final["reason"] and len(final["reason"]) < 400
