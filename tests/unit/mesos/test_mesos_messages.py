from __future__ import annotations

import json
from typing import Any

import pytest

from juice.errors import MesosError
from juice.mesos.builders import FrameworkSettings, docker_task_info, framework_info
from juice.mesos.messages import (
    ErrorEvent,
    Failure,
    Heartbeat,
    Message,
    Offers,
    Rescind,
    Subscribed,
    TaskState,
    UnknownEvent,
    Update,
    parse_event,
)

OFFER: dict[str, Any] = {
    "id": {"value": "M-O42"},
    "framework_id": {"value": "M-0000"},
    "agent_id": {"value": "M-S3"},
    "hostname": "node7",
    "url": {"scheme": "http", "address": {"hostname": "node7", "ip": "10.0.0.7", "port": 5051}},
    "allocation_info": {"role": "workers"},
    "resources": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 7.5}, "allocation_info": {"role": "workers"}},
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}, "role": "*"},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 14000.0}, "role": "*"},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32000}]}},
    ],
    "attributes": [
        {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
        {"name": "gen", "type": "SCALAR", "scalar": {"value": 3}},
        {"name": "zones", "type": "SET", "set": {"item": ["a", "b"]}},
    ],
    "executor_ids": [{"value": "e1"}],
    "brand_new_field": {"x": 1},
}


def record(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def test_offers_are_nested_one_level_and_helpers_work() -> None:
    event = parse_event(record({"type": "OFFERS", "offers": {"offers": [OFFER]}}))
    assert isinstance(event, Offers)
    offer = event.offers[0]
    assert (offer.id, offer.agent_id, offer.framework_id) == ("M-O42", "M-S3", "M-0000")
    assert offer.scalar("cpus") == 8.0
    assert offer.scalar("mem") == 14000.0
    assert offer.scalar("disk") == 0.0
    assert offer.ranges("ports") == [(31000, 32000)]
    assert offer.attributes == {"rack": "r1", "gen": 3.0, "zones": ["a", "b"]}
    assert offer.role == "workers"


def test_update_keeps_uuid_exactly_and_flattens_ids() -> None:
    uuid = "3q2+7w==AAAAAAAAAAAAAA=="
    status = {
        "task_id": {"value": "j.s.1"},
        "state": "TASK_RUNNING",
        "source": "SOURCE_EXECUTOR",
        "reason": "REASON_COMMAND_EXECUTOR_FAILED",
        "message": "hi",
        "uuid": uuid,
        "agent_id": {"value": "M-S3"},
        "timestamp": 1700000000.5,
        "unreachable_time": {"nanoseconds": 123},
        "labels": {"labels": []},
    }
    event = parse_event(record({"type": "UPDATE", "update": {"status": status}}))
    assert isinstance(event, Update)
    s = event.status
    assert s.uuid == uuid and s.needs_ack
    assert (s.task_id, s.agent_id, s.state) == ("j.s.1", "M-S3", TaskState.TASK_RUNNING)
    assert s.unreachable_time == 123
    assert not s.is_terminal


def test_update_without_uuid_needs_no_ack() -> None:
    body = {"status": {"task_id": {"value": "t"}, "state": "TASK_LOST", "reason": "REASON_RECONCILIATION"}}
    event = parse_event(record({"type": "UPDATE", "update": body}))
    assert isinstance(event, Update)
    assert not event.status.needs_ack
    assert event.status.is_terminal


@pytest.mark.parametrize(
    ("raw", "cls"),
    [
        ({"type": "HEARTBEAT"}, Heartbeat),
        ({"type": "RESCIND", "rescind": {"offer_id": {"value": "o1"}}}, Rescind),
        ({"type": "FAILURE", "failure": {"agent_id": {"value": "a1"}}}, Failure),
        ({"type": "ERROR", "error": {"message": "Framework failed over"}}, ErrorEvent),
        ({"type": "MESSAGE", "message": {"agent_id": {"value": "a"}, "data": "aGk="}}, Message),
        (
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": {"value": "F-0001"},
                    "heartbeat_interval_seconds": 15.0,
                    "master_info": {
                        "id": "m",
                        "ip": 1,
                        "port": 5050,
                        "address": {"ip": "127.0.0.1", "port": 5050},
                    },
                },
            },
            Subscribed,
        ),
    ],
)
def test_event_types(raw: dict[str, Any], cls: type) -> None:
    assert isinstance(parse_event(record(raw)), cls)


def test_subscribed_fields() -> None:
    raw = {
        "type": "SUBSCRIBED",
        "subscribed": {
            "framework_id": {"value": "F-1"},
            "master_info": {"address": {"ip": "10.1.1.1", "port": 5050}},
        },
    }
    event = parse_event(record(raw))
    assert isinstance(event, Subscribed)
    assert event.framework_id == "F-1"
    assert event.heartbeat_interval_seconds == 15.0
    assert event.master_info is not None and event.master_info.url() == "http://10.1.1.1:5050"


