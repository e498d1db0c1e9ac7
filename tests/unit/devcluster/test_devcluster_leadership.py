"""The dev master without HTTP: redirects, state document, gone agents, restart and re-registration
(driven on a Master with a fake clock in simulated-task mode), and a kill that beats the process start."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from juice.devcluster import failures, protocol, reconcile
from juice.devcluster.agent import AgentRuntime, Key
from juice.devcluster.events import master_info
from juice.devcluster.http import redirect_to_leader
from juice.devcluster.launch import LaunchPlan
from juice.devcluster.master import Master
from juice.devcluster.protocol import Call
from juice.devcluster.resources import Resources
from juice.devcluster.settings import MasterSettings
from juice.devcluster.state import ClusterState, Framework
from juice.devcluster.stateview import master_state
from juice.devcluster.stream import Subscription
from juice.devcluster.zookeeper import parse_master_info

AGENT = Resources.build({"cpus": 2, "mem": 1024})


def test_redirect_is_protocol_relative_or_503() -> None:
    state = ClusterState("M")
    master = Master(MasterSettings(work_dir=Path("."), image_entrypoints={}), state, leading=False)
    response = redirect_to_leader(master, "/api/v1/scheduler")
    assert response.status_code == 503 and response.body == b"No leader elected"
    master.leader = master_info("L", "127.0.0.2", 5051)
    response = redirect_to_leader(master, "/api/v1/scheduler")
    assert response.status_code == 307
    assert response.headers["location"] == "//127.0.0.2:5051/api/v1/scheduler"


def test_parse_master_info_needs_a_json_object_with_a_port() -> None:
    info = master_info("L", "127.0.0.1", 5050)
    assert parse_master_info(json.dumps(info).encode()) == info
    assert info["ip"] == 16777343 and info["pid"] == "master@127.0.0.1:5050"
    for data in (None, b"", b"not json", b"[1]", b'{"port": "5050"}', b"\xff"):
        assert parse_master_info(data) is None


def test_state_document_leader_fields() -> None:
    state = ClusterState("M")
    standby = master_state(state, host="127.0.0.1", port=5051, leader=master_info("L", "127.0.0.1", 5050))
    assert standby["elected"] is False and "elected_time" not in standby
    assert standby["leader"] == "master@127.0.0.1:5050" and standby["leader_info"]["id"] == "L"
    leading = master_state(state, host="127.0.0.1", port=5050, elected_at=12.5)
    assert leading["elected"] is True and leading["elected_time"] == 12.5 and "leader" not in leading


def test_reconcile_on_a_gone_agent() -> None:
    state = ClusterState("M")
    agent = state.add_agent("h", AGENT)
    agent.reachable, agent.gone = False, True
    info = {"framework_info": {"user": "u", "name": "n", "capabilities": [{"type": "PARTITION_AWARE"}]}}
    aware = Framework("F", protocol.parse_subscribe(Call("SUBSCRIBE", None, info)).framework)
    (answer,) = reconcile.explicit(state, aware, [("t", agent.id)], now=1.0)
    assert answer.state == "TASK_GONE_BY_OPERATOR" and answer.reason == "REASON_RECONCILIATION"


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _events(sub: Subscription) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while not sub._queue.empty():
        chunk = sub._queue.get_nowait()
        if chunk is not None:
            events.append(json.loads(chunk.split(b"\n", 1)[1]))
    return events


def _subscribe(master: Master, framework_id: str | None = None) -> Subscription:
    info: dict[str, Any] = {"user": "u", "name": "n", "failover_timeout": 3600.0}
    body: dict[str, Any] = {"framework_info": info}
    if framework_id is not None:
        info["id"] = {"value": framework_id}
    sub = Subscription("stream", split_records=False)
    master.subscribe(Call("SUBSCRIBE", framework_id, body), sub)
    return sub


async def test_restart_holds_tasks_and_standby_makes_no_offers(tmp_path: Path) -> None:
    clock = _Clock()
    settings = MasterSettings(
        work_dir=tmp_path, image_entrypoints={}, simulate_seconds=3600.0, agent_reregister_seconds=5.0
    )
    state = ClusterState("M")
    state.add_agent("h", AGENT)
    master = Master(settings, state, clock=clock, wallclock=clock)
    sub = _subscribe(master)
    master.tick()
    (offers_event,) = [e for e in _events(sub) if e["type"] == "OFFERS"]
    offer = offers_event["offers"]["offers"][0]
    framework = next(iter(state.frameworks.values()))
    task = {
        "name": "t",
        "task_id": {"value": "t"},
        "agent_id": offer["agent_id"],
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}],
        "command": {"value": "true"},
    }
    accept = Call("ACCEPT", framework.id, {"offer_ids": [offer["id"]], "operations": []})
    accept.body["operations"] = [{"type": "LAUNCH", "launch": {"task_infos": [task]}}]
    master.accept(framework, protocol.parse_accept(accept))
    await asyncio.sleep(0)

    failures.restart_master(master)
    assert sub.closed and state.frameworks == {} and list(state.held_frameworks) == [framework.id]
    assert state.recovering_agents == {offer["agent_id"]["value"]}
    again = _subscribe(master, framework.id)
    master.tick()
    assert [e["type"] for e in _events(again)] == ["SUBSCRIBED", "HEARTBEAT"]  # no offers, no updates
    clock.now += 5.0
    master.tick()
    assert state.recovering_agents == set() and state.held_frameworks == {}
    assert list(state.frameworks[framework.id].tasks) == ["t"]
    resent = [e["update"]["status"]["state"] for e in _events(again) if e["type"] == "UPDATE"]
    assert resent == ["TASK_STARTING"]  # the unacknowledged head, at once

    master.set_leadership(False, master_info("L", "127.0.0.1", 5050))
    assert again.closed and not master.leading and state.offers == {}
    master.request_allocation()
    clock.now += 10.0
    master.tick()
    await asyncio.sleep(0)
    assert state.offers == {}  # a standby makes no offers
    await master.stop()


async def test_kill_before_the_process_started_is_killed_during_launch(tmp_path: Path) -> None:
    reports: list[tuple[str, str | None]] = []
    done = asyncio.Event()

    def report(key: Key, state: str, source: str, reason: str | None, message: str | None) -> None:
        reports.append((state, reason))
        if state == "TASK_KILLED":
            done.set()

    runtime = AgentRuntime(report)
    plan = LaunchPlan(("sleep", "60"), None, dict(os.environ), tmp_path / "sandbox", "mesos-x")
    runtime.launch(("F", "t"), plan, max_completion=None)
    assert runtime.kill(("F", "t"), 3.0, killing_state=False)  # before the loop ran the launch
    await asyncio.wait_for(done.wait(), 30)
    assert reports[-1] == ("TASK_KILLED", "REASON_TASK_KILLED_DURING_LAUNCH")
    assert "TASK_RUNNING" not in [state for state, _ in reports]
    await runtime.shutdown()
