"""Pure checks of `juice validate` on hand-written playlists, boxes and figures."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import pytest

from juice.media import validate_playlists as pl
from juice.media import validate_psnr as ps
from juice.media import validate_streams as st
from juice.media.validate_fmp4 import (
    Fetcher,
    FetchError,
    SegmentTiming,
    TrackTiming,
    parse_init,
    resolve,
    segment_timing,
)

GOOD_MEDIA = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXTINF:6.006000,
seg_00000.m4s
#EXTINF:6.006000,
seg_00001.m4s
#EXTINF:2.502500,
seg_00002.m4s
#EXT-X-ENDLIST
"""

GOOD_MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=23.976,AUDIO="aud"
360p/index.m3u8
"""


def test_good_media_playlist_has_no_failures() -> None:
    parsed = pl.parse_media(GOOD_MEDIA)
    assert parsed.durations == [6.006, 6.006, 2.5025]
    assert pl.media_failures("v", parsed) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("#EXT-X-ENDLIST\n", "", "v: no EXT-X-ENDLIST"),
        ("PLAYLIST-TYPE:VOD", "PLAYLIST-TYPE:EVENT", "v: EXT-X-PLAYLIST-TYPE is EVENT, not VOD"),
        ("VERSION:7", "VERSION:4", "v: EXT-X-VERSION 4 is too low for EXT-X-MAP (needs 6)"),
        (
            "TARGETDURATION:6",
            "TARGETDURATION:7",
            "v: EXT-X-TARGETDURATION is 7, the longest EXTINF rounds to 6",
        ),
        ("#EXT-X-MEDIA-SEQUENCE:0\n", "", "v: no EXT-X-MEDIA-SEQUENCE"),
        ('#EXT-X-MAP:URI="init.mp4"\n', "", "v: no EXT-X-MAP (an fMP4 rendition needs its init segment)"),
        ("seg_00001.m4s\n", "seg_00001.m4s\n#EXT-X-DISCONTINUITY\n", "v: 1 EXT-X-DISCONTINUITY tag(s); "),
    ],
)
def test_each_media_rule_reports_its_own_failure(old: str, new: str, expected: str) -> None:
    failures = pl.media_failures("v", pl.parse_media(GOOD_MEDIA.replace(old, new)))
    assert len(failures) == 1 and failures[0].startswith(expected)


def test_target_duration_rounds_half_up_and_must_be_shared() -> None:
    longer = pl.parse_media(GOOD_MEDIA.replace("#EXTINF:2.502500", "#EXTINF:6.5"))
    assert pl.media_failures("v", longer) == ["v: EXT-X-TARGETDURATION is 6, the longest EXTINF rounds to 7"]
    audio = pl.parse_media(GOOD_MEDIA.replace("TARGETDURATION:6", "TARGETDURATION:7"))
    assert pl.target_failures({"v": pl.parse_media(GOOD_MEDIA), "a": pl.parse_media(GOOD_MEDIA)}) == []
    assert pl.target_failures({"v": pl.parse_media(GOOD_MEDIA), "audio": audio}) == [
        "media playlists disagree on EXT-X-TARGETDURATION: v=6, audio=7"
    ]


def test_not_a_playlist_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="EXTM3U"):
        pl.parse_media("<html>")


def test_renditions_must_share_the_segment_grid() -> None:
    a = pl.parse_media(GOOD_MEDIA)
    close = pl.parse_media(GOOD_MEDIA.replace("2.502500", "2.502520"))
    off = pl.parse_media(GOOD_MEDIA.replace("#EXTINF:6.006000,\nseg_00001", "#EXTINF:6.048000,\nseg_00001"))
    fewer = pl.parse_media(GOOD_MEDIA.replace("#EXTINF:2.502500,\nseg_00002.m4s\n", ""))
    assert pl.alignment_failures({"a": a, "b": close}, tolerance=1 / 24000) == []
    assert pl.alignment_failures({"a": a, "b": off}, tolerance=1 / 24000) == [
        "b: 1 segment(s) differ in EXTINF from a, first at segment 1 (6.048000 vs 6.006000 s)"
    ]
    assert pl.alignment_failures({"a": a, "b": fewer}, tolerance=1e-6) == ["b has 2 segments, a has 3"]


def test_master_attributes_and_audio_group() -> None:
    master = pl.parse_master(GOOD_MASTER)
    assert master.variants[0] == pl.StreamInf(
        "360p/index.m3u8", 900000, 700000, "avc1.64001f,mp4a.40.2", (640, 360), 23.976, "aud"
    )
    assert pl.master_failures(master) == []
    broken = GOOD_MASTER.replace('AUDIO="aud"', 'AUDIO="sound"').replace("RESOLUTION=640x360,", "")
    assert pl.master_failures(pl.parse_master(broken)) == [
        "master: variant 360p/index.m3u8 lacks RESOLUTION",
        "master: variant 360p/index.m3u8 names AUDIO group 'sound', which no EXT-X-MEDIA declares",
    ]


def test_measured_bandwidth_is_peak_and_average_of_segments() -> None:
    assert pl.measured_bandwidth([750_000, 250_000, 100_000], [6.0, 2.0, 1.0]) == (1_000_000, 977_778)


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ((1_000_000, 900_000), []),
        ((1_099_000, 900_000), []),
        ((999_999, 900_000), ["x: BANDWIDTH 999999 is below the measured peak 1000000 bit/s"]),
        ((1_200_000, 900_000), ["x: BANDWIDTH 1200000 overstates the measured peak 1000000 bit/s"]),
        ((1_000_000, 700_000), ["x: AVERAGE-BANDWIDTH 700000 differs from the measured 900000 bit/s"]),
        ((None, None), []),
    ],
)
def test_bandwidth_declared_against_measured(
    declared: tuple[int | None, int | None], expected: list[str]
) -> None:
    assert pl.bandwidth_failures("x", declared, (1_000_000, 900_000)) == expected


def test_timestamps_gap_and_overlap() -> None:
    frame, base = Fraction(1001, 24000), Fraction(1, 24000)
    steady = st.timestamps([0, 1001, 2002, 3003], base, frame)
    assert steady.duration == pytest.approx(4 * 1001 / 24000) and steady.max_gap == pytest.approx(
        1001 / 24000
    )
    assert st.timestamp_failures("v", steady, float(frame), float(base)) == []
    holed = st.timestamps([0, 1001, 3003, 4004], base, frame)
    assert st.timestamp_failures("v", holed, float(frame), float(base)) == [
        "v: a gap of 83.4 ms between frames (one frame is 41.7 ms)"
    ]
    overlap = st.timestamps([0, 1001, 1001, 2002], base, frame)
    assert st.timestamp_failures("v", overlap, float(frame), float(base)) == [
        "v: 1 frame(s) do not come strictly after the previous one"
    ]


def test_idr_misses_match_segment_starts_to_decoded_frames() -> None:
    video = st.DecodedVideo(
        time_base=Fraction(1, 90000),
        rate=Fraction(25),
        width=64,
        height=36,
        pts=[0, 3600, 7200, 10800, 14400, 18000],
        keys=[True, False, True, False, False, False],
    )
    track = TrackTiming(timescale=12800, shift=0)  # 1/25 s = 512 ticks
    assert st.idr_misses(video, [0, 1024], track) == []
    assert st.idr_misses(video, [0, 1024, 2048, 999], track) == [2, 3]


def _timing(start: int, duration: int = 48, samples: int = 2, **changes: object) -> SegmentTiming:
    fields: dict[str, object] = {
        "size": 100,
        "decode_start": start,
        "decode_duration": duration,
        "samples": samples,
        "start": start,
        "earliest": start,
        "first_sync": True,
    }
    fields.update(changes)
    return SegmentTiming(**fields)  # type: ignore[arg-type]


def test_segment_timing_rules() -> None:
    good = [_timing(0), _timing(48), _timing(96, samples=1, duration=24)]
    assert st.segment_failures("v", good, segment_frames=2) == []
    assert st.segment_failures("v", [_timing(0), _timing(50)], None) == [
        "v: tfdt does not continue from the previous segment at segment(s) [1]"
    ]
    assert st.segment_failures("v", [_timing(0), _timing(48, first_sync=False, earliest=40)], None) == [
        "v: segment 1 does not start with a sync sample",
        "v: segment 1 shows frames before its first sample (open GOP)",
    ]
    assert st.segment_failures("v", [_timing(0, samples=3, duration=72), _timing(72)], 2) == [
        "v: segment(s) [0] do not hold 2 frames"
    ]


def _packets(first: int, count: int, step: int = 1024) -> st.AudioPackets:
    return st.AudioPackets(
        Fraction(1, 48000), 48000, [first + i * step for i in range(count)], [step] * count
    )


def test_audio_start_accounts_for_aac_priming() -> None:
    video_first, video_end = 10.0, 12.0
    aligned = st.audio_figures(_packets(480000 - 1024, 95), video_first, video_end)
    assert aligned.start_offset == pytest.approx(0.0) and aligned.gaps == 0
    assert aligned.duration == pytest.approx(94 * 1024 / 48000)
    assert st.audio_failures("audio", aligned, 1 / 25) == []
    late = st.audio_figures(_packets(480000 - 1024 + 2400, 95), video_first, video_end)
    assert late.start_offset == pytest.approx(0.05)
    assert st.audio_failures("audio", late, 1 / 25) == [
        "audio: audio starts 50.0 ms after video (priming 1024 samples taken into account)"
    ]
    no_priming = st.audio_figures(_packets(480000, 95), video_first, video_end, priming=0)
    assert no_priming.start_offset == pytest.approx(0.0)


def test_audio_gaps_and_short_audio() -> None:
    pts = [478976 + i * 1024 for i in range(95)]
    pts[50:] = [p + 2048 for p in pts[50:]]
    gapped = st.audio_figures(st.AudioPackets(Fraction(1, 48000), 48000, pts, [1024] * 95), 10.0, 12.0)
    assert gapped.gaps == 1 and gapped.max_gap == pytest.approx(2048 / 48000)
    short = st.audio_figures(_packets(478976, 60), 10.0, 12.0)
    assert st.audio_failures("audio", short, 1 / 25) == ["audio: audio ends 741.3 ms before video"]
    assert st.audio_failures("audio", st.audio_figures(_packets(0, 0), 10.0, 12.0), 0.04) == [
        "audio: no audio packets"
    ]


def test_join_windows_merge_and_clip() -> None:
    assert ps.join_windows([0, 24, 48, 72], 80, radius=4) == ((0, 4), (20, 28), (44, 52), (68, 79))
    assert ps.join_windows([5], 12, radius=4) == ((0, 11),)
    assert ps.join_windows([], 0) == ()


def test_graph_pairs_by_index_and_selects_windows() -> None:
    everything = ps.psnr_graph(ps.PsnrPlan(320, 180, None, None))
    assert "select" not in everything and "fps=" not in everything
    assert "[s2]trim=start_frame=1,scale=320:180" in everything
    windowed = ps.psnr_graph(ps.PsnrPlan(160, 90, Fraction(30000, 1001), ((0, 3), (20, 28))))
    assert "[1:v]fps=30000/1001,split=3" in windowed
    assert "[o1]trim=start_frame=1,select=between(n\\,-1\\,2)+between(n\\,19\\,27)," in windowed
    assert "[o0]select=between(n\\,0\\,3)+between(n\\,20\\,28),settb=1/1,setpts=N[a0]" in windowed


def test_series_maps_stats_lines_onto_frame_indices() -> None:
    stats = {
        "same": "n:1 mse_avg:1 psnr_avg:40.0\nn:2 mse_avg:1 psnr_avg:inf\nn:3 mse_avg:1 psnr_avg:38.0\n",
        "prev": "n:1 mse_avg:1 psnr_avg:20.0\nn:2 mse_avg:1 psnr_avg:41.0\n",
        "next": "n:1 mse_avg:1 psnr_avg:21.0\nn:2 mse_avg:1 psnr_avg:22.0\nn:3 mse_avg:1 psnr_avg:23.0\n",
    }
    series = ps.series_from_stats(stats, ((0, 1), (7, 7)))
    assert series.same == {0: 40.0, 1: 100.0, 7: 38.0}
    assert series.prev == {1: 20.0, 7: 41.0}
    assert series.next == {0: 21.0, 1: 22.0, 7: 23.0}
    result = ps.figures(series)
    # frame 7 alone matches its previous source frame better: a lone win is no shift
    assert (result.frames, result.psnr_min, result.neighbour_wins, result.first_neighbour_win) == (
        3,
        38.0,
        0,
        None,
    )


def test_only_runs_of_shifted_frames_count() -> None:
    same = {j: 38.0 for j in range(10)}
    shifted = ps.PsnrSeries(same, {j: 44.0 for j in range(4, 10)}, {})  # a duplicated frame at 4
    assert ps.shifted_frames(shifted) == [4, 5, 6, 7, 8, 9]
    assert ps.figures(shifted).first_neighbour_win == 4
    lone = ps.PsnrSeries(same, {3: 44.0, 7: 44.0, 8: 44.0}, {})  # near-static pictures, no run of 3
    assert ps.shifted_frames(lone) == []
    mixed = ps.PsnrSeries(same, {2: 44.0, 4: 44.0}, {3: 44.0})  # prev, next, prev: not one shift
    assert ps.shifted_frames(mixed) == []
    gap = ps.PsnrSeries({0: 38.0, 1: 38.0, 5: 38.0, 6: 38.0}, {0: 44.0, 1: 44.0, 5: 44.0, 6: 44.0}, {})
    assert ps.shifted_frames(gap) == []  # two windows of two frames each, not consecutive
    assert ps.failures("v", ps.figures(shifted)) == [
        "v: 6 frame(s) match a neighbouring source frame better than their own, first at frame 4 "
        "(dropped or duplicated frame)"
    ]


def test_ties_with_identical_neighbours_are_not_wins() -> None:
    flat = ps.PsnrSeries({0: 45.0, 1: 45.0}, {1: 45.05}, {0: 45.0})
    assert ps.figures(flat).neighbour_wins == 0
    low = ps.figures(ps.PsnrSeries({0: 12.0}, {}, {}))
    assert ps.failures("v", low) == ["v: PSNR falls to 12.00 dB against the source (floor 18 dB)"]
    assert ps.failures("v", ps.figures(ps.PsnrSeries({}, {}, {}))) == [
        "v: no frame could be compared with the source"
    ]


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


def test_init_and_segment_boxes(tmp_path: Path) -> None:
    mdhd = _full(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, 24000, 0) + b"\0" * 4)
    elst = _full(b"elst", 0, 0, struct.pack(">I", 1) + struct.pack(">IiI", 1000, 2002, 0x10000))
    init = _box(b"moov", _box(b"trak", _box(b"edts", elst) + _box(b"mdia", mdhd)))
    track = parse_init(init)
    assert track == TrackTiming(timescale=24000, shift=2002)

    tfhd = _full(b"tfhd", 0, 0x8, struct.pack(">II", 1, 1001))  # default sample duration
    tfdt = _full(b"tfdt", 1, 0, struct.pack(">Q", 240000))
    # data offset, first-sample flags, per-sample composition offsets: I P B
    trun = _full(
        b"trun", 0, 0x1 | 0x4 | 0x800, struct.pack(">IiI", 3, 0, 0) + struct.pack(">iii", 2002, 5005, 1001)
    )
    segment = (
        _box(b"styp", b"msdh")
        + _box(b"moof", _box(b"traf", tfhd + tfdt + trun))
        + _box(b"mdat", b"x" * 70000)
    )
    path = tmp_path / "seg_00000.m4s"
    path.write_bytes(segment)
    timing = segment_timing(Fetcher(), str(path), track)
    assert timing == SegmentTiming(
        size=len(segment),
        decode_start=240000,
        decode_duration=3003,
        samples=3,
        start=240000,
        earliest=240000,
        first_sync=True,
    )
    (tmp_path / "bad.m4s").write_bytes(_box(b"styp", b"msdh"))
    with pytest.raises(FetchError, match="no tfdt/trun"):
        segment_timing(Fetcher(), str(tmp_path / "bad.m4s"), track)
    with pytest.raises(FetchError, match="cannot read"):
        Fetcher().read(str(tmp_path / "missing.m4s"), 0, 10)


def test_resolve_relative_uris() -> None:
    assert resolve("/pkg/master.m3u8", "360p/index.m3u8") == "/pkg/360p/index.m3u8"
    assert resolve("http://h:1/b/job/master.m3u8", "360p/index.m3u8") == "http://h:1/b/job/360p/index.m3u8"
    assert resolve("http://h:1/b/360p/index.m3u8", "https://cdn/x.m4s") == "https://cdn/x.m4s"
