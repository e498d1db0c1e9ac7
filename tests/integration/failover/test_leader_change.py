"""Two dev masters elected through a real ZooKeeper: the framework follows the leader change."""

from __future__ import annotations

import uuid
from pathlib import Path

from failover_support import Harness, frozen, wait_for

from juice.devcluster.server import DevClusterConfig, DevClusterThread
from juice.local.ceph_rgw import CephRGW
from juice.local.stack import LocalStack, StackConfig
from juice.local.zookeeper import ZooKeeper


def test_framework_follows_the_leader_through_zookeeper(
    rgw: CephRGW, zookeeper: ZooKeeper, clip: Path
) -> None:
    zk = f"zk://{zookeeper.hosts}/mesos-{uuid.uuid4().hex[:8]}"
    first = DevClusterThread(
        DevClusterConfig(agents=2, cpus=2.0, mem=4096.0, zk=zk, zk_session_timeout=4.0)
    ).start()
    second = DevClusterThread(
        DevClusterConfig(agents=2, cpus=2.0, mem=4096.0, zk=zk, zk_session_timeout=4.0)
    ).start()
    stack = LocalStack(StackConfig(master_url=zk), rgw=rgw)
    try:
        wait_for("the first master to lead", lambda: first.state().get("elected") is True)
        assert second.state().get("elected") is False
        stack.start()  # the framework finds the leader in ZooKeeper
        stack.object_store().put_file("uploads", "leader/clip16.mp4", str(clip), "video/mp4")
        h = Harness(stack, first)
        job_id = "leader-1"
        h.push(
            {
                "id": job_id,
                "source": "s3://uploads/leader/clip16.mp4",
                "output": f"s3://streams/{job_id}/",
                "renditions": [{"height": 180, "video_bitrate": "300k"}],
                "segment_seconds": 2,
            }
        )
        wait_for("tasks on the first master", h.running_tasks)
        framework_id = h.framework_id()
        with frozen(first.task_pids()):
            first.stop()  # the leader goes away: its ZooKeeper node with it
        wait_for("the second master to lead", lambda: second.state().get("elected") is True)
        final = h.final(job_id)
        assert final["state"] == "SUCCEEDED", final
        frameworks = second.state()["frameworks"]
        assert [f["id"] for f in frameworks] == [framework_id]  # the same framework, re-subscribed
        segs = h.segments(job_id)
        assert any(s["cluster_failures"] >= 1 for s in segs.values())  # lost with the old master, run again
        assert all(s["agent_id"] in second.agent_ids for s in segs.values())
        assert sorted(h.transitions(job_id, "DONE")) == sorted(segs)
        h.close()
    finally:
        if stack.framework is not None:
            print(f"--- framework log tail ---\n{stack.framework.tail()}")
        stack.stop()
        first.stop()
        second.stop()
