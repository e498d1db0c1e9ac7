"""Leader detection against a real ZooKeeper server started for this module."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from mesos_fake_master import FakeMaster, subscribed, wait_until

from juice.errors import MesosError
from juice.mesos.builders import FrameworkSettings
from juice.mesos.client import SchedulerClient
from juice.mesos.detector import ZooKeeperDetector, leader_node, parse_zk_url
from juice.mesos.messages import Disconnected, Event, Subscribed

pytestmark = pytest.mark.timeout(60)

ZK_JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-nop.jar"]
WAIT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def zookeeper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("java") is None or not Path(ZK_JARS[0]).exists():
        pytest.fail("ZooKeeper tests need java and the Debian zookeeper package")
    work = tmp_path_factory.mktemp("zk")
    port = free_port()
    config = work / "zoo.cfg"
    config.write_text(
        "\n".join(
            [
                "tickTime=500",
                f"dataDir={work / 'data'}",
                f"clientPort={port}",
                "clientPortAddress=127.0.0.1",
                "maxClientCnxns=0",
                "admin.enableServer=false",
            ]
        )
        + "\n"
    )
    command = ["java", "-Xms32m", "-Xmx128m", "-XX:+UseSerialGC", "-cp", ":".join(ZK_JARS)]
    command += ["org.apache.zookeeper.server.quorum.QuorumPeerMain", str(config)]
    with (work / "zk.out").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    hosts = f"127.0.0.1:{port}"
    try:
        wait_ready(hosts, process)
        yield hosts
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_ready(hosts: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"ZooKeeper exited with {process.returncode}")
        probe = KazooClient(hosts=hosts, connection_retry={"max_tries": 0})
        try:
            probe.start(timeout=0.5)
        except KazooTimeoutError:
            continue
        probe.stop()
        probe.close()
        return
    pytest.fail("ZooKeeper did not become ready")


@pytest.fixture
def zk(zookeeper: str) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zookeeper, timeout=4.0)
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()


def master_info(ip: str, port: int) -> bytes:
    info: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "ip": 16777343,
        "port": port,
        "pid": f"master@{ip}:{port}",
        "hostname": "m",
        "version": "1.11.0",
        "address": {"hostname": "m", "ip": ip, "port": port},
    }
    return json.dumps(info).encode()


def join(zk: KazooClient, path: str, ip: str, port: int) -> str:
    node: str = zk.create(
        f"{path}/json.info_", master_info(ip, port), ephemeral=True, sequence=True, makepath=True
    )
    return node


async def wait_leader(detector: ZooKeeperDetector, expected: str | None) -> None:
    async with asyncio.timeout(WAIT):
        while detector.leader_url != expected:
            await detector.leader_changed(detector.leader_url)


# ------------------------------------------------------------------------------------ pure parts


def test_leader_is_the_lowest_sequence_member() -> None:
    children = [
        "log_replicas",
        "json.info_0000000010",
        "info_0000000001",
        "json.info_0000000009",
        "json.info_x",
    ]
    assert leader_node(children) == "json.info_0000000009"
    assert leader_node(["log_replicas"]) is None
    assert leader_node([]) is None


def test_parse_zk_url() -> None:
    url = parse_zk_url("zk://u:p@h1:2181,h2:2181/mesos/")
    assert (url.hosts, url.path, url.credentials) == ("h1:2181,h2:2181", "/mesos", "u:p")
    plain = parse_zk_url("zk://h1:2181/a/b")
    assert (plain.hosts, plain.path, plain.credentials) == ("h1:2181", "/a/b", None)


@pytest.mark.parametrize(
    "bad", ["http://h:1/mesos", "zk://h1:2181", "zk://h1:2181/", "zk:///mesos", "zk://a,,b/m"]
)
def test_parse_zk_url_rejects(bad: str) -> None:
    with pytest.raises(MesosError):
        parse_zk_url(bad)


# ------------------------------------------------------------------------------------ real ZooKeeper


async def test_detector_follows_the_lowest_member(zk: KazooClient, zookeeper: str) -> None:
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    detector = ZooKeeperDetector(f"zk://{zookeeper}{path}", session_timeout=4.0)
    try:
        assert await detector.current_leader(wait=0.05) is None  # the znode does not exist yet
        first = join(zk, path, "10.0.0.1", 5050)
        await wait_leader(detector, "http://10.0.0.1:5050")
        second = join(zk, path, "10.0.0.2", 5051)
        zk.create(f"{path}/log_replicas", b"")
        zk.delete(first)
        await wait_leader(detector, "http://10.0.0.2:5051")
        assert detector.leader is not None and detector.leader.version == "1.11.0"
        zk.delete(second)
        await wait_leader(detector, None)
        zk.delete(path, recursive=True)
        join(zk, path, "10.0.0.3", 5052)  # the znode comes back
        await wait_leader(detector, "http://10.0.0.3:5052")
    finally:
        await detector.close()


async def test_detector_ignores_members_without_master_info(zk: KazooClient, zookeeper: str) -> None:
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    zk.create(f"{path}/json.info_", b"not json", ephemeral=True, sequence=True, makepath=True)
    detector = ZooKeeperDetector(f"zk://{zookeeper}{path}")
    try:
        assert await detector.current_leader(wait=0.2) is None
    finally:
        await detector.close()


async def test_unreachable_zookeeper_gives_no_leader() -> None:
    detector = ZooKeeperDetector(f"zk://127.0.0.1:{free_port()}/mesos", connect_timeout=0.3)
    assert await detector.current_leader(wait=0.01) is None
    assert not detector.started
    await detector.close()


async def test_client_subscribes_to_the_detected_leader_and_follows_changes(
    zk: KazooClient, zookeeper: str
) -> None:
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    first = join(zk, path, "10.0.0.1", 5050)
    master = FakeMaster()
    framework = FrameworkSettings(user="juice", name="juice-zk-test", roles=("workers",))
    client = SchedulerClient(
        f"zk://{zookeeper}{path}",
        framework,
        transport=master.transport(),
        rng=random.Random(3),
        backoff_initial=0.01,
        backoff_max=0.02,
    )
    events: asyncio.Queue[Event] = asyncio.Queue()

    async def consume() -> None:
        async for event in client.events():
            events.put_nowait(event)

    task = asyncio.create_task(consume())
    try:
        async with asyncio.timeout(WAIT):
            await wait_until(lambda: bool(master.streams))
            master.streams[0].event(subscribed("F-ZK"))
            assert isinstance(await events.get(), Subscribed)
            assert master.subscribes[0].url.host == "10.0.0.1"
            join(zk, path, "10.0.0.2", 5051)
            zk.delete(first)
            gone = await events.get()
            assert isinstance(gone, Disconnected) and "leading master changed" in gone.reason
            await wait_until(lambda: len(master.subscribes) >= 2)
        again = master.subscribes[1]
        assert (again.url.host, again.url.port) == ("10.0.0.2", 5051)
        assert again.body["framework_id"] == {"value": "F-ZK"}
        assert client.master_url == "http://10.0.0.2:5051"
    finally:
        await client.close()
        await asyncio.wait_for(task, WAIT)
