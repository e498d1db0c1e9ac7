"""A job pushed into Redis becomes stitched HLS on Ceph RGW, through Mesos offers and worker tasks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from e2e_support import Client, wait_for

from juice.local.stack import LocalStack
from juice.media.hlscheck import download_prefix, inspect
from juice.store import keys

LADDER = [{"height": 180, "video_bitrate": "300k"}, {"height": 144, "video_bitrate": "200k"}]
CLIP_FRAMES = 300  # 12 s at 25 fps


def job(job_id: str, source: str, **kw: Any) -> dict[str, Any]:
    return {"id": job_id, "source": source, "output": f"s3://streams/{job_id}/", "renditions": LADDER, **kw}


def upload(stack: LocalStack, path: Path, key: str) -> str:
    store = stack.object_store()
    store.put_file("uploads", key, str(path), "video/mp4")
    return f"s3://uploads/{key}"


def framework_tasks(client: Client) -> list[dict[str, Any]]:
    return [t for f in client.master_state()["frameworks"] for t in f.get("tasks", [])]


def test_job_becomes_frame_exact_stitched_hls(client: Client, source: str, tmp_path: Path) -> None:
    client.push(job("e2e-1", source, segment_seconds=2))
    final = client.final("e2e-1")
    assert final["state"] == "SUCCEEDED", final
    assert final["master_playlist"] == "s3://streams/e2e-1/master.m3u8"
    assert final["segments"]["DONE"] == final["segments"]["total"] >= 3  # several chunks and the audio
    assert final["plan"]["frames"] == CLIP_FRAMES

    local = download_prefix(client.stack.object_store(), "streams", "e2e-1/", tmp_path / "out")
    report = inspect(local / "master.m3u8")
    assert report.decode_errors == [], report.decode_errors
    assert report.video, "no video rendition"
    for v in report.video:
        assert v.frames == CLIP_FRAMES, v
        assert v.gaps_ok, v
    assert report.audio is not None
    assert abs(report.audio.duration - report.video[0].duration) <= 0.050, report

    # every resource is freed and offers are suppressed once nothing waits
    wait_for("tasks to leave the dev cluster", lambda: framework_tasks(client) == [])
    wait_for(
        "offers to be suppressed",
        lambda: all("juice" in f.get("suppressed_roles", []) for f in client.master_state()["frameworks"]),
    )


def test_bad_input_is_reported_and_the_next_job_still_succeeds(
    client: Client, source: str, tmp_path: Path
) -> None:
    client.push("{this is not json")
    client.push(job("bad-spec", source, renditions=[]))
    garbage = tmp_path / "not-a-video.mp4"
    garbage.write_bytes(os.urandom(50_000))
    client.push(job("not-video", upload(client.stack, garbage, "e2e/not-a-video.mp4")))
    client.push(job("missing", "s3://uploads/e2e/no-such-file.mp4"))
    client.push(job("after-bad", source, segment_seconds=4))

    rejected = client.final("bad-spec")
    assert rejected["state"] == "REJECTED" and "renditions" in rejected["reason"]
    failed = client.final("not-video")
    assert failed["state"] == "FAILED" and failed["reason"].startswith("input:"), failed
    missing = client.final("missing")
    assert missing["state"] == "FAILED" and "does not exist" in missing["reason"], missing
    assert client.final("after-bad")["state"] == "SUCCEEDED"
    dead = client.redis.xrange(keys.DEAD_STREAM)
    assert any(e[1][b"job"] == b"{this is not json" and b"not valid JSON" in e[1][b"error"] for e in dead)


def test_same_id_twice_gives_one_job(client: Client, source: str) -> None:
    client.push(job("twice", source, segment_seconds=6))
    client.push(job("twice", source, segment_seconds=3))
    final = client.final("twice")
    assert final["state"] == "SUCCEEDED"
    assert final["plan"]["segment_seconds"] == 6.0  # the first submission won
    events = [
        e[1] for e in client.redis.xrange(keys.EVENTS) if e[1][b"job"] == b"twice" and e[1][b"type"] == b"job"
    ]
    assert [e[b"to"] for e in events].count(b"QUEUED") == 1
