"""The dev cluster over real HTTP: stream, status codes, offers, launches, acks, kills, teardown."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from devcluster_support import JSON, Scheduler, task_info, wait_until

from juice.devcluster import DevClusterConfig, DevClusterThread
from juice.local.procs import pid_alive

MakeScheduler = Callable[..., Scheduler]
pytestmark = pytest.mark.integration


def offer_ids(offers: list[dict[str, Any]]) -> list[str]:
    return [o["id"]["value"] for o in offers]


def subscribe_body(**info: Any) -> dict[str, Any]:
    return {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n", **info}}}


def test_subscribe_stream_shape(cluster: DevClusterThread, make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    assert stream.headers["content-type"] == "application/json"
    assert stream.headers["transfer-encoding"] == "chunked"
    assert re.fullmatch(r"[0-9a-f-]{36}", stream.stream_id)
    first, second = stream.events[0], stream.next("HEARTBEAT")
    assert first["type"] == "SUBSCRIBED" and second["type"] == "HEARTBEAT"
    subscribed = first["subscribed"]
    master_id = subscribed["master_info"]["id"]
    assert subscribed["framework_id"]["value"] == f"{master_id}-0000"
    assert subscribed["heartbeat_interval_seconds"] == 0.5
    assert subscribed["master_info"]["address"]["port"] == int(cluster.url.rsplit(":", 1)[1])
    stream.next("HEARTBEAT")  # the periodic one
    offers = scheduler.offers(2)
    assert {o["agent_id"]["value"] for o in offers} == {f"{master_id}-S0", f"{master_id}-S1"}
    assert all(re.fullmatch(rf"{master_id}-O\d+", o["id"]["value"]) for o in offers)
    assert stream.reader.split_records > 0  # some records arrived in two chunks


def test_offer_formats(make_scheduler: MakeScheduler) -> None:
    old = make_scheduler()
    old.subscribe()
    offer = old.offers(1)[0]
    assert "allocation_info" not in offer
    cpus = next(r for r in offer["resources"] if r["name"] == "cpus")
    assert cpus == {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0}, "role": "*"}
    ports = next(r for r in offer["resources"] if r["name"] == "ports")
    assert ports["ranges"] == {"range": [{"begin": 31000, "end": 32000}]}
    assert {"name": "rack", "type": "TEXT", "text": {"value": "r1"}} in offer["attributes"]
    old.call("TEARDOWN")

    multi = make_scheduler(capabilities=("MULTI_ROLE",), roles=["workers"])
    multi.subscribe()
    offer = multi.offers(1)[0]
    assert offer["allocation_info"] == {"role": "workers"}
    assert all(r["allocation_info"] == {"role": "workers"} and r["role"] == "*" for r in offer["resources"])


def test_task_finishes_and_acks_release_updates_one_by_one(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    scheduler.launch_one("t-ok", "exit 0")
    starting = stream.update("t-ok", "TASK_STARTING")
    assert starting["source"] == "SOURCE_EXECUTOR" and len(starting["uuid"]) == 24
    # The task finishes, but its later updates wait for the ACK of TASK_STARTING.
    wait_until(lambda: cluster.state()["frameworks"][0]["tasks"][0]["state"] == "TASK_FINISHED")
    assert [u["state"] for u in stream.updates("t-ok")] == ["TASK_STARTING"]
    scheduler.ack(starting)
    running = stream.update("t-ok", "TASK_RUNNING")
    assert [u["state"] for u in stream.updates("t-ok")] == ["TASK_STARTING", "TASK_RUNNING"]
    scheduler.ack(running)
    finished = stream.update("t-ok", "TASK_FINISHED")
    assert finished["message"] == "Command exited with status 0"
    assert cluster.state()["frameworks"][0]["tasks"][0]["id"] == "t-ok"  # kept until the terminal ACK
    scheduler.ack(finished)
    wait_until(lambda: cluster.state()["frameworks"][0]["tasks"] == [])


def test_failing_task_reports_exit_status(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    scheduler.accept([offer["id"]["value"]], [task_info("t-bad", offer["agent_id"]["value"], "exit 3")])
    for state in ("TASK_STARTING", "TASK_RUNNING"):
        scheduler.ack(stream.update("t-bad", state))
    failed = stream.update("t-bad", "TASK_FAILED")
    assert failed["message"] == "Command exited with status 3"
    assert failed["source"] == "SOURCE_EXECUTOR"


def test_kill_with_killing_state_and_grace_escalation(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler(capabilities=("TASK_KILLING_STATE",))
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    agent_id = offer["agent_id"]["value"]
    stubborn = task_info("t-kill", agent_id, "trap '' TERM; sleep 60")
    scheduler.accept([offer["id"]["value"]], [stubborn])
    scheduler.ack(stream.update("t-kill", "TASK_STARTING"))
    scheduler.ack(stream.update("t-kill", "TASK_RUNNING"))
    (pid,) = cluster.task_pids()
    kill = {"task_id": {"value": "t-kill"}, "kill_policy": {"grace_period": {"nanoseconds": 200_000_000}}}
    assert scheduler.call("KILL", {**kill, "agent_id": {"value": "wrong"}}).status_code == 202
    assert scheduler.call("KILL", kill).status_code == 202
    killing = stream.update("t-kill", "TASK_KILLING")
    assert [u["state"] for u in stream.updates("t-kill")][
        -1
    ] == "TASK_KILLING"  # the wrong-agent KILL did nothing
    scheduler.ack(killing)
    killed = stream.update("t-kill", "TASK_KILLED")
    assert killed["message"] == f"Command terminated with signal {signal.strsignal(signal.SIGKILL)}"
    wait_until(lambda: not pid_alive(pid))


def test_kill_of_unknown_task_is_a_reconciliation(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    assert scheduler.call("KILL", {"task_id": {"value": "nope"}}).status_code == 202
    status = stream.update("nope")
    assert status["state"] == "TASK_LOST"
    assert status["reason"] == "REASON_RECONCILIATION" and status["source"] == "SOURCE_MASTER"
    assert "uuid" not in status


def test_decline_filter_default_and_revive(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    first = {o["agent_id"]["value"]: o["id"]["value"] for o in scheduler.offers(2)}
    filtered_agent, open_agent = sorted(first)
    scheduler.decline([first[filtered_agent]])  # no filters given: the default 5 s filter applies
    scheduler.decline([first[open_agent]], refuse=0)  # no filter
    # Two allocation cycles re-offer the open agent; the filtered one is not offered meanwhile.
    for _ in range(2):
        again = stream.next("OFFERS")["offers"]["offers"]
        assert [o["agent_id"]["value"] for o in again] == [open_agent]
        scheduler.decline(offer_ids(again), refuse=0)
    assert scheduler.call("REVIVE").status_code == 202
    stream.next("OFFERS", lambda e: e["offers"]["offers"][0]["agent_id"]["value"] == filtered_agent)


def test_suppress_and_suppressed_roles(cluster: DevClusterThread, make_scheduler: MakeScheduler) -> None:
    quiet = make_scheduler(name="quiet")
    quiet_stream = quiet.subscribe(suppressed_roles=["*"])
    assert cluster.state()["frameworks"][0]["suppressed_roles"] == ["*"]
    witness = make_scheduler(name="witness")
    witness.subscribe()
    witness.offers(2)  # every agent went to the witness
    assert "OFFERS" not in [e["type"] for e in quiet_stream.events]
    witness.call("SUPPRESS", {"roles": ["*"]})
    quiet.call("REVIVE", {"roles": ["*"]})
    witness.decline(offer_ids(witness.events.events[-1]["offers"]["offers"]), refuse=0)
    witness_offers = [e for e in witness.events.events if e["type"] == "OFFERS"]
    quiet.offers(1)
    assert [e for e in witness.events.events if e["type"] == "OFFERS"] == witness_offers


def test_invalid_offers_lose_tasks_without_uuid(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    agent_id = offer["agent_id"]["value"]
    scheduler.accept(["no-such-offer"], [task_info("t-lost", agent_id)])
    lost = stream.update("t-lost")
    assert lost["state"] == "TASK_LOST" and lost["reason"] == "REASON_INVALID_OFFERS"
    assert lost["source"] == "SOURCE_MASTER" and "uuid" not in lost
    assert lost["message"].startswith("Task launched with invalid offers: ")
    scheduler.accept([offer["id"]["value"]] * 2, [task_info("t-dup", agent_id)])
    assert "Duplicate offer" in stream.update("t-dup", "TASK_LOST")["message"]

    aware = make_scheduler(name="aware", capabilities=("PARTITION_AWARE",))
    aware_stream = aware.subscribe()
    aware.accept(["no-such-offer"], [task_info("t-drop", agent_id)])
    assert aware_stream.update("t-drop")["state"] == "TASK_DROPPED"


def test_overcommit_is_task_error_and_siblings_launch(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    agent_id = offer["agent_id"]["value"]
    tasks = [
        task_info("t-fits", agent_id, cpus=1.5),
        task_info("t-greedy", agent_id, cpus=1.0),
        task_info("t-other-agent", "some-other-agent", cpus=0.1),
        task_info("t-fits", agent_id, cpus=0.1),
    ]
    scheduler.accept([offer["id"]["value"]], tasks)
    greedy = stream.update("t-greedy")
    assert greedy["state"] == "TASK_ERROR" and greedy["reason"] == "REASON_TASK_INVALID"
    assert "more resources" in greedy["message"] and "than available" in greedy["message"]
    assert "uuid" not in greedy and greedy["source"] == "SOURCE_MASTER"
    assert "invalid agent" in stream.update("t-other-agent", "TASK_ERROR")["message"]
    assert "duplicate ID" in stream.update("t-fits", "TASK_ERROR")["message"]
    assert "uuid" in stream.update("t-fits", "TASK_STARTING")


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, subscribe_body(), 400),
        ({"Content-Type": "text/plain"}, subscribe_body(), 415),
        (JSON, b"{not json", 400),
        (JSON, {"type": "SUBSCRIBE"}, 400),
        (JSON, {"type": 1, "subscribe": {}}, 400),
        (JSON, {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u"}}}, 400),
        ({**JSON, "Mesos-Stream-Id": "x"}, subscribe_body(), 400),
        (JSON, {**subscribe_body(id={"value": "a"}), "framework_id": {"value": "b"}}, 400),
        (JSON, subscribe_body(id={"value": "a"}), 400),
        (JSON, {"type": "TEARDOWN", "framework_id": {"value": "unknown"}}, 400),
        (JSON, {"type": "TEARDOWN"}, 400),
    ],
)
def test_request_validation_status_codes(
    cluster: DevClusterThread, headers: dict[str, str], body: Any, status: int
) -> None:
    content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).read()
    response = httpx.post(f"{cluster.url}/api/v1/scheduler", content=content, headers=headers)
    assert response.status_code == status, response.text


def test_method_not_allowed(cluster: DevClusterThread) -> None:
    response = httpx.get(f"{cluster.url}/api/v1/scheduler")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_stream_id_and_ack_checks(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    scheduler.subscribe()
    assert scheduler.call("REVIVE", **{"Mesos-Stream-Id": "not-mine"}).status_code == 400
    missing = scheduler.http.post(
        "/api/v1/scheduler",
        json={"type": "REVIVE", "framework_id": {"value": scheduler.framework_id}},
        headers=JSON,
    )
    assert missing.status_code == 400
    bad_uuid = {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "AAAA"}
    assert scheduler.call("ACKNOWLEDGE", bad_uuid).status_code == 400
    stale = {**bad_uuid, "uuid": "AAAAAAAAAAAAAAAAAAAAAA=="}
    assert scheduler.call("ACKNOWLEDGE", stale).status_code == 202
    assert scheduler.call("KILL").status_code == 400  # 'kill' body missing


def test_disconnected_framework_gets_403_then_failover(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler(failover_timeout=3600.0)
    old = scheduler.subscribe()
    old_stream_id = old.stream_id
    old.close()
    wait_until(lambda: not cluster.state()["frameworks"][0]["connected"])
    assert scheduler.call("REVIVE", **{"Mesos-Stream-Id": old_stream_id}).status_code == 403
    new = scheduler.subscribe()
    assert new.events[0]["subscribed"]["framework_id"]["value"] == scheduler.framework_id
    assert new.stream_id != old_stream_id
    assert scheduler.call("REVIVE").status_code == 202


def test_resubscribe_takes_over_the_open_stream(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler(failover_timeout=3600.0)
    old = scheduler.subscribe()
    scheduler.subscribe()
    error = old.next("ERROR")
    assert error["error"] == {"message": "Framework failed over"}
    old.wait_ended()
    assert scheduler.call("REVIVE").status_code == 202


def test_teardown_kills_processes_and_forgets_the_framework(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler(failover_timeout=3600.0)
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    scheduler.accept([offer["id"]["value"]], [task_info("t-long", offer["agent_id"]["value"], "sleep 60")])
    scheduler.ack(stream.update("t-long", "TASK_STARTING"))
    stream.update("t-long", "TASK_RUNNING")
    (pid,) = cluster.task_pids()
    assert scheduler.call("TEARDOWN").status_code == 202
    stream.wait_ended()
    wait_until(lambda: not pid_alive(pid))
    assert stream.updates("t-long")[-1]["state"] == "TASK_RUNNING"  # no updates after teardown
    state = cluster.state()
    assert state["frameworks"] == [] and state["completed_frameworks"][0]["id"] == scheduler.framework_id
    refused = scheduler.subscribe()
    assert refused.next("ERROR")["error"]["message"] == "Framework has been removed"
    refused.wait_ended()


def test_disconnect_without_failover_timeout_removes_framework(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler()
    scheduler.subscribe().close()
    wait_until(lambda: cluster.state()["completed_frameworks"])
    assert cluster.state()["frameworks"] == []


def test_reconcile_explicit_and_implicit(cluster: DevClusterThread, make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler(capabilities=("PARTITION_AWARE",))
    stream = scheduler.subscribe()
    _, agent_id = scheduler.launch_one("t-rec", "sleep 60")
    stream.update("t-rec", "TASK_STARTING")  # not acked: reconciliation reports this state
    tasks = [
        {"task_id": {"value": "t-rec"}},
        {"task_id": {"value": "ghost"}, "agent_id": {"value": agent_id}},
        {"task_id": {"value": "phantom"}},
    ]
    scheduler.call("RECONCILE", {"tasks": tasks})
    known = stream.update("t-rec", "TASK_STARTING")
    assert known["reason"] == "REASON_RECONCILIATION" and "uuid" not in known
    assert stream.update("ghost")["state"] == "TASK_GONE"
    assert stream.update("phantom")["state"] == "TASK_UNKNOWN"
    scheduler.call("RECONCILE", {"tasks": []})
    assert stream.update("t-rec")["source"] == "SOURCE_MASTER"


def test_docker_entrypoint_map_and_environment(tmp_path: Path) -> None:
    script = "import json, os, sys; "
    script += "json.dump({'argv': sys.argv[1:], 'env': dict(os.environ)}, open('out.json', 'w'))"
    config = DevClusterConfig(
        agents=1,
        allocation_interval=0.2,
        work_dir=tmp_path,
        image_entrypoints={"tool": [sys.executable, "-c", script]},
    )
    with DevClusterThread(config) as cluster:
        scheduler = Scheduler(cluster.url, capabilities=("MULTI_ROLE",), roles=["workers"])
        try:
            stream = scheduler.subscribe()
            offer = scheduler.offers(1)[0]
            agent_id = offer["agent_id"]["value"]
            good = task_info("t-docker", agent_id)
            good["command"] = {
                "shell": False,
                "value": "first",
                "arguments": ["--x", "1"],
                "environment": {"variables": [{"name": "QUEUE", "value": "q1"}]},
            }
            good["container"] = {"type": "DOCKER", "docker": {"image": "registry.local:5000/tool:1.4"}}
            bad = task_info("t-noimage", agent_id)
            bad["command"] = {"shell": False}
            bad["container"] = {"type": "DOCKER", "docker": {"image": "unknown/image:2"}}
            scheduler.accept([offer["id"]["value"]], [good, bad])
            failed = stream.update("t-noimage", "TASK_FAILED")
            assert (
                failed["reason"] == "REASON_CONTAINER_LAUNCH_FAILED" and "unknown/image" in failed["message"]
            )
            scheduler.ack(stream.update("t-docker", "TASK_STARTING"))
            scheduler.ack(stream.update("t-docker", "TASK_RUNNING"))
            stream.update("t-docker", "TASK_FINISHED")
            (out,) = tmp_path.glob("agents/*/frameworks/*/executors/t-docker/runs/*/out.json")
            seen = json.loads(out.read_text())
            assert seen["argv"] == ["first", "--x", "1"]
            env = seen["env"]
            assert env["QUEUE"] == "q1" and env["MESOS_SANDBOX"] == str(out.parent)
            assert env["MESOS_ALLOCATION_ROLE"] == "workers" and env["MESOS_CONTAINER_NAME"].startswith(
                "mesos-"
            )
            assert env["PATH"] == os.environ["PATH"]
            assert (out.parent / "stdout").exists() and (out.parent / "stderr").exists()
        finally:
            scheduler.close()


def test_master_state_version_health(cluster: DevClusterThread, make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    assert httpx.get(f"{cluster.url}/version").json()["version"] == "1.11.0"
    assert httpx.get(f"{cluster.url}/health").status_code == 200
    state = httpx.get(f"{cluster.url}/master/state").json()
    (framework,) = state["frameworks"]
    assert framework["id"] == scheduler.framework_id and framework["active"] and framework["connected"]
    assert framework["roles"] == ["*"]
    assert offer["id"]["value"] in [o["id"] for o in framework["offers"]]
    agent = next(a for a in state["agents"] if a["id"] == offer["agent_id"]["value"])
    assert agent["resources"]["cpus"] == 2.0 and agent["offered_resources"]["cpus"] == 2.0
    assert agent["used_resources"]["cpus"] == 0.0


def test_stop_kills_every_task_process(tmp_path: Path) -> None:
    config = DevClusterConfig(agents=1, allocation_interval=0.2)
    cluster = DevClusterThread(config).start()
    work_dir = cluster.work_dir
    scheduler = Scheduler(cluster.url)
    try:
        stream = scheduler.subscribe()
        offer = scheduler.offers(1)[0]
        scheduler.accept(
            [offer["id"]["value"]], [task_info("t-orphan", offer["agent_id"]["value"], "sleep 60 & sleep 60")]
        )
        stream.update("t-orphan", "TASK_STARTING")
        (pid,) = wait_until(cluster.task_pids)
    finally:
        scheduler.close()
        cluster.stop()
    assert not pid_alive(pid)
    assert not work_dir.exists()
