from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from juice.errors import ProbeError
from juice.media.probe import media_info_from_json, probe, redact, rendition_width
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
    with pytest.raises(ProbeError, match="Invalid data found when processing input"):
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
