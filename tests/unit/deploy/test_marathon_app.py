"""deploy/marathon/juice-scheduler.json is a valid Marathon app and matches what the scheduler reads."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from juice.config import Settings

ROOT = Path(__file__).resolve().parents[3]
APP = json.loads((ROOT / "deploy" / "marathon" / "juice-scheduler.json").read_text())
# Marathon's AppDefinition schema (mesosphere/marathon docs, the last published version of the file).
SCHEMA = json.loads((Path(__file__).parent / "marathon-app-definition.schema.json").read_text())


def test_app_validates_against_marathons_schema() -> None:
    validator = jsonschema.Draft4Validator(SCHEMA)
    errors = sorted(str(e.message) for e in validator.iter_errors(APP))
    assert errors == []


def test_schema_catches_a_broken_app() -> None:
    broken = {**APP, "instances": "1", "args": ["x"]}  # cmd and args together, instances as a string
    assert list(jsonschema.Draft4Validator(SCHEMA).iter_errors(broken))


def test_single_instance_that_never_overlaps() -> None:
    assert APP["instances"] == 1 and APP["labels"]["MARATHON_SINGLE_INSTANCE_APP"] == "true"
    assert APP["upgradeStrategy"] == {"minimumHealthCapacity": 0, "maximumOverCapacity": 0}
    assert "JUICE_API_PORT=$PORT0" in APP["cmd"] and "exec juice scheduler" in APP["cmd"]
    assert APP["readinessChecks"][0]["path"] == "/readyz" and APP["healthChecks"][0]["path"] == "/healthz"


def test_env_names_are_settings_and_no_secret_is_in_the_file() -> None:
    fields = {f"JUICE_{name.upper()}" for name in Settings.model_fields}
    assert set(APP["env"]) <= fields
    assert not {"JUICE_S3_ACCESS_KEY", "JUICE_S3_SECRET_KEY"} & set(APP["env"])
