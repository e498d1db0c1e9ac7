from __future__ import annotations

from fractions import Fraction

import pytest

from juice.errors import StitchError
from juice.media.hls import (
    AudioRendition,
    Segment,
    Variant,
    average_bitrate,
    parse_attributes,
    parse_media_playlist,
    peak_bitrate,
    render_master,
    render_media_playlist,
    segment_number,
    target_duration,
)

FFMPEG_CHUNK = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXTINF:6.006000,
seg_00010.m4s
#EXTINF:6.006000,
seg_00011.m4s
#EXTINF:2.502500,
seg_00012.m4s
#EXT-X-ENDLIST
"""


def test_parse_ffmpeg_chunk_playlist() -> None:
    parsed = parse_media_playlist(FFMPEG_CHUNK)
    assert parsed.target_duration == 6
    assert parsed.media_sequence == 10
    assert parsed.map_uri == "init.mp4"
    assert parsed.entries == (("seg_00010.m4s", 6.006), ("seg_00011.m4s", 6.006), ("seg_00012.m4s", 2.5025))
    assert parsed.ended
    assert [segment_number(uri) for uri, _ in parsed.entries] == [10, 11, 12]


def test_parse_rejects_non_playlists_and_orphan_uris() -> None:
    with pytest.raises(ValueError, match="EXTM3U"):
        parse_media_playlist("hello\n")
    with pytest.raises(ValueError, match="EXTINF"):
        parse_media_playlist("#EXTM3U\nseg_00000.m4s\n")
    assert not parse_media_playlist("#EXTM3U\n#EXTINF:1.0,\nseg_00000.m4s\n").ended


def test_segment_number_needs_the_grid_name() -> None:
    with pytest.raises(ValueError):
        segment_number("init.mp4")


def test_attributes_keep_quoted_commas() -> None:
    assert parse_attributes('TYPE=AUDIO,GROUP-ID="aud",CODECS="avc1.64001f,mp4a.40.2"') == {
        "TYPE": "AUDIO",
        "GROUP-ID": "aud",
        "CODECS": "avc1.64001f,mp4a.40.2",
    }


def test_target_duration_rounds_to_nearest_not_up() -> None:
    assert target_duration([6.006, 6.006, 2.5]) == 6
    assert target_duration([6.5]) == 7
    assert target_duration([6.49]) == 6
    assert target_duration([0.3]) == 1
    assert target_duration([]) == 1


def test_render_media_playlist_round_trips() -> None:
    segments = [Segment(0, 6.006, 100), Segment(1, 6.006, 100), Segment(2, 1.0010001, 10)]
    text = render_media_playlist(segments, 6)
    assert text.splitlines()[:7] == [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:6",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-MAP:URI="init.mp4"',
    ]
    assert "#EXTINF:1.001000," in text and "DISCONTINUITY" not in text
    assert text.endswith("#EXT-X-ENDLIST\n")
    parsed = parse_media_playlist(text)
    assert [uri for uri, _ in parsed.entries] == ["seg_00000.m4s", "seg_00001.m4s", "seg_00002.m4s"]


def test_render_refuses_segments_over_the_target_and_empty_lists() -> None:
    with pytest.raises(StitchError, match="longer than TARGETDURATION"):
        render_media_playlist([Segment(0, 6.6, 1)], 6)
    with pytest.raises(StitchError):
        render_media_playlist([], 6)


def test_bitrates_are_measured_from_bytes_and_durations() -> None:
    segments = [Segment(0, 2.0, 250_000), Segment(1, 2.0, 500_000), Segment(2, 0.5, 50_000)]
    assert peak_bitrate(segments) == 2_000_000  # 500 kB in 2 s
    assert average_bitrate(segments) == 1_422_223  # 800 kB = 6.4 Mbit in 4.5 s, rounded up
    assert peak_bitrate([]) == 0 and average_bitrate([]) == 0


def test_master_sorts_variants_by_bandwidth_and_declares_the_audio_group() -> None:
    high = Variant(
        "720p/index.m3u8", 3_100_000, 2_900_000, "avc1.64001f,mp4a.40.2", 1280, 720, Fraction(30000, 1001)
    )
    low = Variant(
        "360p/index.m3u8", 900_000, 800_000, "avc1.4d401e,mp4a.40.2", 640, 360, Fraction(30000, 1001)
    )
    text = render_master([high, low], AudioRendition("audio/index.m3u8", "audio"))
    lines = text.splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    assert lines[3] == (
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"'
    )
    assert lines[4] == (
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,CODECS="avc1.4d401e,mp4a.40.2",'
        'RESOLUTION=640x360,FRAME-RATE=29.970,AUDIO="aud"'
    )
    assert lines[5] == "360p/index.m3u8"
    assert lines[6].startswith("#EXT-X-STREAM-INF:BANDWIDTH=3100000,") and lines[7] == "720p/index.m3u8"
    assert [line for line in lines if not line.startswith("#")] == ["360p/index.m3u8", "720p/index.m3u8"]


def test_master_without_audio_has_no_group() -> None:
    video = Variant("v/index.m3u8", 1, 1, "avc1.640015", 320, 180, Fraction(25))
    text = render_master([video], None)
    assert "EXT-X-MEDIA" not in text and "AUDIO=" not in text and "FRAME-RATE=25.000" in text
    with pytest.raises(StitchError):
        render_master([], None)
