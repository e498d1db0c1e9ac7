"""Master restart, agent loss and mark-gone, ACK modes: driven through the dev-only `/dev/...` routes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from devcluster_support import Scheduler, task_info, wait_until

from juice.devcluster import DevClusterConfig, DevClusterThread
from juice.local.procs import pid_alive

MakeScheduler = Callable[..., Scheduler]
pytestmark = pytest.mark.integration


def dev(cluster: DevClusterThread, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(f"{cluster.url}/dev/{path}", json=body)


def reconcile(scheduler: Scheduler, task_id: str, agent_id: str | None = None) -> None:
    task: dict[str, Any] = {"task_id": {"value": task_id}}
    if agent_id is not None:
        task["agent_id"] = {"value": agent_id}
    assert scheduler.call("RECONCILE", {"tasks": [task]}).status_code == 202


@pytest.fixture
def slow_reregister() -> Iterator[DevClusterThread]:
    config = DevClusterConfig(
        agents=2,
        cpus=2.0,
        mem=1024.0,
        heartbeat_interval=0.5,
        allocation_interval=0.2,
        update_retry_initial=30.0,
        agent_reregister_seconds=600.0,  # tests end the window with /dev/agents/reregister
    )
    with DevClusterThread(config) as running:
        yield running


def test_master_restart_keeps_tasks_until_agents_reregister(slow_reregister: DevClusterThread) -> None:
    cluster = slow_reregister
    scheduler = Scheduler(cluster.url, failover_timeout=3600.0)
    try:
        stream = scheduler.subscribe()
        _, agent_id = scheduler.launch_one("t-keep", "sleep 60")
        scheduler.ack(stream.update("t-keep", "TASK_STARTING"))
        running = stream.update("t-keep", "TASK_RUNNING")  # left unacknowledged
        (pid,) = cluster.task_pids()
        framework_id = scheduler.framework_id

        assert dev(cluster, "master/restart").status_code == 200
        stream.wait_ended()
        assert "ERROR" not in [e["type"] for e in stream.events]  # the connection just drops
        state = cluster.state()
        assert state["frameworks"] == [] and not any(a["active"] for a in state["agents"])

        again = scheduler.subscribe()  # same id: the master rebuilds the framework from its info
        assert again.events[0]["subscribed"]["framework_id"]["value"] == framework_id
        reconcile(scheduler, "t-keep")  # unknown while the agents recover: no answer at all
        reconcile(scheduler, "marker", agent_id="no-such-agent")
        assert again.update("marker")["state"] == "TASK_LOST"
        assert again.updates("t-keep") == []
        assert "OFFERS" not in [e["type"] for e in again.events]

        assert dev(cluster, "agents/reregister").status_code == 200
        resent = again.update("t-keep", "TASK_RUNNING")
        assert resent["uuid"] == running["uuid"]
        scheduler.ack(resent)
        reconcile(scheduler, "t-keep")
        answer = again.update("t-keep", "TASK_RUNNING")
        assert answer["reason"] == "REASON_RECONCILIATION"
        assert pid_alive(pid)
        offered = {o["agent_id"]["value"]: o for o in scheduler.offers(2)}
        cpus = next(r for r in offered[agent_id]["resources"] if r["name"] == "cpus")
        assert cpus["scalar"]["value"] == 1.5  # the surviving task still holds its share
    finally:
        scheduler.close()


def test_restart_window_ends_and_rebuilds_frameworks_that_did_not_return(
    make_scheduler: MakeScheduler, cluster: DevClusterThread
) -> None:
    scheduler = make_scheduler(failover_timeout=3600.0)
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    scheduler.accept([offer["id"]["value"]], [task_info("t-orphan", offer["agent_id"]["value"], "sleep 60")])
    starting = stream.update("t-orphan", "TASK_STARTING")
    cluster.restart_master(agent_reregister_seconds=0.1)
    stream.wait_ended()

    def recovered() -> list[dict[str, Any]]:
        return [f for f in cluster.state()["frameworks"] if f["id"] == scheduler.framework_id]

    (framework,) = wait_until(recovered)
    assert not framework["connected"] and [t["id"] for t in framework["tasks"]] == ["t-orphan"]
    again = scheduler.subscribe()
    assert again.update("t-orphan", "TASK_STARTING")["uuid"] == starting["uuid"]


def test_agent_removal_then_mark_gone_without_partition_awareness(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    _, agent_id = scheduler.launch_one("t-lost", "sleep 60")
    stream.update("t-lost", "TASK_STARTING")
    assert dev(cluster, f"agents/{agent_id}/remove").status_code == 200
    lost = stream.update("t-lost", "TASK_LOST")
    assert lost["reason"] == "REASON_AGENT_REMOVED" and lost["source"] == "SOURCE_MASTER"
    assert lost["unreachable_time"]["nanoseconds"] > 0 and "uuid" not in lost
    stream.next("FAILURE", lambda e: e["failure"]["agent_id"]["value"] == agent_id)
    reconcile(scheduler, "t-lost")
    assert stream.update("t-lost", "TASK_LOST")["reason"] == "REASON_RECONCILIATION"

    assert dev(cluster, f"agents/{agent_id}/gone").status_code == 200
    gone = stream.update("t-lost", "TASK_LOST")
    assert gone["reason"] == "REASON_AGENT_REMOVED_BY_OPERATOR" and "unreachable_time" not in gone
    assert dev(cluster, "agents/no-such-agent/gone").status_code == 404


def test_mark_registered_agent_gone_partition_aware(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler(capabilities=("PARTITION_AWARE",))
    stream = scheduler.subscribe()
    offers = scheduler.offers(2)
    victim, other = offers
    agent_id = victim["agent_id"]["value"]
    scheduler.accept([victim["id"]["value"]], [task_info("t-gone", agent_id, "sleep 60")])
    stream.update("t-gone", "TASK_STARTING")
    (pid,) = wait_until(cluster.task_pids)
    cluster.mark_agent_gone(agent_id)
    gone = stream.update("t-gone", "TASK_GONE_BY_OPERATOR")
    assert gone["reason"] == "REASON_AGENT_REMOVED_BY_OPERATOR" and "uuid" not in gone
    stream.next("FAILURE", lambda e: e["failure"]["agent_id"]["value"] == agent_id)
    wait_until(lambda: not pid_alive(pid))
    reconcile(scheduler, "t-gone", agent_id=agent_id)
    assert stream.update("t-gone")["state"] == "TASK_GONE_BY_OPERATOR"
    assert other["id"]["value"] not in [
        e["rescind"]["offer_id"]["value"] for e in stream.events if "rescind" in e
    ]
    agent = next(a for a in cluster.state()["agents"] if a["id"] == agent_id)
    assert agent["gone"] and not agent["active"]


def test_acknowledgement_modes(cluster: DevClusterThread, make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    scheduler.accept([offer["id"]["value"]], [task_info("t-late", offer["agent_id"]["value"], "sleep 60")])
    starting = stream.update("t-late", "TASK_STARTING")
    route = f"frameworks/{scheduler.framework_id}/acknowledgements"
    assert dev(cluster, route, {"mode": "delay", "seconds": 600}).status_code == 200
    scheduler.ack(starting)
    reconcile(scheduler, "t-late")
    assert stream.update("t-late", "TASK_STARTING")["reason"] == "REASON_RECONCILIATION"  # not applied yet
    assert dev(cluster, route, {"mode": "delay", "seconds": 0.05}).status_code == 200
    scheduler.ack(starting)
    stream.update("t-late", "TASK_RUNNING")  # released once the delayed ACK is applied
    assert dev(cluster, route, {"mode": "sometimes"}).status_code == 400
    assert dev(cluster, route, {"mode": "delay", "seconds": -1}).status_code == 400


def test_fault_routes_answer_404_for_unknown_targets(cluster: DevClusterThread) -> None:
    assert dev(cluster, "agents/nope/remove").status_code == 404
    assert dev(cluster, "tasks/nope/fail").status_code == 404
    assert dev(cluster, "frameworks/nope/close-subscription").status_code == 404
    assert dev(cluster, "agents/recovering", {"agent_ids": ["nope"]}).status_code == 404
    assert dev(cluster, "master/restart", {"agent_reregister_seconds": "soon"}).status_code == 400
    assert httpx.get(f"{cluster.url}/dev/master/restart").status_code == 405


def test_fault_routes_fail_task_close_subscription_and_recovering(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler(failover_timeout=3600.0)
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    scheduler.accept([offer["id"]["value"]], [task_info("t-hit", offer["agent_id"]["value"], "sleep 60")])
    scheduler.ack(stream.update("t-hit", "TASK_STARTING"))
    scheduler.ack(stream.update("t-hit", "TASK_RUNNING"))
    assert dev(cluster, "tasks/t-hit/fail").status_code == 200
    assert stream.update("t-hit", "TASK_FAILED")["source"] == "SOURCE_EXECUTOR"
    other_agent = next(a for a in cluster.agent_ids if a != offer["agent_id"]["value"])
    assert dev(cluster, "agents/recovering", {"agent_ids": [other_agent]}).status_code == 200
    reconcile(scheduler, "ghost", agent_id=other_agent)
    reconcile(scheduler, "marker", agent_id="no-such-agent")
    stream.update("marker")
    assert stream.updates("ghost") == []
    assert dev(cluster, f"frameworks/{scheduler.framework_id}/close-subscription").status_code == 200
    stream.wait_ended()


def test_accept_with_a_foreign_offer_discards_every_listed_offer(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    first = make_scheduler(name="first")
    first_stream = first.subscribe()
    mine, given_away = first.offers(2)
    first.decline([given_away["id"]["value"]], refuse=3600)
    second = make_scheduler(name="second")
    second.subscribe()
    (theirs,) = second.offers(1)
    assert theirs["agent_id"] == given_away["agent_id"]
    listed = [mine["id"]["value"], theirs["id"]["value"]]
    first.accept(listed, [task_info("t-grab", mine["agent_id"]["value"])])
    lost = first_stream.update("t-grab", "TASK_LOST")
    assert lost["reason"] == "REASON_INVALID_OFFERS" and "invalid framework" in lost["message"]
    outstanding = [o["id"] for f in cluster.state()["frameworks"] for o in f["offers"]]
    assert not set(listed) & set(outstanding)
    second.accept([theirs["id"]["value"]], [task_info("t-late", theirs["agent_id"]["value"])])
    assert "no longer valid" in second.events.update("t-late", "TASK_LOST")["message"]
