from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from juice.errors import TranscodeError
from juice.media.codecs import read_init


def _hls_init(tmp: Path, codec_args: list[str], source: str) -> bytes:
    out = tmp / "out"
    out.mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", source, *codec_args,
         "-f", "hls", "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
         "-hls_segment_filename", str(out / "seg_%05d.m4s"), str(out / "x.m3u8")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return (out / "init.mp4").read_bytes()


def test_avcc_of_a_real_init_segment(tmp_path: Path) -> None:
    data = _hls_init(
        tmp_path,
        [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "main",
            "-level:v",
            "3.1",
            "-pix_fmt",
            "yuv420p",
        ],
        "testsrc2=size=320x240:rate=25:duration=0.2",
    )
    info = read_init(data)
    assert info.codecs == "avc1.4d401f"  # Main (0x4d), constraint flags 0x40, level 3.1 (0x1f)
    assert (info.width, info.height) == (320, 240)


def test_high_profile_from_ffmpeg(tmp_path: Path) -> None:
    data = _hls_init(
        tmp_path,
        [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "high",
            "-level:v",
            "4.0",
            "-pix_fmt",
            "yuv420p",
        ],
        "testsrc2=size=160x90:rate=25:duration=0.2",
    )
    assert read_init(data).codecs == "avc1.640028"


def test_aac_lc_from_the_esds(tmp_path: Path) -> None:
    data = _hls_init(
        tmp_path, ["-c:a", "aac", "-b:a", "64k"], "sine=frequency=440:sample_rate=48000:duration=0.3"
    )
    info = read_init(data)
    assert info.codecs == "mp4a.40.2" and info.width is None


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x00\x08free", b"\x00\x00\x00\x40moov\x00\x00"])
def test_broken_init_segments_raise(data: bytes) -> None:
    with pytest.raises(TranscodeError, match="init segment"):
        read_init(data)


def test_truncated_avcc_raises(tmp_path: Path) -> None:
    data = _hls_init(
        tmp_path, ["-c:v", "libx264", "-preset", "ultrafast"], "testsrc2=size=64x64:rate=25:duration=0.1"
    )
    cut = data.index(b"avcC") + 2
    with pytest.raises(TranscodeError):
        read_init(data[:cut])
