"""The dev cluster as a separate process (`run_forever`): fault routes over HTTP, ZooKeeper, SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from devcluster_support import Scheduler, task_info, wait_until
from kazoo.client import KazooClient

from juice.devcluster import DevClusterConfig
from tests.fixtures.services import ZooKeeper

pytestmark = pytest.mark.integration

MAIN = "import sys; from juice.devcluster import DevClusterConfig, run_forever; " + (
    "run_forever(DevClusterConfig.model_validate_json(sys.argv[1]))"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_standalone_process_serves_fault_routes_and_leaves_zookeeper_on_sigterm(
    zookeeper: ZooKeeper, tmp_path: Path
) -> None:
    zk_path = f"/juice-test-{uuid.uuid4().hex}"
    port = free_port()
    config = DevClusterConfig(
        port=port,
        agents=1,
        allocation_interval=0.2,
        heartbeat_interval=0.5,
        work_dir=tmp_path,
        zk=f"zk://{zookeeper.hosts}{zk_path}",
        zk_session_timeout=4.0,
    )
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-c", MAIN, config.model_dump_json()])
    zk = KazooClient(hosts=zookeeper.hosts)
    zk.start(timeout=10)
    scheduler = Scheduler(url)
    try:
        wait_until(lambda: healthy(url), timeout=60)
        wait_until(lambda: httpx.get(f"{url}/master/state").json()["elected"])
        assert len(zk.get_children(zk_path)) == 1
        stream = scheduler.subscribe()
        offer = scheduler.offers(1)[0]
        scheduler.accept(
            [offer["id"]["value"]], [task_info("t-remote", offer["agent_id"]["value"], "sleep 60")]
        )
        scheduler.ack(stream.update("t-remote", "TASK_STARTING"))
        scheduler.ack(stream.update("t-remote", "TASK_RUNNING"))
        assert httpx.post(f"{url}/dev/tasks/t-remote/fail").status_code == 200
        assert stream.update("t-remote", "TASK_FAILED")["message"].startswith(
            "Command terminated with signal"
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert zk.get_children(zk_path) == []  # the session was closed, not left to expire
        stream.wait_ended()
    finally:
        scheduler.close()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        zk.stop()
        zk.close()