def test_error_message_is_nested() -> None:
    event = parse_event(record({"type": "ERROR", "error": {"message": "Framework has been removed"}}))
    assert isinstance(event, ErrorEvent)
    assert event.message == "Framework has been removed"


def test_unknown_type_passes_through() -> None:
    raw = {"type": "INVERSE_OFFERS", "inverse_offers": {"inverse_offers": []}}
    event = parse_event(record(raw))
    assert isinstance(event, UnknownEvent)
    assert event.type == "INVERSE_OFFERS" and event.raw == raw and event.problem is None


def test_known_type_with_bad_body_becomes_unknown_with_problem() -> None:
    event = parse_event(record({"type": "UPDATE", "update": {"status": {"state": "TASK_RUNNING"}}}))
    assert isinstance(event, UnknownEvent)
    assert event.type == "UPDATE"
    assert event.problem is not None and "task_id" in event.problem


@pytest.mark.parametrize("payload", [b"not json", b"[1,2]", b'{"no":"type"}', b'{"type": 3}', b"\xff\xfe"])
def test_garbage_records_raise(payload: bytes) -> None:
    with pytest.raises(MesosError):
        parse_event(payload)


def settings(**kw: Any) -> FrameworkSettings:
    base: dict[str, Any] = {"user": "juice", "name": "juice", "roles": ("workers",)}
    base.update(kw)
    return FrameworkSettings(**base)


def test_framework_info_defaults() -> None:
    info = framework_info(settings(hostname="h1", webui_url="http://h1:8080/"))
    assert info["roles"] == ["workers"]
    assert "role" not in info and "id" not in info and "principal" not in info
    assert info["failover_timeout"] == 604800.0
    assert info["checkpoint"] is True
    assert info["capabilities"] == [{"type": "MULTI_ROLE"}, {"type": "TASK_KILLING_STATE"}]
    assert info["hostname"] == "h1" and info["webui_url"] == "http://h1:8080/"


def test_framework_info_with_id_principal_and_partition_awareness() -> None:
    info = framework_info(settings(principal="p", partition_aware=True, labels={"team": "x"}), "F-7")
    assert info["id"] == {"value": "F-7"}
    assert info["principal"] == "p"
    assert {"type": "PARTITION_AWARE"} in info["capabilities"]
    assert info["labels"] == {"labels": [{"key": "team", "value": "x"}]}


@pytest.mark.parametrize("roles", [("",), ("a b",), ("-x",), (".",), ("a/../b",), ("r", "r")])
def test_bad_roles_are_refused(roles: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="role"):
        settings(roles=roles)


def task(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "task_id": "job1.v0003.1",
        "name": "job1 v0003",
        "agent_id": "M-S3",
        "cpus": 1.5,
        "mem": 2048,
        "disk": 0,
        "image": "registry.local/juice-worker:1",
        "command_value": None,
        "arguments": ["run"],
        "environment": {"JUICE_TASK": "{}"},
        "labels": {"job": "job1"},
        "kill_grace_seconds": 30,
    }
    base.update(kw)
    return docker_task_info(**base)


def test_docker_task_info_shape() -> None:
    info = task(disk=100, command_value="juice-worker")
    assert info["task_id"] == {"value": "job1.v0003.1"}
    assert info["agent_id"] == {"value": "M-S3"}
    assert info["container"] == {"type": "DOCKER", "docker": {"image": "registry.local/juice-worker:1"}}
    assert info["command"] == {
        "shell": False,
        "value": "juice-worker",
        "arguments": ["run"],
        "environment": {"variables": [{"name": "JUICE_TASK", "value": "{}"}]},
    }
    names = {r["name"]: r["scalar"]["value"] for r in info["resources"]}
    assert names == {"cpus": 1.5, "mem": 2048, "disk": 100}
    assert all(r["type"] == "SCALAR" for r in info["resources"])
    assert info["labels"] == {"labels": [{"key": "job", "value": "job1"}]}
    assert info["kill_policy"] == {"grace_period": {"nanoseconds": 30_000_000_000}}
    json.dumps(info)


def test_docker_task_info_without_value_or_disk() -> None:
    info = task()
    assert "value" not in info["command"]
    assert [r["name"] for r in info["resources"]] == ["cpus", "mem"]


@pytest.mark.parametrize(
    "bad",
    [
        {"task_id": ""},
        {"task_id": "a/b"},
        {"task_id": ".."},
        {"task_id": "x" * 256},
        {"task_id": "a\nb"},
        {"cpus": 0},
        {"mem": -1},
        {"cpus": float("nan")},
        {"agent_id": ""},
        {"image": ""},
        {"kill_grace_seconds": -1},
    ],
)
def test_docker_task_info_rejects_bad_input(bad: dict[str, Any]) -> None:
    with pytest.raises(MesosError):
        task(**bad)
