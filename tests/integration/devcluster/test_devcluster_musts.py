"""§6 MUST items not covered elsewhere: refusals on the stream, takeover drops old offers, failover-timeout
expiry, resources freed at the terminal latest state, kill policies, the implicit decline of an ACCEPT."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest
from devcluster_support import Scheduler, task_info, wait_until

from juice.devcluster import DevClusterThread
from juice.local.procs import pid_alive

MakeScheduler = Callable[..., Scheduler]
pytestmark = pytest.mark.integration


def test_invalid_roles_are_an_error_event_on_a_200_stream(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler(roles=["workers"])  # roles without MULTI_ROLE
    stream = scheduler.subscribe()
    assert stream.status_code == 200
    error = stream.first()
    assert error["type"] == "ERROR" and "MULTI_ROLE" in error["error"]["message"]
    stream.wait_ended()
    assert [e["type"] for e in stream.events] == ["ERROR"]


def test_resubscribe_discards_the_old_offers(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler(failover_timeout=3600.0)
    scheduler.subscribe()
    old = scheduler.offers(1)[0]
    stream = scheduler.subscribe()
    scheduler.accept([old["id"]["value"]], [task_info("t-stale", old["agent_id"]["value"])])
    lost = stream.update("t-stale", "TASK_LOST")
    assert lost["reason"] == "REASON_INVALID_OFFERS" and "no longer valid" in lost["message"]


def test_failover_timeout_expiry_kills_tasks_and_removes_the_framework(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler(failover_timeout=0.3)
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    scheduler.accept([offer["id"]["value"]], [task_info("t-orphan", offer["agent_id"]["value"], "sleep 60")])
    stream.update("t-orphan", "TASK_STARTING")
    (pid,) = wait_until(cluster.task_pids)
    stream.close()
    wait_until(lambda: cluster.state()["completed_frameworks"])
    wait_until(lambda: not pid_alive(pid))
    assert cluster.state()["frameworks"] == []
    refused = scheduler.subscribe()
    assert refused.next("ERROR")["error"]["message"] == "Framework has been removed"


def test_resources_are_freed_at_the_terminal_latest_state(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    _, agent_id = scheduler.launch_one("t-done", "exit 0", cpus=1.5)
    stream.update("t-done", "TASK_STARTING")  # never acknowledged
    wait_until(lambda: cluster.state()["frameworks"][0]["tasks"][0]["state"] == "TASK_FINISHED")
    agent = next(a for a in cluster.state()["agents"] if a["id"] == agent_id)
    assert agent["used_resources"]["cpus"] == 0.0
    again = scheduler.events.next(
        "OFFERS", lambda e: e["offers"]["offers"][0]["agent_id"]["value"] == agent_id
    )
    cpus = next(r for r in again["offers"]["offers"][0]["resources"] if r["name"] == "cpus")
    assert cpus["scalar"]["value"] == 2.0


def test_task_info_kill_policy_without_killing_state(
    cluster: DevClusterThread, make_scheduler: MakeScheduler
) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    stubborn = task_info(
        "t-stubborn",
        offer["agent_id"]["value"],
        "trap '' TERM; sleep 60",
        kill_policy={"grace_period": {"nanoseconds": 100_000_000}},
    )
    scheduler.accept([offer["id"]["value"]], [stubborn])
    scheduler.ack(stream.update("t-stubborn", "TASK_STARTING"))
    scheduler.ack(stream.update("t-stubborn", "TASK_RUNNING"))
    assert scheduler.call("KILL", {"task_id": {"value": "t-stubborn"}}).status_code == 202
    killed = stream.update("t-stubborn", "TASK_KILLED")
    assert killed["message"] == f"Command terminated with signal {signal.strsignal(signal.SIGKILL)}"
    assert [u["state"] for u in stream.updates("t-stubborn")] == [
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_KILLED",
    ]


def test_a_repeated_kill_shortens_the_grace_period(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler(capabilities=("TASK_KILLING_STATE",))
    stream = scheduler.subscribe()
    offer = scheduler.offers(1)[0]
    scheduler.accept(
        [offer["id"]["value"]], [task_info("t-slow", offer["agent_id"]["value"], "trap '' TERM; sleep 60")]
    )
    scheduler.ack(stream.update("t-slow", "TASK_STARTING"))
    scheduler.ack(stream.update("t-slow", "TASK_RUNNING"))
    for grace_ns in (3_600_000_000_000, 50_000_000):  # an hour, then 50 ms
        kill = {"task_id": {"value": "t-slow"}, "kill_policy": {"grace_period": {"nanoseconds": grace_ns}}}
        assert scheduler.call("KILL", kill).status_code == 202
    scheduler.ack(stream.update("t-slow", "TASK_KILLING"))
    stream.update("t-slow", "TASK_KILLED")  # would take an hour if the second KILL were ignored


def test_unused_part_of_an_accept_is_declined_with_its_filter(make_scheduler: MakeScheduler) -> None:
    scheduler = make_scheduler()
    stream = scheduler.subscribe()
    by_agent = {o["agent_id"]["value"]: o["id"]["value"] for o in scheduler.offers(2)}
    used_agent, open_agent = sorted(by_agent)
    scheduler.accept([by_agent[used_agent]], [task_info("t-part", used_agent, "sleep 60")], refuse=3600)
    scheduler.decline([by_agent[open_agent]], refuse=0)
    for _ in range(2):  # two allocation cycles: the rest of the accepted offer stays filtered
        again = stream.next("OFFERS")["offers"]["offers"]
        assert [o["agent_id"]["value"] for o in again] == [open_agent]
        scheduler.decline([o["id"]["value"] for o in again], refuse=0)
    assert scheduler.call("REVIVE").status_code == 202
    revived = stream.next("OFFERS", lambda e: e["offers"]["offers"][0]["agent_id"]["value"] == used_agent)
    cpus = next(r for r in revived["offers"]["offers"][0]["resources"] if r["name"] == "cpus")
    assert cpus["scalar"]["value"] == 1.5
