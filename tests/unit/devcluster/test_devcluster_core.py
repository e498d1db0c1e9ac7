"""Pure parts of the dev cluster: resources, allocation, validation, parsing, updates, reconcile."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from juice.devcluster import allocation, protocol, reconcile
from juice.devcluster.events import TaskStatus
from juice.devcluster.launch import LaunchFailed, command_argv, default_image_entrypoints, repository_name
from juice.devcluster.protocol import Call, FrameworkSpec
from juice.devcluster.recordio import encode_event, split_point
from juice.devcluster.resources import Resources, parse_resources
from juice.devcluster.state import ClusterState, Framework, Task, validate_framework
from juice.devcluster.updates import AckResult, StatusUpdateManager
from juice.devcluster.validation import validate_offers, validate_task
from juice.devcluster.wire import InvalidCall

AGENT = Resources.build({"cpus": 2, "mem": 1024, "disk": 100}, {"ports": [(31000, 32000)]})


def spec(framework_id: str | None = None, **info: Any) -> FrameworkSpec:
    body: dict[str, Any] = {"framework_info": {"user": "u", "name": "n", **info}}
    if framework_id is not None:
        body["framework_info"]["id"] = {"value": framework_id}
    return protocol.parse_subscribe(Call("SUBSCRIBE", framework_id, body)).framework


def cluster(agents: int = 2) -> tuple[ClusterState, Framework]:
    state = ClusterState("M")
    for _ in range(agents):
        state.add_agent("h", AGENT)
    framework = Framework(state.new_framework_id(), spec())
    state.frameworks[framework.id] = framework
    return state, framework


def task_json(task_id: str = "t1", agent_id: str = "M-S0", cpus: float = 1.0, **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}}],
        "command": {"value": "true"},
    }
    info.update(extra)
    return info


# ---------------------------------------------------------------- resources


def test_resource_arithmetic_and_containment() -> None:
    used = Resources.build({"cpus": 0.5, "mem": 100}, {"ports": [(31000, 31004)]})
    left = AGENT - used
    assert left.scalar("cpus") == 1.5 and left.ranges["ports"] == ((31005, 32000),)
    assert AGENT.contains(used) and not left.contains(used)
    assert (left + used) == AGENT
    assert Resources.build({"cpus": 0.1 + 0.2}).scalar("cpus") == 0.3  # thousandths, no float drift


def test_parse_resources_reports_semantic_problems_and_foreign_ones() -> None:
    negative = parse_resources([{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}], where="r")
    assert negative.invalid is not None and "negative" in negative.invalid
    reserved = parse_resources(
        [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "role": "prod"}], where="r"
    )
    assert not AGENT.contains(reserved.resources)
    with pytest.raises(InvalidCall):
        parse_resources([{"name": "cpus", "type": "SCALAR"}], where="r")  # scalar is required
    with pytest.raises(InvalidCall):
        parse_resources([{"name": "cpus", "type": 1, "scalar": {"value": 1}}], where="r")  # numeric enum


def test_offer_resource_json_formats() -> None:
    old = Resources.build({"cpus": 1}).to_json(allocation_role=None, old_format=True)
    assert old == [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}, "role": "*"}]
    multi = Resources.build({"cpus": 1}).to_json(allocation_role="r", old_format=False)
    assert multi == [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}, "allocation_info": {"role": "r"}}
    ]


# ---------------------------------------------------------------- allocation and filters


def test_allocation_offers_each_agent_once_and_holds_resources() -> None:
    state, _ = cluster()
    offers = allocation.allocate(state, now=0.0)
    assert [(o.id, o.agent_id) for o in offers] == [("M-O0", "M-S0"), ("M-O1", "M-S1")]
    assert allocation.allocate(state, now=1.0) == []  # outstanding offers hold everything
    state.remove_offer("M-O0")
    assert [o.agent_id for o in allocation.allocate(state, now=2.0)] == ["M-S0"]


def test_allocation_skips_disconnected_and_suppressed_frameworks() -> None:
    state, framework = cluster()
    framework.connected = False
    assert allocation.allocate(state, now=0.0) == []
    framework.connected = True
    allocation.suppress(framework, None)
    assert allocation.allocate(state, now=0.0) == []
    allocation.revive(framework, ("*",))
    assert len(allocation.allocate(state, now=0.0)) == 2


def test_filter_duration_subset_rule_and_revive() -> None:
    state, framework = cluster(agents=1)
    allocation.add_filter(framework, "*", "M-S0", AGENT, 5.0, now=0.0, allocation_interval=1.0)
    assert allocation.allocate(state, now=4.9) == []
    assert len(allocation.allocate(state, now=5.0)) == 1  # expired
    state.offers.clear()
    smaller = AGENT - Resources.build({"cpus": 1})
    allocation.add_filter(framework, "*", "M-S0", smaller, 5.0, now=10.0, allocation_interval=1.0)
    assert len(allocation.allocate(state, now=11.0)) == 1  # more than refused: not a subset
    state.offers.clear()
    allocation.add_filter(framework, "*", "M-S0", AGENT, 5.0, now=20.0, allocation_interval=1.0)
    allocation.revive(framework, None)
    assert len(allocation.allocate(state, now=21.0)) == 1


@pytest.mark.parametrize(
    ("refuse", "interval", "blocked_until"),
    [(0.0, 1.0, None), (-1.0, 1.0, 5.0), (0.5, 2.0, 2.0), (10.0, 1.0, 10.0)],
)
def test_filter_refuse_seconds_rules(refuse: float, interval: float, blocked_until: float | None) -> None:
    _, framework = cluster(agents=1)
    created = allocation.add_filter(
        framework, "*", "M-S0", AGENT, refuse, now=0.0, allocation_interval=interval
    )
    assert (None if created is None else created.expires_at) == blocked_until


# ---------------------------------------------------------------- validation


def test_offer_validation_errors() -> None:
    state, framework = cluster()
    other = Framework(state.new_framework_id(), spec())
    state.frameworks[other.id] = other
    offers = allocation.allocate(state, now=0.0)
    mine = [o.id for o in offers if o.framework_id == framework.id]
    theirs = [o.id for o in offers if o.framework_id == other.id]
    assert validate_offers(state, framework.id, mine) is None
    assert "Duplicate" in (validate_offers(state, framework.id, mine * 2) or "")
    assert "no longer valid" in (validate_offers(state, framework.id, ["M-O99"]) or "")
    assert "invalid framework" in (validate_offers(state, framework.id, theirs) or "")
    assert validate_offers(state, framework.id, []) == "No offers specified"


def test_mixed_agent_offers_are_invalid() -> None:
    state, framework = cluster()
    offers = allocation.allocate(state, now=0.0)
    problem = validate_offers(state, framework.id, [o.id for o in offers])
    assert problem == "Aggregated offers must belong to one single agent"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (task_json(task_id="a/b"), "is invalid"),
        (task_json(task_id=".."), "is invalid"),
        (task_json(agent_id="M-S1"), "invalid agent"),
        (task_json(cpus=0), "no resources"),
        (task_json(cpus=3), "more resources"),
        (task_json(command=None), "at least one (but not both)"),
        (task_json(executor={"executor_id": {"value": "e"}}), "at least one (but not both)"),
        (task_json(command={"shell": True}), "Shell command"),
        (task_json(kill_policy={"grace_period": {"nanoseconds": -1}}), "non-negative"),
        (task_json(container={"type": "DOCKER"}), "DockerInfo"),
        (
            task_json(
                resources=[
                    {
                        "name": "cpus",
                        "type": "SCALAR",
                        "scalar": {"value": 1},
                        "allocation_info": {"role": "other"},
                    }
                ]
            ),
            "more resources",
        ),
    ],
)
def test_task_validation(info: dict[str, Any], expected: str) -> None:
    _, framework = cluster()
    info = {k: v for k, v in info.items() if v is not None}
    task = protocol.parse_task(info)
    problem = validate_task(framework, task, agent_id="M-S0", role="*", remaining=AGENT, pending_ids=set())
    assert problem is not None and expected in problem


def test_valid_task_and_duplicate_ids() -> None:
    _, framework = cluster()
    task = protocol.parse_task(task_json())
    kwargs: dict[str, Any] = {"agent_id": "M-S0", "role": "*", "remaining": AGENT}
    assert validate_task(framework, task, pending_ids=set(), **kwargs) is None
    assert "duplicate" in (validate_task(framework, task, pending_ids={"t1"}, **kwargs) or "")
    framework.tasks["t1"] = Task("t1", framework.id, "M-S0", "*", task.resources.resources, task)
    assert "duplicate" in (validate_task(framework, task, pending_ids=set(), **kwargs) or "")


def test_framework_validation() -> None:
    assert validate_framework(spec(roles=["a"]), ()) is not None  # roles without MULTI_ROLE
    multi = [{"type": "MULTI_ROLE"}]
    assert validate_framework(spec(roles=["a"], capabilities=multi), ()) is None
    assert validate_framework(spec(role="a", capabilities=multi), ()) is not None
    assert validate_framework(spec(roles=["-bad"], capabilities=multi), ()) is not None
    assert validate_framework(spec(), ("other",)) is not None
    assert spec(capabilities=[{"type": "NO_SUCH_CAPABILITY"}]).capabilities == frozenset()


# ---------------------------------------------------------------- call parsing


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b"{}",
        json.dumps({"type": "KILL", "framework_id": {"value": "f"}}).encode(),
        json.dumps({"type": "REVIVE"}).encode(),
        json.dumps({"type": "REVIVE", "framework_id": {}}).encode(),
    ],
)
def test_parse_call_rejects(payload: bytes) -> None:
    with pytest.raises(InvalidCall):
        protocol.parse_call(payload)


def test_parse_call_details() -> None:
    call = protocol.parse_call(b'{"type":"DECLINE","framework_id":{"value":"f"},"decline":{"offer_ids":[]}}')
    assert protocol.parse_decline(call) == ((), 5.0)  # default refuse_seconds
    ack = Call("ACKNOWLEDGE", "f", {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "AAAA"})
    with pytest.raises(InvalidCall):
        protocol.parse_acknowledge(ack)
    assert protocol.parse_roles(Call("REVIVE", "f", {"roles": []})) is None
    kill = protocol.parse_kill(
        Call("KILL", "f", {"task_id": {"value": "t"}, "kill_policy": {"grace_period": {"nanoseconds": "5"}}})
    )
    assert kill.grace_ns == 5


# ---------------------------------------------------------------- status updates


def status(state: str, uuid: bytes) -> TaskStatus:
    return TaskStatus("t", state, "SOURCE_EXECUTOR", "a", 0.0, uuid=uuid)


def test_update_stream_one_in_flight_and_retries() -> None:
    manager = StatusUpdateManager(retry_initial=10.0, retry_max=25.0)
    key = ("f", "t")
    assert manager.enqueue(key, status("TASK_STARTING", b"1" * 16), now=0.0) is not None
    assert manager.enqueue(key, status("TASK_FINISHED", b"2" * 16), now=0.0) is None
    assert manager.due(now=9.9) == []
    assert [s.state for _, s in manager.due(now=10.0)] == ["TASK_STARTING"]
    assert manager.due(now=29.9) == []  # backoff doubled to 20 s
    assert len(manager.due(now=30.0)) == 1
    assert manager.due(now=54.9) == [] and len(manager.due(now=55.0)) == 1  # capped at 25 s
    assert manager.acknowledge(key, b"2" * 16, now=60.0).result is AckResult.IGNORED
    ack = manager.acknowledge(key, b"1" * 16, now=60.0)
    assert ack.result is AckResult.ACKED and ack.next_status is not None
    assert ack.next_status.state == "TASK_FINISHED"
    assert manager.acknowledge(key, b"2" * 16, now=61.0).result is AckResult.TERMINAL_ACKED
    assert key not in manager


def test_resend_all_resets_backoff() -> None:
    manager = StatusUpdateManager(retry_initial=10.0, retry_max=600.0)
    manager.enqueue(("f", "t"), status("TASK_RUNNING", b"1" * 16), now=0.0)
    manager.due(now=10.0)
    assert [s.state for _, s in manager.resend_all("f", now=12.0)] == ["TASK_RUNNING"]
    assert manager.due(now=21.9) == [] and len(manager.due(now=22.0)) == 1


# ---------------------------------------------------------------- reconciliation


def test_reconcile_answers() -> None:
    state, framework = cluster()
    task = protocol.parse_task(task_json())
    framework.tasks["t1"] = Task(
        "t1",
        framework.id,
        "M-S0",
        "*",
        task.resources.resources,
        task,
        state="TASK_FINISHED",
        status_update_state="TASK_RUNNING",
    )
    state.agents["M-S1"].reachable = False
    answers = reconcile.explicit(
        state, framework, [("t1", None), ("x", "M-S0"), ("y", "M-S1"), ("z", None)], now=1.0
    )
    assert [a.state for a in answers] == ["TASK_RUNNING", "TASK_LOST", "TASK_LOST", "TASK_LOST"]
    assert all(a.uuid is None and a.reason == "REASON_RECONCILIATION" for a in answers)
    framework.spec = spec(capabilities=[{"type": "PARTITION_AWARE"}])
    answers = reconcile.explicit(state, framework, [("x", "M-S0"), ("y", "M-S1"), ("z", None)], now=1.0)
    assert [a.state for a in answers] == ["TASK_GONE", "TASK_UNREACHABLE", "TASK_UNKNOWN"]
    state.recovering_agents = {"M-S0"}
    assert reconcile.explicit(state, framework, [("x", "M-S0"), ("z", None)], now=1.0) == []
    assert [a.task_id for a in reconcile.implicit(framework, now=1.0)] == ["t1"]


# ---------------------------------------------------------------- launch rules and framing


def test_docker_and_mesos_argv_rules() -> None:
    entrypoints = {"juice-worker": ["/ep", "--flag"]}
    docker = {"type": "DOCKER", "docker": {"image": "reg:5000/team/juice-worker:1.4"}}
    plain = protocol.parse_task(
        task_json(command={"shell": False, "value": "v", "arguments": ["a"]}, container=docker)
    )
    assert command_argv(plain, entrypoints) == (("/ep", "--flag", "v", "a"), None)
    shell = protocol.parse_task(task_json(command={"value": "echo hi"}, container=docker))
    assert command_argv(shell, entrypoints) == (("/bin/sh", "-c", "echo hi"), None)
    mesos = protocol.parse_task(
        task_json(command={"shell": False, "value": "/bin/echo", "arguments": ["echo", "x"]})
    )
    assert command_argv(mesos, entrypoints) == (("echo", "x"), "/bin/echo")
    unknown = protocol.parse_task(
        task_json(command={"shell": False}, container={"type": "DOCKER", "docker": {"image": "nope"}})
    )
    with pytest.raises(LaunchFailed, match="nope"):
        command_argv(unknown, entrypoints)
    assert repository_name("a/b:1@sha256:00") == "a/b" and repository_name("host:5000/b") == "host:5000/b"
    assert default_image_entrypoints()["juice-worker"] == [sys.executable, "-m", "workers"]


def test_recordio_encoding_and_split_points() -> None:
    record = encode_event({"type": "HEARTBEAT"})
    assert record == b'20\n{"type":"HEARTBEAT"}'
    assert {split_point(record, n) for n in range(50)} <= set(range(1, len(record)))
    assert len({split_point(record, n) for n in range(50)}) > 3
