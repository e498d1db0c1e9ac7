from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from juice.core.jobspec import JobSpec, parse_bitrate
from juice.scheduler.intake import parse_entry

GOOD = {
    "id": "clip-42",
    "source": "s3://uploads/clip.mp4",
    "output": "s3://streams/clip-42/",
    "renditions": [{"height": 360, "video_bitrate": "800k"}],
}


def test_minimal_job_from_the_readme() -> None:
    spec = JobSpec.model_validate(GOOD)
    assert spec.segment_seconds == 6.0
    assert spec.source_location == ("uploads", "clip.mp4")
    assert spec.output_location == ("streams", "clip-42/")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"id": "has.dot"}, "id"),
        ({"source": "http://x/y.mp4"}, "source"),
        ({"output": "s3://streams/no-slash"}, "output"),
        ({"renditions": []}, "renditions"),
        ({"renditions": [{"height": 360, "video_bitrate": "fast"}]}, "video_bitrate"),
        ({"segment_seconds": 0.1}, "segment_seconds"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_jobs_name_the_field(patch: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        JobSpec.model_validate({**GOOD, **patch})


def test_bitrates() -> None:
    assert parse_bitrate("800k") == 800_000
    assert parse_bitrate("2.5M") == 2_500_000
    with pytest.raises(ValueError):
        parse_bitrate("12")


def test_parse_entry_reports_readable_errors_and_keeps_the_id() -> None:
    spec, job_id, err = parse_entry({"job": json.dumps(GOOD)})
    assert spec is not None and job_id == "clip-42" and err == ""
    spec, job_id, err = parse_entry({"job": "{not json"})
    assert spec is None and job_id is None and "not valid JSON" in err
    spec, job_id, err = parse_entry({"job": json.dumps({**GOOD, "renditions": "all"})})
    assert spec is None and job_id == "clip-42" and "renditions" in err
    assert parse_entry({"other": "x"})[2] == "entry has no 'job' field"
