"""procs: process groups, stop by PID with SIGKILL escalation, readiness deadlines, cleanup at exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from juice.errors import ServiceError
from juice.local.procs import (
    free_ports,
    pid_alive,
    port_is_free,
    run_command,
    start_process,
    wait_until,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


def _wait_for_file(path: Path, deadline_seconds: float = 10.0) -> str:
    wait_until(
        lambda: path.exists() and path.stat().st_size > 0, what=str(path), deadline_seconds=deadline_seconds
    )
    return path.read_text()


def test_free_ports_are_distinct_and_free() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert all(port_is_free(p) for p in ports)


def test_stop_escalates_to_sigkill_and_clears_the_group(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    script = f'trap "" TERM; sleep 300 & echo $! > {child_pid_file}; wait'
    proc = start_process("stubborn", ["sh", "-c", script], log_path=tmp_path / "out.log")
    child_pid = int(_wait_for_file(child_pid_file))
    assert os.getpgid(proc.pid) == proc.pid
    assert os.getpgid(child_pid) == proc.pid
    proc.stop(term_timeout=0.3)
    assert proc.popen.returncode == -9
    wait_until(lambda: not pid_alive(child_pid), what="grandchild gone", deadline_seconds=5)
    proc.stop()  # idempotent


def test_wait_until_reports_a_dead_process_with_its_log(tmp_path: Path) -> None:
    proc = start_process(
        "dies", ["sh", "-c", "echo 'bad config line 7'; exit 2"], log_path=tmp_path / "o.log"
    )
    with pytest.raises(ServiceError, match=r"exited with 2(.|\n)*bad config line 7"):
        wait_until(lambda: False, what="never", deadline_seconds=30, watch=[proc])
    proc.stop()


def test_wait_until_deadline(tmp_path: Path) -> None:
    proc = start_process("sleeper", ["sh", "-c", "echo waiting; exec sleep 300"], log_path=tmp_path / "s.log")
    try:
        with pytest.raises(ServiceError, match=r"timed out(.|\n)*waiting"):
            wait_until(lambda: False, what="never", deadline_seconds=0.2, watch=[proc])
    finally:
        proc.stop()
    assert not pid_alive(proc.pid)


def test_run_command_failure_carries_output() -> None:
    with pytest.raises(ServiceError, match="exited 4:\nnope"):
        run_command("demo", ["sh", "-c", "echo nope >&2; exit 4"], timeout=10)
    assert run_command("demo", ["sh", "-c", "echo fine"], timeout=10) == "fine\n"


OWNER = """
import json, sys
from juice.local.redis_server import RedisServer
from juice.local.zookeeper import ZooKeeper
redis = RedisServer().start()
zk = ZooKeeper().start()
print(json.dumps({"pids": [redis.pid, zk.pid], "dirs": [str(redis.work_dir), str(zk.work_dir)],
                  "ports": [redis.port, zk.port]}), flush=True)
if sys.argv[1] == "crash":
    raise RuntimeError("owner crashed")
"""


@pytest.mark.integration
@pytest.mark.parametrize("ending", ["exit", "crash"])
def test_services_do_not_outlive_their_owner(ending: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", OWNER, ending],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == (1 if ending == "crash" else 0), done.stderr
    started = json.loads(done.stdout.splitlines()[0])
    assert not any(pid_alive(pid) for pid in started["pids"])
    assert all(port_is_free(port) for port in started["ports"])
    assert not any(Path(d).exists() for d in started["dirs"])
