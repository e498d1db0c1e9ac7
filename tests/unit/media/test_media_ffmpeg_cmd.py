from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Literal

import pytest

from juice.core.worktask import AudioTask, VideoChunkTask, VideoOutput
from workers.ffmpeg_cmd import audio_argv, decimal, video_chunk_argv

GLOBALS = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1"]


def _output(
    name: str, width: int, height: int, bitrate: int, profile: Literal["main", "high"]
) -> VideoOutput:
    return VideoOutput(
        name=name,
        width=width,
        height=height,
        video_bitrate=bitrate,
        max_rate=bitrate * 3 // 2,
        profile=profile,
        init_url=f"http://s3/{name}/init.mp4",
        segment_urls=[f"http://s3/{name}/seg_{n:05d}.m4s" for n in range(5)],
    )


def _task(first_frame: int, renditions: list[VideoOutput]) -> VideoChunkTask:
    return VideoChunkTask(
        job_id="j",
        task_key="v0001",
        source_url="http://s3/src.mp4?sig=x",
        frame_rate="24000/1001",
        first_frame=first_frame,
        frame_count=720,
        segment_frames=144,
        gop_frames=48,
        first_segment=first_frame // 144,
        renditions=renditions,
        manifest_url="http://s3/m.json",
    )


def _per_output(
    directory: str, bitrate: str, bufsize: str, maxrate: str, profile: str, offset: str, start: str
) -> list[str]:
    return [
        "-f", "hls", "-an", "-b:v", bitrate, "-bufsize", bufsize, "-c:v", "libx264",
        "-force_key_frames", "expr:eq(mod(n,48),0)", "-fps_mode", "passthrough",
        "-frames:v", "720", "-g", "48",
        "-hls_flags", "independent_segments", "-hls_fmp4_init_filename", "init.mp4",
        "-hls_playlist_type", "vod",
        "-hls_segment_filename", f"{directory}/seg_%05d.m4s",
        "-hls_segment_options", "movflags=+frag_discont",
        "-hls_segment_type", "fmp4", "-hls_time", "5.985145833", "-keyint_min", "48", "-maxrate", maxrate,
        "-output_ts_offset", offset, "-pix_fmt", "yuv420p", "-preset", "veryfast", "-profile:v", profile,
        "-sc_threshold", "0", "-start_number", start, "-threads", "1", f"{directory}/chunk.m3u8",
    ]  # fmt: skip


def test_chunk_mid_file_at_23_976_seeks_half_a_frame_early_and_offsets_exactly() -> None:
    task = _task(
        1440, [_output("720p", 1280, 720, 3_000_000, "high"), _output("360p", 640, 360, 800_000, "main")]
    )
    argv = video_chunk_argv(task, Path("/w"))
    # 1440 frames at 24000/1001 = 60.06 s; seek to frame 1439.5 = 60.039145833 s; offset 60.06 + 10.
    assert argv == [
        *GLOBALS, "-ss", "60.039145833", "-threads", "1", "-i", "http://s3/src.mp4?sig=x",
        "-filter_complex",
        "[0:v:0]setpts=PTS-STARTPTS[s0];[s0]split=2[s1][s2];[s1]scale=1280:720[s3];[s3]setsar=1[s4];"
        "[s2]scale=640:360[s5];[s5]setsar=1[s6]",
        "-map", "[s4]", *_per_output("/w/720p", "3000000", "9000000", "4500000", "high", "70.060000", "10"),
        "-map", "[s6]", *_per_output("/w/360p", "800000", "2400000", "1200000", "main", "70.060000", "10"),
    ]  # fmt: skip


