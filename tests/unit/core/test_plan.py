from __future__ import annotations

from fractions import Fraction

import pytest

from juice.core.jobspec import JobSpec
from juice.core.mediainfo import MediaInfo
from juice.core.plan import PlanLimits, gop_for, makespan, plan_job, segments_per_chunk
from juice.errors import PlanningError
from tests.factories import media, video
from tests.factories import spec as make_spec


def spec(**kw: object) -> JobSpec:
    ladder = [{"height": 720, "video_bitrate": "2500k"}, {"height": 360, "video_bitrate": "800k"}]
    return make_spec("clip-1", **{"renditions": ladder, **kw})


def test_chunks_cover_every_frame_once_on_the_segment_grid() -> None:
    plan = plan_job(spec(), media(video(frames=375)), PlanLimits(parallelism=4))
    assert plan.segment_frames == 150
    assert plan.segment_count == 3
    covered = [f for c in plan.chunks for f in range(c.first_frame, c.first_frame + c.frame_count)]
    assert covered == list(range(375))
    assert all(c.first_frame % plan.segment_frames == 0 for c in plan.chunks)
    assert [c.first_segment for c in plan.chunks] == [c.first_frame // 150 for c in plan.chunks]
    assert plan.chunks[-1].frame_count == 75  # the last chunk may be shorter


def test_ntsc_rate_keeps_exact_frame_boundaries() -> None:
    plan = plan_job(spec(), media(video(rate="24000/1001", frames=1439)), PlanLimits(parallelism=2))
    assert plan.segment_frames == 144  # 6.006 s
    assert plan.gop_frames == 48  # 2.002 s, divides the segment
    assert sum(c.frame_count for c in plan.chunks) == 1439
    assert plan.duration == pytest.approx(1439 * 1001 / 24000)


def test_chunk_count_follows_parallelism_and_chunk_seconds() -> None:
    # 100 segments of 6 s, chunks of at most 30 s (5 segments) -> at least 20 chunks, rounded up to 8 slots
    assert segments_per_chunk(100, 6.0, PlanLimits(chunk_seconds=30, parallelism=8)) == 5
    # few segments, many slots: one segment per chunk
    assert segments_per_chunk(3, 6.0, PlanLimits(chunk_seconds=30, parallelism=8)) == 1
    # one slot: chunks as long as allowed
    assert segments_per_chunk(10, 6.0, PlanLimits(chunk_seconds=30, parallelism=1)) == 5


@pytest.mark.parametrize(
    ("seg", "rate", "gop"), [(150, "25", 50), (180, "30000/1001", 60), (25, "25", 25), (7, "25", 7)]
)
def test_gop_divides_segment(seg: int, rate: str, gop: int) -> None:
    assert gop_for(seg, Fraction(rate)) == gop
    assert seg % gop == 0


def test_ladder_never_upscales_and_keeps_aspect() -> None:
    plan = plan_job(spec(), media(video(w=640, h=480, frames=100)), PlanLimits())
    assert [(r.width, r.height) for r in plan.renditions] == [(480, 360)]
    only_big = spec(renditions=[{"height": 1080, "video_bitrate": "5M"}])
    plan = plan_job(only_big, media(video(w=640, h=360, frames=100)), PlanLimits())
    assert [(r.width, r.height) for r in plan.renditions] == [(640, 360)]


def test_rotated_source_uses_display_size() -> None:
    v = video(w=1280, h=720, display_width=720, display_height=1280, rotation=90, frames=100)
    plan = plan_job(spec(renditions=[{"height": 640, "video_bitrate": "1M"}]), media(v), PlanLimits())
    assert (plan.renditions[0].width, plan.renditions[0].height) == (360, 640)


def test_audio_task_and_no_audio() -> None:
    with_audio = plan_job(spec(), media(video()), PlanLimits())
    assert [a.key for a in with_audio.audio] == ["a0"]
    assert with_audio.task_keys[-1] == "a0"
    assert plan_job(spec(), media(video(), audio=0), PlanLimits()).audio == []


@pytest.mark.parametrize(
    ("m", "why"),
    [
        (media(None), "no video stream"),
        (media(video(frames=0, duration=0.0)), "no frames"),
        (media(video(frames=10**6)), "over the limit"),
        (media(video(w=8000, h=8000)), "pixels"),
    ],
)
def test_refuses_what_cannot_be_transcoded(m: MediaInfo, why: str) -> None:
    with pytest.raises(PlanningError, match=why):
        plan_job(spec(), m, PlanLimits(max_duration_seconds=3600))


def test_last_round_is_not_left_to_one_short_task() -> None:
    # 5 segments on 4 slots: 5 one-segment chunks would leave a second round to one task
    limits = PlanLimits(parallelism=4, chunk_seconds=30)
    assert segments_per_chunk(5, 6.0, limits) == 2  # 3 chunks, one round
    assert makespan(5, 2, 4, 6.0, 3.0) < makespan(5, 1, 4, 6.0, 3.0)


def test_job_chunk_seconds_caps_the_chunk() -> None:
    plan = plan_job(spec(chunk_seconds=6), media(video(frames=25 * 60)), PlanLimits(parallelism=1))
    assert {c.segment_count for c in plan.chunks} == {1}
    assert len(plan.chunks) == 10


def test_default_ladder_follows_the_source_height() -> None:
    plan = plan_job(spec(renditions=None), media(video(w=1280, h=720, frames=100)), PlanLimits())
    assert [r.name for r in plan.renditions] == ["720p", "480p", "360p", "240p"]
    assert plan.renditions[-1].width == 426  # 16:9, even
    tiny = plan_job(spec(renditions=None), media(video(w=176, h=144, frames=100)), PlanLimits())
    assert [(r.width, r.height) for r in tiny.renditions] == [(176, 144)]


def test_vfr_sources_are_planned_on_the_normalized_rate() -> None:
    v = video(rate="30000/1001", frames=180, variable_frame_rate=True)
    plan = plan_job(spec(), media(v), PlanLimits())
    assert not plan.constant_rate and plan.total_frames == 180
    assert plan_job(spec(), media(video()), PlanLimits()).constant_rate
