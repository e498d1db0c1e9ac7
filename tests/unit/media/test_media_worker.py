from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from juice.core.worktask import AudioTask, VideoChunkTask, VideoOutput, WorkerTask
from juice.errors import TranscodeError
from juice.media.codecs import InitInfo
from juice.media.hls import Segment
from workers.entrypoint import BadPayload, JsonLines, load_task, plan_problem
from workers.transcode import EncodedRendition, SourceUnreadable, classify_failure
from workers.upload import Upload, Uploader, UploadError, audio_uploads, video_uploads

SOURCE = "http://rgw:7480/src/clip.mp4?X-Amz-Signature=s3cr3t"


def _video(**changes: object) -> VideoChunkTask:
    output = VideoOutput(
        name="360p",
        width=640,
        height=360,
        video_bitrate=800_000,
        max_rate=1_200_000,
        profile="main",
        init_url="http://u/360p/init.mp4",
        segment_urls=[f"http://u/360p/seg_{n:05d}.m4s" for n in (4, 5, 6)],
    )
    task = VideoChunkTask(
        job_id="j",
        task_key="v0002",
        source_url=SOURCE,
        frame_rate="25",
        first_frame=200,
        frame_count=130,
        segment_frames=50,
        gop_frames=25,
        first_segment=4,
        renditions=[output],
        manifest_url="http://u/.juice/v0002.json",
    )
    return task.model_copy(update=changes)


def _audio(urls: int) -> AudioTask:
    return AudioTask(
        job_id="j",
        task_key="a0",
        source_url=SOURCE,
        stream_index=0,
        name="audio",
        bitrate=128_000,
        duration=10.0,
        segment_seconds=2.0,
        init_url="http://u/audio/init.mp4",
        segment_urls=[f"http://u/audio/seg_{n:05d}.m4s" for n in range(urls)],
        manifest_url="http://u/.juice/a0.json",
    )


def _encoded(tmp_path: Path, name: str, numbers: range) -> EncodedRendition:
    return EncodedRendition(
        name=name,
        directory=tmp_path / name,
        init=InitInfo("avc1.4d401e", 640, 360),
        init_sha256="0" * 64,
        init_bytes=10,
        segments=tuple(Segment(n, 2.0, 100) for n in numbers),
        frame_count=None,
    )


# --- payload -------------------------------------------------------------------------------------


def test_payload_from_env_or_file(tmp_path: Path) -> None:
    payload = WorkerTask(task=_video()).model_dump_json()
    assert load_task(None, {"JUICE_TASK": payload}) == _video()
    path = tmp_path / "task.json"
    path.write_text(payload)
    assert load_task(str(path), {}) == _video()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no task"),
        ({"JUICE_TASK": "{not json"}, "invalid task"),
        ({"JUICE_TASK": '{"task": {}}'}, "invalid task"),
    ],
)
def test_bad_payloads_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(BadPayload, match=message):
        load_task(None, env)


def test_missing_task_file_is_a_bad_payload(tmp_path: Path) -> None:
    with pytest.raises(BadPayload, match="cannot read"):
        load_task(str(tmp_path / "nope.json"), {})


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"first_frame": 210}, "off the grid"),
        ({"first_segment": 3}, "first_segment"),
        ({"gop_frames": 30}, "GOP must divide"),
        ({"frame_count": 160}, "3 segment URLs for 4 segments"),
        ({"frame_rate": "0/1"}, "frame rate"),
        ({"renditions": []}, "no renditions"),
    ],
)
def test_inconsistent_plans_are_refused(changes: dict[str, object], problem: str) -> None:
    assert problem in (plan_problem(_video(**changes)) or "")
    assert plan_problem(_video()) is None


def test_odd_rendition_sizes_are_refused() -> None:
    odd = _video().renditions[0].model_copy(update={"width": 641})
    assert "even" in (plan_problem(_video(renditions=[odd])) or "")


# --- ffmpeg failures -----------------------------------------------------------------------------


