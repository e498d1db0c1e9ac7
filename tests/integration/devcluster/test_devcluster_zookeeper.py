"""Dev masters in a real ZooKeeper: membership nodes, standby redirects, 503 without a leader, failover."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from devcluster_support import JSON, Scheduler, wait_until
from kazoo.client import KazooClient

from juice.devcluster import DevClusterConfig, DevClusterThread
from juice.errors import ServiceError
from tests.fixtures.services import ZooKeeper

pytestmark = pytest.mark.integration

SUBSCRIBE = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}}


@pytest.fixture
def zk_path() -> str:
    return f"/juice-test-{uuid.uuid4().hex}"


@pytest.fixture
def zk_client(zookeeper: ZooKeeper) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zookeeper.hosts)
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()


def config(zookeeper: ZooKeeper, path: str) -> DevClusterConfig:
    return DevClusterConfig(
        agents=1,
        allocation_interval=0.2,
        heartbeat_interval=0.5,
        zk=f"zk://{zookeeper.hosts}{path}",
        zk_session_timeout=4.0,
    )


def port_of(cluster: DevClusterThread) -> int:
    return int(cluster.url.rsplit(":", 1)[1])


def test_standby_redirects_then_takes_over(
    zookeeper: ZooKeeper, zk_path: str, zk_client: KazooClient
) -> None:
    first = DevClusterThread(config(zookeeper, zk_path)).start()
    second: DevClusterThread | None = None
    schedulers: list[Scheduler] = []
    try:
        wait_until(lambda: first.state()["elected"])
        second = DevClusterThread(config(zookeeper, zk_path)).start()
        standby = second
        first_state = first.state()
        wait_until(lambda: standby.state().get("leader") == first_state["pid"])
        assert first_state["leader"] == first_state["pid"] and "elected_time" in first_state
        assert not standby.state()["elected"] and "elected_time" not in standby.state()

        first_node, second_node = first.zk_node, standby.zk_node
        assert first_node is not None and second_node is not None
        names = sorted(zk_client.get_children(zk_path))
        assert names == sorted([first_node.rsplit("/", 1)[1], second_node.rsplit("/", 1)[1]])
        assert all(name.startswith("json.info_") and len(name) == len("json.info_") + 10 for name in names)
        port = port_of(first)
        info: dict[str, Any] = json.loads(zk_client.get(first_node)[0])
        assert info == {
            "id": first_state["id"],
            "ip": 16777343,  # 127.0.0.1 packed in network order
            "port": port,
            "pid": f"master@127.0.0.1:{port}",
            "hostname": "127.0.0.1",
            "version": "1.11.0",
            "address": {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": port},
        }

        redirected = httpx.post(f"{standby.url}/api/v1/scheduler", json=SUBSCRIBE, headers=JSON)
        assert redirected.status_code == 307
        assert redirected.headers["location"] == f"//127.0.0.1:{port}/api/v1/scheduler"

        scheduler = Scheduler(first.url, failover_timeout=3600.0)
        schedulers.append(scheduler)
        stream = scheduler.subscribe()
        scheduler.offers(1)
        standby_state = standby.state()
        assert standby_state["frameworks"] == []
        assert all(agent["offered_resources"]["cpus"] == 0.0 for agent in standby_state["agents"])

        first.stop()
        assert first_node.rsplit("/", 1)[1] not in zk_client.get_children(zk_path)  # gone at once
        stream.wait_ended()
        wait_until(lambda: standby.state()["elected"])
        assert standby.state()["leader"] == standby.state()["pid"]

        again = Scheduler(standby.url, failover_timeout=3600.0)
        schedulers.append(again)
        again.framework_id = scheduler.framework_id
        new_stream = again.subscribe()
        subscribed = new_stream.events[0]["subscribed"]
        assert subscribed["framework_id"]["value"] == scheduler.framework_id
        assert subscribed["master_info"]["id"] == standby_state["id"]
        assert again.offers(1)[0]["agent_id"]["value"] == standby.agent_ids[0]
    finally:
        for scheduler in schedulers:
            scheduler.close()
        first.stop()
        if second is not None:
            second.stop()


def test_no_known_leader_is_503_until_the_node_goes(
    zookeeper: ZooKeeper, zk_path: str, zk_client: KazooClient
) -> None:
    zk_client.ensure_path(zk_path)
    unreadable = zk_client.create(f"{zk_path}/json.info_", b"not json", ephemeral=True, sequence=True)
    with DevClusterThread(config(zookeeper, zk_path)) as standby:
        state = standby.state()
        assert not state["elected"] and "leader" not in state
        refused = httpx.post(f"{standby.url}/api/v1/scheduler", json=SUBSCRIBE, headers=JSON)
        assert refused.status_code == 503 and refused.text == "No leader elected"
        zk_client.delete(unreadable)
        wait_until(lambda: standby.state()["elected"])
        scheduler = Scheduler(standby.url)
        try:
            scheduler.subscribe()
            scheduler.offers(1)
        finally:
            scheduler.close()


def test_unreachable_zookeeper_fails_the_start() -> None:
    with pytest.raises(ServiceError, match="cannot reach ZooKeeper"):
        DevClusterThread(
            DevClusterConfig(agents=1, zk="zk://127.0.0.1:1/mesos", zk_session_timeout=1.0)
        ).start()
