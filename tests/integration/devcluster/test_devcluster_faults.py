"""Fault-injection knobs and timers: agent removal, task failure, dropped streams and ACKs, offer timeout."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from devcluster_support import Scheduler, task_info, wait_until

from juice.devcluster import DevClusterConfig, DevClusterThread

MakeScheduler = Callable[..., Scheduler]
pytestmark = pytest.mark.integration


def test_remove_agent(cluster: DevClusterThread, make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler(capabilities=("PARTITION_AWARE",))
    stream = scheduler.subscribe()
    offers = scheduler.offers(2)
    victim = offers[0]
    agent_id = victim["agent_id"]["value"]
    scheduler.accept([victim["id"]["value"]], [task_info("t-part", agent_id, "sleep 60")])
    stream.update("t-part", "TASK_STARTING")
    other_offer = offers[1]["id"]["value"]
    cluster.remove_agent(offers[1]["agent_id"]["value"])
    assert stream.next("RESCIND")["rescind"]["offer_id"]["value"] == other_offer
    cluster.remove_agent(agent_id)
    unreachable = stream.update("t-part", "TASK_UNREACHABLE")
    assert unreachable["reason"] == "REASON_AGENT_REMOVED" and "uuid" not in unreachable
    assert unreachable["unreachable_time"]["nanoseconds"] > 0
    assert stream.next("FAILURE", lambda e: e["failure"]["agent_id"]["value"] == agent_id)
    wait_until(lambda: cluster.task_pids() == [])
    state = cluster.state()
    assert all(not agent["active"] for agent in state["agents"])
    scheduler.call("RECONCILE", {"tasks": [{"task_id": {"value": "t-part"}}]})
    assert stream.update("t-part", "TASK_UNREACHABLE")["reason"] == "REASON_RECONCILIATION"


def test_fail_task(cluster: DevClusterThread, make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    scheduler.accept([offer["id"]["value"]], [task_info("t-doomed", offer["agent_id"]["value"], "sleep 60")])
    scheduler.ack(stream.update("t-doomed", "TASK_STARTING"))
    scheduler.ack(stream.update("t-doomed", "TASK_RUNNING"))
    assert cluster.fail_task("t-doomed")
    assert "signal" in stream.update("t-doomed", "TASK_FAILED")["message"]


def test_close_subscription_and_resend_on_resubscribe(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler(failover_timeout=3600.0)
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    scheduler.accept([offer["id"]["value"]], [task_info("t-carry", offer["agent_id"]["value"], "exit 0")])
    starting = stream.update("t-carry", "TASK_STARTING")
    assert scheduler.framework_id is not None
    cluster.close_subscription(scheduler.framework_id)
    stream.wait_ended()
    assert not cluster.state()["frameworks"][0]["connected"]
    again = scheduler.subscribe()
    resent = again.update("t-carry", "TASK_STARTING")  # the unacked head comes back at once
    assert resent["uuid"] == starting["uuid"]
    scheduler.ack(resent)
    again.update("t-carry", "TASK_RUNNING")


def test_drop_acknowledgements(cluster: DevClusterThread, make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    scheduler.accept([offer["id"]["value"]], [task_info("t-deaf", offer["agent_id"]["value"], "exit 0")])
    starting = stream.update("t-deaf", "TASK_STARTING")
    assert scheduler.framework_id is not None
    cluster.drop_acknowledgements(scheduler.framework_id, True)
    scheduler.ack(starting)
    scheduler.call("RECONCILE", {"tasks": [{"task_id": {"value": "t-deaf"}}]})
    assert stream.update("t-deaf", "TASK_STARTING")["reason"] == "REASON_RECONCILIATION"  # ack was dropped
    cluster.drop_acknowledgements(scheduler.framework_id, False)
    scheduler.ack(starting)
    stream.update("t-deaf", "TASK_RUNNING")


def test_update_retry_and_offer_timeout() -> None:
    config = DevClusterConfig(agents=1, allocation_interval=0.2, offer_timeout=0.3, update_retry_initial=0.2)
    with DevClusterThread(config) as cluster:
        scheduler = Scheduler(cluster.url)
        try:
            stream = scheduler.subscribe()
            offer = scheduler.offers(1)[0]
            assert stream.next("RESCIND")["rescind"]["offer_id"] == offer["id"]
            fresh = scheduler.offers(1)[0]
            scheduler.accept([fresh["id"]["value"]], [task_info("t-retry", fresh["agent_id"]["value"])])
            first = stream.update("t-retry", "TASK_STARTING")
            retried = stream.update("t-retry", "TASK_STARTING")
            assert retried["uuid"] == first["uuid"]
        finally:
            scheduler.close()


def test_simulated_tasks_and_recovering_agents() -> None:
    config = DevClusterConfig(agents=50, allocation_interval=0.2, simulate_seconds=0.1)
    with DevClusterThread(config) as cluster:
        scheduler = Scheduler(cluster.url)
        try:
            stream = scheduler.subscribe()
            offers = scheduler.offers(50)
            for offer in offers:
                task_id = f"sim-{offer['agent_id']['value']}"
                scheduler.accept([offer["id"]["value"]], [task_info(task_id, offer["agent_id"]["value"])])
            for offer in offers:
                task_id = f"sim-{offer['agent_id']['value']}"
                for state in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"):
                    scheduler.ack(stream.update(task_id, state))
            assert cluster.task_pids() == []
            cluster.set_recovering_agents({cluster.agent_ids[0]})
            tasks = [
                {"task_id": {"value": "ghost"}},
                {"task_id": {"value": "known-agent"}, "agent_id": {"value": cluster.agent_ids[1]}},
            ]
            scheduler.call("RECONCILE", {"tasks": tasks})
            assert stream.update("known-agent")["state"] == "TASK_LOST"
            assert stream.updates("ghost") == []  # no reply while an agent is recovering
        finally:
            scheduler.close()
