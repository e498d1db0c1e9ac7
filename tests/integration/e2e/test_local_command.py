"""`juice local`: everything starts on loopback, the env file tells where, SIGTERM stops it all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import redis
from e2e_support import wait_for

from juice.local.procs import port_is_free

KEYS = {
    "JUICE_REDIS_URL",
    "JUICE_API_URL",
    "JUICE_MESOS_MASTER",
    "JUICE_S3_ENDPOINT",
    "JUICE_S3_ACCESS_KEY",
    "JUICE_S3_SECRET_KEY",
}


def test_local_writes_env_file_and_stops_clean_on_sigterm(tmp_path: Path) -> None:
    env_file = tmp_path / "juice.env"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    with (tmp_path / "local.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "juice", "local", "--env-file", str(env_file)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    try:
        wait_for("the env file", lambda: env_file.exists() or proc.poll() is not None, timeout=90)
        assert proc.poll() is None, (tmp_path / "local.log").read_text()[-3000:]
        lines = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        assert set(lines) == KEYS
        with redis.Redis.from_url(lines["JUICE_REDIS_URL"]) as r:
            assert r.ping()
        assert httpx.get(f"{lines['JUICE_API_URL']}/readyz", timeout=5).status_code == 200
        assert httpx.get(f"{lines['JUICE_MESOS_MASTER']}/health", timeout=5).status_code == 200
        ports = [
            urlsplit(lines[k]).port
            for k in ("JUICE_REDIS_URL", "JUICE_API_URL", "JUICE_MESOS_MASTER", "JUICE_S3_ENDPOINT")
        ]
        assert all(ports)
        assert list(scratch.iterdir())  # the stack keeps its data in a temp dir
        assert str(scratch) in _processes()  # and its services show it on their command lines
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, (tmp_path / "local.log").read_text()[-3000:]
    assert all(port_is_free(p) for p in ports if p)
    assert list(scratch.iterdir()) == []  # temp data removed
    # nothing of the stack runs any more: every service it started had its files under TMPDIR
    assert str(scratch) not in _processes()


def _processes() -> str:
    return subprocess.run(["ps", "-eo", "args="], check=True, capture_output=True, text=True).stdout
