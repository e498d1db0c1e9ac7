from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from juice.errors import ProbeError
from juice.media.probe import media_info_from_json, normalized_rate, probe, redact, rendition_width
from juice.media.samples import make_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


def test_probe_25_fps_clip_with_audio(clips: Path) -> None:
    info = probe(str(make_clip(clips / "a.mp4", seconds=1.0, rate="25", width=320, height=180)))
    assert info.video is not None
    assert (info.video.frame_rate, info.video.frame_count, info.video.codec) == ("25", 25, "h264")
    assert (info.video.display_width, info.video.display_height, info.video.rotation) == (320, 180, 0)
    assert not info.video.variable_frame_rate
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert [(a.ordinal, a.codec, a.channels, a.sample_rate) for a in info.audio] == [(0, "aac", 2, 48_000)]
    assert "mp4" in info.format_name and info.size_bytes


def test_probe_ntsc_film_rate_is_exact(clips: Path) -> None:
    info = probe(
        str(make_clip(clips / "b.mp4", seconds=2.0, rate="24000/1001", width=192, height=108, audio=False))
    )
    assert info.video is not None
    assert info.video.frame_rate == "24000/1001" and info.video.frame_count == 48
    assert info.audio == []


def test_probe_rotated_phone_clip_swaps_the_display_size(clips: Path) -> None:
    path = make_clip(clips / "r.mp4", seconds=0.4, rate="30", width=320, height=180, audio=False, rotation=90)
    info = probe(str(path))
    assert info.video is not None
    assert (info.video.width, info.video.height) == (320, 180)
    assert (info.video.display_width, info.video.display_height) == (180, 320)
    assert info.video.rotation in (90, 270)


def test_probe_without_video_returns_none(clips: Path) -> None:
    path = make_clip(clips / "s.m4a", seconds=0.5, width=64, height=64, extra_args=["-vn"])
    info = probe(str(path))
    assert info.video is None and len(info.audio) == 1


def test_garbage_bytes_raise_probe_error_with_ffprobes_message(clips: Path) -> None:
    junk = clips / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 64)
    with pytest.raises(ProbeError, match=r"not a readable media file: .*Invalid data found when processing"):
        probe(str(junk))


def test_missing_ffprobe_is_a_probe_error(clips: Path) -> None:
    with pytest.raises(ProbeError, match="cannot run"):
        probe("x.mp4", ffprobe=str(clips / "no-such-ffprobe"))


def test_messages_never_carry_the_url_signature() -> None:
    assert redact("http://h:1/b/k.mp4?X-Amz-Signature=abc") == "http://h:1/b/k.mp4"
    assert redact("/local/path.mp4") == "/local/path.mp4"
    with pytest.raises(ProbeError) as caught:
        probe("http://127.0.0.1:9/b/k.mp4?X-Amz-Signature=topsecret", timeout=20)
    assert "topsecret" not in str(caught.value)


def _stream(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "index": 0,
        "codec_type": "video",
        "codec_name": "h264",
        "width": 720,
        "height": 576,
        "pix_fmt": "yuv420p",
        "r_frame_rate": "25/1",
        "avg_frame_rate": "25/1",
        "nb_read_packets": "250",
        "duration": "10.0",
        "start_time": "0.0",
    }
    return {**base, **fields}


def test_sample_aspect_ratio_widens_the_display() -> None:
    info = media_info_from_json(
        {"format": {"format_name": "mov"}, "streams": [_stream(sample_aspect_ratio="16:15")]}
    )
    assert info.video is not None and (info.video.display_width, info.video.display_height) == (768, 576)


def test_display_matrix_and_legacy_tag_give_clockwise_rotation() -> None:
    matrix = _stream(side_data_list=[{"side_data_type": "Display Matrix", "rotation": -90}])
    tagged = _stream(tags={"rotate": "270"})
    for stream, rotation in ((matrix, 90), (tagged, 270)):
        info = media_info_from_json({"format": {}, "streams": [stream]})
        assert info.video is not None
        assert info.video.rotation == rotation
        assert (info.video.display_width, info.video.display_height) == (576, 720)


def test_variable_frame_rate_is_flagged_past_a_tenth_of_a_percent() -> None:
    vfr = media_info_from_json(
        {"format": {}, "streams": [_stream(r_frame_rate="30/1", avg_frame_rate="299/10")]}
    )
    cfr = media_info_from_json(
        {"format": {}, "streams": [_stream(r_frame_rate="30/1", avg_frame_rate="29999/1000")]}
    )
    assert vfr.video is not None and vfr.video.variable_frame_rate
    assert cfr.video is not None and not cfr.video.variable_frame_rate


def test_cover_art_is_not_the_video_stream() -> None:
    art = _stream(disposition={"attached_pic": 1})
    info = media_info_from_json({"format": {}, "streams": [art]})
    assert info.video is None