def test_unreadable_source_is_the_inputs_fault_and_hides_the_signature() -> None:
    error = classify_failure(f"{SOURCE}: Invalid data found when processing input\n", SOURCE, 1)
    assert isinstance(error, SourceUnreadable)
    assert "s3cr3t" not in str(error) and "Invalid data" in str(error)


def test_source_server_errors_are_retryable() -> None:
    error = classify_failure(f"{SOURCE}: Server returned 503 Service Unavailable\n", SOURCE, 1)
    assert type(error) is TranscodeError


def test_encoder_failures_are_not_the_inputs_fault() -> None:
    error = classify_failure(
        "[libx264 @ 0x1] Error setting profile foo.\nError initializing output stream\n", SOURCE, 1
    )
    assert type(error) is TranscodeError and "Error initializing output stream" in str(error)
    assert "exit 1" in str(classify_failure("", SOURCE, 1))


# --- uploads -------------------------------------------------------------------------------------


def _uploader(statuses: list[int | Exception], seen: list[httpx.Request]) -> tuple[Uploader, list[float]]:
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        outcome = statuses.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Uploader(client, attempts=4, base_delay=0.5, sleep=sleeps.append), sleeps


def test_upload_retries_network_errors_and_5xx_with_backoff() -> None:
    seen: list[httpx.Request] = []
    uploader, sleeps = _uploader([httpx.ConnectError("refused"), 503, 429, 200], seen)
    uploader.put(Upload("http://u/x.m4s", "video/iso.segment", data=b"abc"))
    assert sleeps == [0.5, 1.0, 2.0]
    assert [r.content for r in seen] == [b"abc"] * 4
    assert seen[-1].headers["Content-Type"] == "video/iso.segment"


def test_upload_does_not_retry_a_forbidden_url() -> None:
    seen: list[httpx.Request] = []
    uploader, sleeps = _uploader([403], seen)
    with pytest.raises(UploadError, match="HTTP 403"):
        uploader.put(Upload("http://u/x.m4s?X-Amz-Signature=s3cr3t", "video/iso.segment", data=b"abc"))
    assert len(seen) == 1 and sleeps == []


def test_upload_gives_up_after_the_last_attempt() -> None:
    seen: list[httpx.Request] = []
    uploader, sleeps = _uploader([500, 502, 503, 504], seen)
    with pytest.raises(UploadError, match="after 4 attempt"):
        uploader.put(Upload("http://u/x", "video/mp4", data=b""))
    assert len(sleeps) == 3


def test_video_segments_go_before_init_segments(tmp_path: Path) -> None:
    uploads = video_uploads(_video(), [_encoded(tmp_path, "360p", range(4, 7))])
    assert [(u.url.rsplit("/", 1)[1], u.content_type) for u in uploads] == [
        ("seg_00004.m4s", "video/iso.segment"),
        ("seg_00005.m4s", "video/iso.segment"),
        ("seg_00006.m4s", "video/iso.segment"),
        ("init.mp4", "video/mp4"),
    ]


def test_a_segment_without_a_url_fails(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="no upload URL for segment 7"):
        video_uploads(_video(), [_encoded(tmp_path, "360p", range(4, 8))])


def test_audio_uses_only_the_urls_it_needs(tmp_path: Path) -> None:
    uploads = audio_uploads(_audio(urls=8), _encoded(tmp_path, "audio", range(5)))
    assert [u.url.rsplit("/", 1)[1] for u in uploads] == [f"seg_{n:05d}.m4s" for n in range(5)] + ["init.mp4"]
    with pytest.raises(UploadError, match="5 segments, 4 URLs"):
        audio_uploads(_audio(urls=4), _encoded(tmp_path, "audio", range(5)))


# --- logs ----------------------------------------------------------------------------------------


def test_log_lines_are_json_with_extra_fields() -> None:
    record = logging.LogRecord("workers", logging.INFO, __file__, 1, "done in %d s", (3,), None)
    record.phase = "done"
    record.task_key = "v0002"
    line = json.loads(JsonLines().format(record))
    assert line["msg"] == "done in 3 s" and line["phase"] == "done" and line["task_key"] == "v0002"
    assert line["level"] == "info"