def test_chunk_at_frame_zero_has_no_seek_and_starts_at_the_constant_offset() -> None:
    argv = video_chunk_argv(
        _task(0, [_output("360p", 640, 360, 800_000, "main")]), Path("/w"), ffmpeg_bin="/opt/ff"
    )
    assert argv == [
        "/opt/ff", *GLOBALS[1:], "-threads", "1", "-i", "http://s3/src.mp4?sig=x",
        "-filter_complex", "[0:v:0]setpts=PTS-STARTPTS[s0];[s0]scale=640:360[s1];[s1]setsar=1[s2]",
        "-map", "[s2]", *_per_output("/w/360p", "800000", "2400000", "1200000", "main", "10.000000", "0"),
    ]  # fmt: skip


def test_vfr_chunk_seeks_to_its_slot_and_takes_exactly_its_normalized_frames() -> None:
    task = _task(1440, [_output("360p", 640, 360, 800_000, "main")]).model_copy(
        update={"constant_rate": False, "frame_rate": "3178/125"}
    )
    argv = video_chunk_argv(task, Path("/w"), first_slot=8)
    # slot 8 + 1440 = 1448 at 25.424 fps = 56.954059157 s; -itsoffset keeps the file's own timeline.
    # The output offset and the segment length follow the normalized rate: 1440 / 25.424 + 10 s and
    # (144 - 1/2) / 25.424 s.
    output = _per_output("/w/360p", "800000", "2400000", "1200000", "main", "66.639395846", "10")
    output[output.index("-hls_time") + 1] = "5.644273128"
    assert argv == [
        *GLOBALS, "-itsoffset", "56.954059157", "-ss", "56.954059157", "-threads", "1",
        "-i", "http://s3/src.mp4?sig=x",
        "-filter_complex",
        "[0:v:0]fps=fps=3178/125[s0];[s0]trim=end_pts=2168:start_pts=1448[s1];[s1]setpts=PTS-STARTPTS[s2];"
        "[s2]scale=640:360[s3];[s3]setsar=1[s4]",
        "-map", "[s4]", *output,
    ]  # fmt: skip


def test_vfr_first_chunk_has_no_seek_but_still_starts_at_the_first_slot() -> None:
    task = _task(0, [_output("360p", 640, 360, 800_000, "main")]).model_copy(
        update={"constant_rate": False, "frame_rate": "30"}
    )
    argv = video_chunk_argv(task, Path("/w"))
    assert "-ss" not in argv and "-itsoffset" not in argv
    graph = argv[argv.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]fps=fps=30[s0];[s0]trim=end_pts=720:start_pts=0[s1];")


def test_audio_covers_the_video_duration_on_the_same_grid() -> None:
    task = AudioTask(
        job_id="j",
        task_key="a0",
        source_url="/data/src.mp4",
        stream_index=1,
        name="audio",
        bitrate=128_000,
        duration=60.06,
        segment_seconds=6.006,
        ts_offset=9.5,
        init_url="i",
        segment_urls=["s"] * 12,
        manifest_url="m",
    )
    assert audio_argv(task, Path("/w")) == [
        *GLOBALS, "-threads", "1", "-i", "/data/src.mp4", "-map", "0:a:1",
        "-f", "hls", "-ac", "2", "-ar", "48000", "-b:a", "128000", "-c:a", "aac",
        "-hls_flags", "independent_segments", "-hls_fmp4_init_filename", "init.mp4",
        "-hls_playlist_type", "vod",
        "-hls_segment_filename", "/w/audio/seg_%05d.m4s", "-hls_segment_options", "movflags=+frag_discont",
        "-hls_segment_type", "fmp4", "-hls_time", "6.006000", "-output_ts_offset", "9.500000",
        "-start_number", "0", "-t", "60.060000", "-vn", "/w/audio/chunk.m3u8",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(12), "12.000000"),
        (Fraction(1001, 24000) * 48 + 10, "12.002000"),
        (Fraction(2879, 2) * Fraction(1001, 24000), "60.039145833"),
        (Fraction(1, 3), "0.333333333"),
        (Fraction(-1, 8), "-0.125000"),
    ],
)
def test_decimal_keeps_at_least_six_digits(value: Fraction, text: str) -> None:
    assert decimal(value) == text
