"""ZooKeeper launcher: standalone on loopback, four-letter words, kazoo works, stops clean."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from juice.errors import ServiceError
from juice.local.procs import pid_alive, pid_listens_on, port_is_free
from juice.local.zookeeper import ZooKeeper, four_letter_word

pytestmark = pytest.mark.integration


def test_lifecycle_start_answer_stop_clean() -> None:
    server = ZooKeeper().start()
    pid, port, work_dir = server.pid, server.port, server.work_dir
    assert work_dir is not None
    try:
        assert server.hosts == f"127.0.0.1:{port}"
        assert four_letter_word(port, "ruok") == "imok"
        assert "Mode: standalone" in four_letter_word(port, "srvr")
        assert pid_listens_on(pid, port)
        assert (work_dir / "data" / "version-2").is_dir()
    finally:
        server.stop()
    assert not pid_alive(pid)
    assert port_is_free(port)
    assert not work_dir.exists()
    server.stop()  # idempotent
    with pytest.raises(ServiceError):
        _ = server.hosts


def _listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(hex address, port) of every listening TCP socket the process holds."""
    fd_links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    found: set[tuple[str, int]] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            address, port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and f"socket:[{fields[9]}]" in fd_links:
                found.add((address, int(port, 16)))
    return found


def test_listens_only_on_its_loopback_client_port(zookeeper: ZooKeeper) -> None:
    # No admin server (8080), no JMX, not on every interface: one listener, 127.0.0.1:port
    # (Java may show it as the IPv4-mapped IPv6 address ::ffff:127.0.0.1).
    loopback = {"0100007F", "0000000000000000FFFF00000100007F"}
    listeners = _listening_addresses(zookeeper.pid)
    assert len(listeners) == 1
    ((address, port),) = listeners
    assert address in loopback
    assert port == zookeeper.port


def test_kazoo_ephemeral_sequence_nodes(zookeeper: ZooKeeper) -> None:
    zk = KazooClient(hosts=zookeeper.hosts, timeout=4)
    zk.start(timeout=10)
    try:
        zk.ensure_path("/mesos")
        path = zk.create(
            "/mesos/json.info_", json.dumps({"id": "m1"}).encode(), ephemeral=True, sequence=True
        )
        assert path.startswith("/mesos/json.info_")
        data, stat = zk.get(path)
        assert json.loads(data) == {"id": "m1"}
        assert stat.ephemeralOwner != 0
    finally:
        zk.stop()
        zk.close()
    observer = KazooClient(hosts=zookeeper.hosts, timeout=4)
    observer.start(timeout=10)
    try:
        assert observer.exists(path) is None
    finally:
        observer.stop()
        observer.close()


def test_missing_java_is_reported() -> None:
    server = ZooKeeper(java="juice-no-such-java")
    assert server.missing_prerequisites() == ["juice-no-such-java"]
    with pytest.raises(ServiceError, match="juice-no-such-java"):
        server.start()
