from __future__ import annotations

import pytest

from juice.core.worktask import RenditionManifest, SegmentEntry, TaskManifest
from juice.errors import ObjectNotFound, StitchError
from juice.media.hls import parse_media_playlist
from juice.media.stitch import stitch

PREFIX = "jobs/j/"


class MemoryStore:
    """Just enough of the ObjectStore port, recording the order of writes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.writes: list[str] = []

    def ensure_bucket(self, bucket: str) -> None:
        return

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self.objects[(bucket, key)] = data
        self.writes.append(key)

    def put_file(
        self, bucket: str, key: str, path: str, content_type: str = "application/octet-stream"
    ) -> None:
        raise NotImplementedError

    def get_bytes(self, bucket: str, key: str) -> bytes:
        if (bucket, key) not in self.objects:
            raise ObjectNotFound(key)
        return self.objects[(bucket, key)]

    def exists(self, bucket: str, key: str) -> bool:
        return (bucket, key) in self.objects

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        raise NotImplementedError

    def presign_get(self, bucket: str, key: str, expires_seconds: int) -> str:
        raise NotImplementedError

    def presign_put(self, bucket: str, key: str, expires_seconds: int) -> str:
        raise NotImplementedError


def _rendition(
    name: str, first: int, sizes: list[int], frames: int, sha: str = "a" * 64
) -> RenditionManifest:
    height = int(name.rstrip("p"))
    return RenditionManifest(
        name=name,
        codecs="avc1.64001f",
        width=height * 16 // 9,
        height=height,
        frame_count=frames,
        init_sha256=sha,
        init_bytes=800,
        segments=[SegmentEntry(number=first + i, duration=2.0, bytes=size) for i, size in enumerate(sizes)],
    )


def _chunk(key: str, renditions: list[RenditionManifest]) -> TaskManifest:
    return TaskManifest(
        job_id="j", task_key=key, kind="video", renditions=renditions, wall_seconds=1.0, ffmpeg_version="5.1"
    )


def _audio(sizes: list[int], durations: list[float] | None = None) -> TaskManifest:
    durations = durations or [2.0] * len(sizes)
    rendition = RenditionManifest(
        name="audio",
        codecs="mp4a.40.2",
        init_sha256="b" * 64,
        init_bytes=600,
        segments=[
            SegmentEntry(number=i, duration=d, bytes=s)
            for i, (s, d) in enumerate(zip(sizes, durations, strict=True))
        ],
    )
    return TaskManifest(
        job_id="j",
        task_key="a0",
        kind="audio",
        renditions=[rendition],
        wall_seconds=1.0,
        ffmpeg_version="5.1",
    )


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    for name in ("720p", "360p", "audio"):
        s.put_bytes("out", f"{PREFIX}{name}/init.mp4", b"init")
    s.writes.clear()
    return s


def _two_chunks() -> list[TaskManifest]:
    return [
        _chunk(
            "v0",
            [_rendition("720p", 0, [500_000, 750_000], 120), _rendition("360p", 0, [100_000, 120_000], 120)],
        ),
        _chunk("v1", [_rendition("720p", 2, [600_000], 50), _rendition("360p", 2, [90_000], 50)]),
    ]


def test_stitch_writes_media_playlists_then_the_master_last(store: MemoryStore) -> None:
    audio = _audio([32_000, 33_000, 34_000], [2.0, 2.0, 1.6])
    result = stitch(
        store, "out", PREFIX, video=_two_chunks(), audio=audio, frame_rate="30", expected_frames=170
    )
    names = ["720p/index.m3u8", "360p/index.m3u8", "audio/index.m3u8", "master.m3u8"]
    assert store.writes == [PREFIX + name for name in names]
    assert result.master_key == f"{PREFIX}master.m3u8" and result.target_duration == 2
    media = parse_media_playlist(store.get_bytes("out", f"{PREFIX}720p/index.m3u8").decode())
    assert [uri for uri, _ in media.entries] == ["seg_00000.m4s", "seg_00001.m4s", "seg_00002.m4s"]
    figures = {r.name: r for r in result.renditions}
    assert figures["720p"].frames == 170 and figures["720p"].peak_bandwidth == 3_000_000
    assert result.audio is not None and result.audio.peak_bandwidth == 170_000  # 34 kB in 1.6 s

    master = store.get_bytes("out", f"{PREFIX}master.m3u8").decode().splitlines()
    inf = [line for line in master if line.startswith("#EXT-X-STREAM-INF")]
    # peak video segment + peak audio segment; average over all bytes / all seconds of each
    assert inf[0].startswith("#EXT-X-STREAM-INF:BANDWIDTH=650000,AVERAGE-BANDWIDTH=")
    assert 'CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="aud"' in inf[0]
    assert inf[1].startswith("#EXT-X-STREAM-INF:BANDWIDTH=3170000,AVERAGE-BANDWIDTH=2608096,")
    assert master[-1] == "720p/index.m3u8"


def test_audio_and_video_share_the_target_duration(store: MemoryStore) -> None:
    audio = _audio([1, 1, 1], [2.0, 2.6, 1.0])
    result = stitch(
        store, "out", PREFIX, video=_two_chunks(), audio=audio, frame_rate="30", expected_frames=170
    )
    assert result.target_duration == 3
    for name in ("720p", "audio"):
        assert "#EXT-X-TARGETDURATION:3" in store.get_bytes("out", f"{PREFIX}{name}/index.m3u8").decode()


def test_without_audio_the_master_has_no_group(store: MemoryStore) -> None:
    stitch(
        store, "out", PREFIX, video=_two_chunks(), audio=None, frame_rate="24000/1001", expected_frames=170
    )
    master = store.get_bytes("out", f"{PREFIX}master.m3u8").decode()
    assert "EXT-X-MEDIA" not in master and "FRAME-RATE=23.976" in master and "BANDWIDTH=3000000," in master


def test_different_init_segments_are_refused(store: MemoryStore) -> None:
    chunks = _two_chunks()
    chunks[1] = _chunk("v1", [_rendition("720p", 2, [1], 50, sha="c" * 64), _rendition("360p", 2, [1], 50)])
    with pytest.raises(StitchError, match=r"720p: chunks wrote different init\.mp4"):
        stitch(store, "out", PREFIX, video=chunks, audio=None, frame_rate="30", expected_frames=170)
    assert store.writes == []


def test_a_segment_gap_is_refused(store: MemoryStore) -> None:
    chunks = _two_chunks()
    chunks[1] = _chunk("v1", [_rendition("720p", 3, [1], 50), _rendition("360p", 3, [1], 50)])
    with pytest.raises(StitchError, match="not contiguous from 0"):
        stitch(store, "out", PREFIX, video=chunks, audio=None, frame_rate="30", expected_frames=170)


def test_chunks_out_of_order_are_refused(store: MemoryStore) -> None:
    with pytest.raises(StitchError, match="not contiguous"):
        stitch(
            store, "out", PREFIX, video=_two_chunks()[::-1], audio=None, frame_rate="30", expected_frames=170
        )


def test_frame_total_must_match_the_source(store: MemoryStore) -> None:
    with pytest.raises(StitchError, match="hold 170 frames, the source has 171"):
        stitch(store, "out", PREFIX, video=_two_chunks(), audio=None, frame_rate="30", expected_frames=171)


def test_rendition_sets_must_agree(store: MemoryStore) -> None:
    chunks = _two_chunks()
    chunks[1] = _chunk("v1", [_rendition("720p", 2, [1], 50)])
    with pytest.raises(StitchError, match="renditions"):
        stitch(store, "out", PREFIX, video=chunks, audio=None, frame_rate="30", expected_frames=170)


def test_missing_init_object_is_refused() -> None:
    with pytest.raises(StitchError, match=r"init\.mp4 is missing"):
        stitch(
            MemoryStore(),
            "out",
            PREFIX,
            video=_two_chunks(),
            audio=None,
            frame_rate="30",
            expected_frames=170,
        )


@pytest.mark.parametrize(("video", "rate"), [([], "30"), (None, "0"), (None, "abc")])
def test_nothing_to_stitch_or_bad_rate(
    store: MemoryStore, video: list[TaskManifest] | None, rate: str
) -> None:
    chunks = _two_chunks() if video is None else video
    with pytest.raises(StitchError):
        stitch(store, "out", PREFIX, video=chunks, audio=None, frame_rate=rate, expected_frames=170)


def test_audio_numbers_must_start_at_zero(store: MemoryStore) -> None:
    audio = _audio([1, 1])
    shifted = audio.model_copy(
        update={
            "renditions": [
                audio.renditions[0].model_copy(
                    update={"segments": [SegmentEntry(number=1, duration=2.0, bytes=1)]}
                )
            ]
        }
    )
    with pytest.raises(StitchError, match="audio: segment numbers"):
        stitch(store, "out", PREFIX, video=_two_chunks(), audio=shifted, frame_rate="30", expected_frames=170)
