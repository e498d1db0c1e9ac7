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

Variable-frame-rate source (`constant_rate` False): the chunk is frames [a, a + N) of the source
normalized by `fps=r` on the file's own timeline, where normalized frame k is the filter's output slot
s0 + k (s0: the slot of the first video frame, see `workers.transcode.first_slot`):
    -ss (s0 + a)/r -itsoffset (s0 + a)/r -i SRC
                                         seek to the keyframe before slot s0 + a; -itsoffset undoes the
                                         seek's shift, so frames keep the timestamps a whole decode gives
    fps=r, trim=start_pts=s0+a:end_pts=s0+a+N, setpts=PTS-STARTPTS
                                         the fps filter picks the same frame for every slot from the
                                         keyframe on, so the chunks concatenate to one normalized decode
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


def rate_text(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def chunk_frames(task: VideoChunkTask, first_slot: int = 0) -> Any:
    """The chunk's frames from pts 0 (an ffmpeg-python stream): seeked input, (VFR) the fps filter."""
    rate = task.rate
    input_options: dict[str, Any] = {"threads": task.threads}
    if task.constant_rate:
        if task.first_frame > 0:
            input_options["ss"] = decimal((task.first_frame - Fraction(1, 2)) / rate)
        return ffmpeg.input(task.source_url, **input_options)["v:0"].filter("setpts", "PTS-STARTPTS")
    start = first_slot + task.first_frame
    if start > 0:
        input_options["ss"] = input_options["itsoffset"] = decimal(start / rate)
    source = ffmpeg.input(task.source_url, **input_options)["v:0"]
    normalized = source.filter("fps", fps=rate_text(rate)).filter(
        "trim", start_pts=start, end_pts=start + task.frame_count
    )
    return normalized.filter("setpts", "PTS-STARTPTS")


def video_chunk_argv(
    task: VideoChunkTask, workdir: Path, *, ffmpeg_bin: str = "ffmpeg", first_slot: int = 0
) -> list[str]:
    """One ffmpeg process that decodes the chunk once and writes every rendition to workdir/<name>/.

    `first_slot` matters only for a VFR source (`task.constant_rate` False): the fps filter's output
    slot of the source's first video frame.
    """
    rate = task.rate
    picture = chunk_frames(task, first_slot)
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