def test_rendition_width_keeps_the_display_aspect_even() -> None:
    assert rendition_width(1920, 1080, 360) == 640
    assert rendition_width(768, 576, 360) == 480
    assert rendition_width(180, 320, 160) == 90
    assert rendition_width(1920, 1080, 142) % 2 == 0


# --- variable frame rate --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("avg", "rate"),
    [
        ("2997/100", "30000/1001"),  # 0.003 % off 29.97
        ("30029/1000", "30"),
        ("5994/100", "60000/1001"),
        ("2399/100", "24000/1001"),
        ("1500/59", "3178/125"),  # 25.4237...: no standard rate within 0.1 %, kept to 1/1000
        ("249/10", "249/10"),  # 0.4 % off 25
    ],
)
def test_vfr_is_normalized_to_the_average_rate_snapped_to_a_standard_one(avg: str, rate: str) -> None:
    assert normalized_rate(Fraction(avg)) == Fraction(rate)


def test_a_vfr_stream_without_an_average_rate_cannot_be_normalized() -> None:
    with pytest.raises(ProbeError, match="average frame rate"):
        normalized_rate(Fraction(0))


def _normalized_frames(path: Path, rate: str) -> int:
    argv = [
        "ffmpeg",
        "-v",
        "error",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-vf",
        f"fps={rate}",
        "-f",
        "framemd5",
        "-",
    ]
    out = subprocess.run(argv, capture_output=True, check=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line and not line.startswith("#"))


def test_probe_of_a_vfr_clip_reports_the_normalized_rate_and_frame_count(clips: Path) -> None:
    # 30 fps for 2 s, then every third frame dropped: 100 frames, r_frame_rate 30, avg 25.42
    path = make_clip(clips / "vfr.mp4", seconds=4.0, rate="30", width=160, height=90, vfr_drop=2.0)
    info = probe(str(path))
    assert info.video is not None and info.video.variable_frame_rate
    assert (info.video.avg_frame_rate, info.video.frame_rate) == ("1500/59", "3178/125")
    assert info.video.frame_count == _normalized_frames(path, "3178/125") == 101


def test_a_cfr_clip_keeps_its_packet_count(clips: Path) -> None:
    path = make_clip(clips / "cfr.mp4", seconds=2.0, rate="30", width=160, height=90, audio=False)
    info = probe(str(path))
    assert info.video is not None and not info.video.variable_frame_rate
    assert (info.video.frame_rate, info.video.frame_count) == ("30", 60)


# --- refusals -------------------------------------------------------------------------------------


def test_cover_art_only_file_has_no_video(clips: Path) -> None:
    sound = make_clip(clips / "song.m4a", seconds=1.0, width=64, height=64, extra_args=["-vn"])
    picture = clips / "cover.png"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=64x64",
            "-frames:v",
            "1",
            str(picture),
        ],
        check=True,
    )
    tagged = clips / "tagged.m4a"
    argv = ["ffmpeg", "-v", "error", "-y", "-i", str(sound), "-i", str(picture), "-map", "0", "-map", "1"]
    argv += ["-c:a", "copy", "-c:v", "mjpeg", "-disposition:v", "attached_pic", str(tagged)]
    subprocess.run(argv, check=True)
    info = probe(str(tagged))
    assert info.video is None and len(info.audio) == 1
    still = probe(str(picture))
    assert still.video is None and still.audio == [] and still.format_name == "png_pipe"


def test_a_codec_ffmpeg_does_not_know_is_refused(clips: Path) -> None:
    clip = make_clip(clips / "known.mkv", seconds=0.5, width=64, height=64, audio=False)
    data = clip.read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    unknown = clips / "unknown.mkv"
    unknown.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_QUUX4/ISO/AVC"))
    with pytest.raises(ProbeError, match="video codec is unknown"):
        probe(str(unknown))


def test_a_video_stream_that_does_not_decode_is_refused(clips: Path) -> None:
    data = bytearray(make_clip(clips / "ok.mp4", seconds=0.5, width=64, height=64, audio=False).read_bytes())
    start = data.index(b"mdat") + 4
    data[start : start + 2000] = b"\xff" * 2000  # the first NAL units' lengths become nonsense
    broken = clips / "broken.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(ProbeError, match=r"the video stream cannot be decoded: .*Invalid data"):
        probe(str(broken))


def test_missing_ffmpeg_for_the_decode_check_is_a_probe_error(clips: Path) -> None:
    clip = make_clip(clips / "fine.mp4", seconds=0.5, width=64, height=64, audio=False)
    with pytest.raises(ProbeError, match="cannot run"):
        probe(str(clip), ffmpeg=str(clips / "no-such-ffmpeg"))


def test_an_image_demuxer_is_not_a_video() -> None:
    data = {"format": {"format_name": "jpeg_pipe"}, "streams": [_stream(codec_name="mjpeg")]}
    assert media_info_from_json(data).video is None
    mjpeg_movie = {"format": {"format_name": "avi"}, "streams": [_stream(codec_name="mjpeg")]}
    assert media_info_from_json(mjpeg_movie).video is not None
