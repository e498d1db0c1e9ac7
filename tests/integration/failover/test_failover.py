"""The framework survives what a real cluster does to it: its own crash, an agent's loss, a peer framework
that stops acknowledging."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
from failover_support import Harness, frozen, wait_for

from juice.local.procs import free_port, start_process
from juice.mesos.builders import FrameworkSettings
from juice.mesos.client import SchedulerClient
from juice.mesos.messages import Offers, Subscribed, Update

SOURCE = "s3://uploads/failover/clip16.mp4"
FRAMES = 400  # 16 s at 25 fps


def job(job_id: str) -> dict[str, Any]:
    return {
        "id": job_id,
        "source": SOURCE,
        "output": f"s3://streams/{job_id}/",
        "renditions": [{"height": 180, "video_bitrate": "300k"}],
        "segment_seconds": 2,
    }


def test_killed_framework_resubscribes_reconciles_and_adopts_running_tasks(harness: Harness) -> None:
    h = harness
    h.push(job("crash-1"))
    running = wait_for("tasks to run", lambda: len(h.running_tasks()) >= 2 and h.running_tasks())
    framework_id = h.framework_id()
    assert framework_id
    with frozen(h.cluster.task_pids()):
        h.stack.kill_framework()  # kill -9 while tasks run
        h.stack.start_framework()  # the same id comes from Redis; readiness = subscribed again
    final = h.final("crash-1")
    assert final["state"] == "SUCCEEDED", final
    assert h.framework_id() == framework_id
    frameworks = h.cluster.state()["frameworks"]
    assert [f["id"] for f in frameworks] == [framework_id]  # re-subscribed, not registered anew
    segs = h.segments("crash-1")
    assert all(s["state"] == "DONE" for s in segs.values())
    adopted = {t["id"].split(".")[1] for t in running}
    assert all(segs[k]["attempt"] == 1 for k in adopted), segs  # the running tasks were not relaunched
    done = h.transitions("crash-1", "DONE")
    assert sorted(done) == sorted(segs)  # every segment done exactly once
    assert final["plan"]["frames"] == FRAMES


def test_removed_agent_tasks_run_again_elsewhere(harness: Harness) -> None:
    h = harness
    h.push(job("agent-1"))
    running = wait_for("tasks to run", h.running_tasks)
    victim = running[0]["agent_id"]
    with frozen(h.cluster.task_pids()):
        lost = {t["id"].split(".")[1] for t in h.running_tasks() if t["agent_id"] == victim}
        h.cluster.remove_agent(victim)
    final = h.final("agent-1")
    assert final["state"] == "SUCCEEDED", final
    segs = h.segments("agent-1")
    assert lost
    for key in lost:
        assert segs[key]["cluster_failures"] >= 1 and segs[key]["attempt"] >= 2, segs[key]
        assert segs[key]["agent_id"] != victim and segs[key]["worker_failures"] == 0
    assert sorted(h.transitions("agent-1", "DONE")) == sorted(segs)


class SilentFramework:
    """Another framework on the same cluster: launches one short task and never acknowledges anything."""

    def __init__(self, master: str) -> None:
        self.master = master
        self.updates: list[str] = []
        self.launched = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        client = SchedulerClient(self.master, FrameworkSettings(user="root", name="silent", roles=("other",)))

        async def consume() -> None:
            async for event in client.events():
                if isinstance(event, Subscribed):
                    continue
                if isinstance(event, Offers) and event.offers and not self.launched.is_set():
                    offer = event.offers[0]
                    task = {
                        "name": "silent",
                        "task_id": {"value": "silent-1"},
                        "agent_id": {"value": offer.agent_id},
                        "resources": [
                            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                        ],
                        "command": {"shell": True, "value": "exit 0"},
                    }
                    await client.accept([offer.id], [task], refuse_seconds=0)
                    self.launched.set()
                elif isinstance(event, Offers):
                    await client.decline([o.id for o in event.offers], refuse_seconds=1)
                elif isinstance(event, Update):
                    self.updates.append(str(event.status.state))  # and never ACKNOWLEDGE

        consumer = asyncio.create_task(consume())
        await asyncio.to_thread(self.stop.wait)
        consumer.cancel()
        await client.close()


def test_a_framework_that_stops_acknowledging_does_not_stall_offers_for_another(harness: Harness) -> None:
    h = harness
    silent = SilentFramework(h.cluster.url)
    silent.thread.start()
    try:
        assert silent.launched.wait(30)
        wait_for("the silent task's first update", lambda: silent.updates)
        h.push(job("peer-1"))
        final = h.final("peer-1")
        assert final["state"] == "SUCCEEDED", final
        # the silent framework is stuck at its first unacknowledged update ...
        assert silent.updates[0] == "TASK_STARTING" and "TASK_FINISHED" not in silent.updates
        # ... while the master knows its task ended, so its resources were free for the job all along
        other = next(f for f in h.cluster.state()["frameworks"] if f["name"] == "silent")
        assert [t["state"] for t in other["tasks"]] == ["TASK_FINISHED"]
    finally:
        silent.stop.set()
        silent.thread.join(10)


def test_a_standby_scheduler_waits_for_the_lease_and_takes_over(harness: Harness, tmp_path: Path) -> None:
    h = harness
    port = free_port()
    env = {**h.stack.framework_env(), "JUICE_API_PORT": str(port)}
    standby = start_process(
        "standby", [sys.executable, "-m", "juice", "scheduler"], log_path=tmp_path / "standby.log", env=env
    )
    try:
        api = f"http://127.0.0.1:{port}"
        wait_for("the standby's API", lambda: _get(f"{api}/healthz") == 200)
        assert _get(f"{api}/readyz") == 503  # holds no lease, so no subscription: one scheduler at a time
        framework_id = h.framework_id()
        h.stack.kill_framework()
        wait_for("the standby to take over", lambda: _get(f"{api}/readyz") == 200, timeout=60)
        h.push(job("standby-1"))
        assert h.final("standby-1", api=api)["state"] == "SUCCEEDED"
        assert [f["id"] for f in h.cluster.state()["frameworks"]] == [framework_id]
    finally:
        standby.stop()


def _get(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2.0).status_code
    except httpx.HTTPError:
        return None


def test_master_restart_the_framework_resubscribes_and_reconciles_without_relaunching(
    harness: Harness,
) -> None:
    h = harness
    h.push(job("restart-1"))
    running = wait_for("tasks to run", lambda: len(h.running_tasks()) >= 2 and h.running_tasks())
    framework_id = h.framework_id()
    with frozen(h.cluster.task_pids()):
        # the master forgets frameworks and offers; agents re-register after 3 s, and until then an
        # explicit reconcile of their tasks gets no answer, so the framework must ask again
        h.cluster.restart_master(agent_reregister_seconds=3.0)
        wait_for(
            "the framework to subscribe again",
            lambda: (
                [f["id"] for f in h.cluster.state()["frameworks"] if f.get("connected")] == [framework_id]
            ),
        )
    final = h.final("restart-1")
    assert final["state"] == "SUCCEEDED", final
    segs = h.segments("restart-1")
    adopted = {t["id"].split(".")[1] for t in running}
    assert all(segs[k]["attempt"] == 1 and segs[k]["cluster_failures"] == 0 for k in adopted), segs
    assert sorted(h.transitions("restart-1", "DONE")) == sorted(segs)


def test_teardown_only_on_request_kills_every_task_and_forgets_the_framework(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    h.push(job("teardown-1"))
    wait_for("tasks to run", h.running_tasks)
    framework_id = h.framework_id()
    assert h.stack.framework is not None
    env = h.stack.framework_env()
    with frozen(h.cluster.task_pids()):  # keep the tasks running through the test
        h.stack.framework.stop()  # a clean stop is no teardown: the framework and its tasks stay
        assert [f["id"] for f in h.cluster.state()["frameworks"]] == [framework_id]
        assert h.cluster.task_pids()
        juice = [sys.executable, "-m", "juice", "teardown"]
        refused = subprocess.run(juice, env=env, capture_output=True, check=False)
        assert refused.returncode == 2 and h.framework_id() == framework_id
        done = subprocess.run([*juice, "--yes"], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        assert framework_id in done.stdout
    state = h.cluster.state()
    assert state["frameworks"] == []
    assert framework_id in [f["id"] for f in state["completed_frameworks"]]
    wait_for("the task processes to end", lambda: h.cluster.task_pids() == [])
    assert h.framework_id() is None  # the next scheduler registers anew
    record = h.redis.hgetall("juice:job:teardown-1")
    assert record[b"state"] == b"FAILED" and b"torn down" in record[b"reason"]
