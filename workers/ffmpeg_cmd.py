"""Pure ffmpeg command-line builders for worker tasks (ffmpeg-python graph -> argv).

Video chunk (frames [a, a + N) of the source, rate r, every rendition from one decode):
    -ss (a - 1/2)/r -i SRC               input seeking half a frame early (none for a = 0)
    setpts=PTS-STARTPTS, -fps_mode passthrough
                                         the first kept frame becomes pts 0 and is never duplicated
    split, scale per rendition           libx264, fixed GOP forced by frame number on the segment grid
    -frames:v N                          exactly the planned frames
    -output_ts_offset a/r + C            timestamps continue across chunks; C keeps every DTS positive
    -f hls (fMP4, frag_discont)          tfdt carries the offset; each chunk writes an identical init.mp4
    -hls_time (S - 1/2)/r                half a frame short of the segment, so rounding never skips a cut
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from juice.core.worktask import AudioTask, VideoChunkTask

PLAYLIST_NAME = "chunk.m3u8"
INIT_NAME = "init.mp4"
SEGMENT_PATTERN = "seg_%05d.m4s"
_GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1")


def decimal(value: Fraction, digits: int = 9) -> str:
    """An exact rational as a decimal string with at least 6 and at most `digits` decimals."""
    scaled = round(value * 10**digits)
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**digits)
    text = f"{frac:0{digits}d}".rstrip("0").ljust(6, "0")
    return f"{sign}{whole}.{text}"


def _hls_options(first_segment: int, hls_time: Fraction, out_dir: Path) -> dict[str, Any]:
    return {
        "f": "hls",
        "hls_time": decimal(hls_time),
        "hls_playlist_type": "vod",
        "hls_flags": "independent_segments",
        "hls_segment_type": "fmp4",
        "hls_segment_options": "movflags=+frag_discont",
        "hls_fmp4_init_filename": INIT_NAME,
        "start_number": first_segment,
        "hls_segment_filename": str(out_dir / SEGMENT_PATTERN),
    }


def video_chunk_argv(task: VideoChunkTask, workdir: Path, *, ffmpeg_bin: str = "ffmpeg") -> list[str]:
    """One ffmpeg process that decodes the chunk once and writes every rendition to workdir/<name>/."""
    rate = task.rate
    input_options: dict[str, Any] = {"threads": task.threads}
    if task.first_frame > 0:
        input_options["ss"] = decimal((task.first_frame - Fraction(1, 2)) / rate)
    source = ffmpeg.input(task.source_url, **input_options)
    picture = source["v:0"].filter("setpts", "PTS-STARTPTS")
    branches = picture.split() if len(task.renditions) > 1 else None
    gop = task.gop_frames
    offset = task.first_frame / rate + task.ts_offset
    hls_time = (task.segment_frames - Fraction(1, 2)) / rate
    outputs = []
    for i, rendition in enumerate(task.renditions):
        branch = branches[i] if branches is not None else picture
        scaled = branch.filter("scale", rendition.width, rendition.height).filter("setsar", 1)
        out_dir = workdir / rendition.name
        options: dict[str, Any] = {
            "an": None,
            "c:v": "libx264",
            "preset": task.preset,
            "threads": task.threads,
            "b:v": rendition.video_bitrate,
            "maxrate": rendition.max_rate,
            "bufsize": 2 * rendition.max_rate,
            "profile:v": rendition.profile,
            "pix_fmt": "yuv420p",
            "g": gop,
            "keyint_min": gop,
            "sc_threshold": 0,
            "force_key_frames": f"expr:eq(mod(n,{gop}),0)",
            "fps_mode": "passthrough",
            "frames:v": task.frame_count,
            "output_ts_offset": decimal(offset),
        }
        options.update(_hls_options(task.first_segment, hls_time, out_dir))
        outputs.append(ffmpeg.output(scaled, str(out_dir / PLAYLIST_NAME), **options))
    graph = ffmpeg.merge_outputs(*outputs)
    return list(graph.compile(cmd=[ffmpeg_bin, *_GLOBAL_ARGS]))


def audio_argv(task: AudioTask, workdir: Path, *, ffmpeg_bin: str = "ffmpeg") -> list[str]:
    """The whole file's audio stream `task.stream_index`, AAC, on the video's timeline and segment grid."""
    out_dir = workdir / task.name
    source = ffmpeg.input(task.source_url, threads=1)
    options: dict[str, Any] = {
        "vn": None,
        "c:a": "aac",
        "b:a": task.bitrate,
        "ar": task.sample_rate,
        "ac": task.channels,
        "t": decimal(Fraction(task.duration)),
        "output_ts_offset": decimal(Fraction(task.ts_offset)),
    }
    options.update(_hls_options(0, Fraction(task.segment_seconds), out_dir))
    stream = source[f"a:{task.stream_index}"]
    output = ffmpeg.output(stream, str(out_dir / PLAYLIST_NAME), **options)
    return list(output.compile(cmd=[ffmpeg_bin, *_GLOBAL_ARGS]))
