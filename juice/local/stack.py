"""`juice local`: the whole stack on loopback: Redis, Ceph RGW, the dev cluster, the framework and its API.

Redis and RGW run as their own server processes; the dev cluster (`juice devcluster`) and the framework
(`juice scheduler`) run as child processes of this one, exactly as they would be started separately.
Everything stops on stop() (or SIGINT/SIGTERM in `juice local`), and the temp data goes with it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from juice.local.ceph_rgw import CephRGW
from juice.local.procs import ManagedProcess, free_port, start_process, wait_until
from juice.local.redis_server import RedisServer
from juice.storage.s3 import S3Store

log = logging.getLogger(__name__)


@dataclass
class StackConfig:
    agents: int = 2
    cpus: float = 2.0
    mem: float = 4096.0
    buckets: tuple[str, ...] = ("uploads", "streams")
    work_dir: Path | None = None
    log_format: str = "text"
    extra_env: dict[str, str] = field(default_factory=dict)  # more JUICE_* settings for the framework
    master_url: str | None = None  # use this Mesos master instead of starting a dev cluster


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


class LocalStack:
    def __init__(
        self, config: StackConfig, *, redis: RedisServer | None = None, rgw: CephRGW | None = None
    ) -> None:
        self.config = config
        self._own_dir = config.work_dir is None
        self.work_dir = config.work_dir or Path(tempfile.mkdtemp(prefix="juice-local-"))
        self._redis, self._own_redis = redis, redis is None
        self._rgw, self._own_rgw = rgw, rgw is None
        self.master_port = free_port()
        self.api_port = free_port()
        self.devcluster: ManagedProcess | None = None
        self.framework: ManagedProcess | None = None

    # -- addresses ------------------------------------------------------------------------------

    @property
    def redis(self) -> RedisServer:
        assert self._redis is not None, "stack not started"
        return self._redis

    @property
    def rgw(self) -> CephRGW:
        assert self._rgw is not None, "stack not started"
        return self._rgw

    @property
    def master_url(self) -> str:
        return self.config.master_url or f"http://127.0.0.1:{self.master_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        """The JUICE_* settings a program needs to use this stack."""
        return {
            "JUICE_REDIS_URL": self.redis.url,
            "JUICE_API_URL": self.api_url,
            "JUICE_MESOS_MASTER": self.master_url,
            "JUICE_S3_ENDPOINT": self.rgw.endpoint,
            "JUICE_S3_ACCESS_KEY": self.rgw.access_key,
            "JUICE_S3_SECRET_KEY": self.rgw.secret_key,
        }

    def write_env_file(self, path: Path) -> None:
        path.write_text("".join(f"{k}={v}\n" for k, v in self.env().items()))

    def object_store(self) -> S3Store:
        return S3Store(self.rgw.endpoint, self.rgw.access_key, self.rgw.secret_key)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        try:
            if self._redis is None:
                self._redis = RedisServer(work_dir=self.work_dir / "redis").start()
            if self._rgw is None:
                self._rgw = CephRGW(work_dir=self.work_dir / "ceph").start()
            store = self.object_store()
            for bucket in self.config.buckets:
                store.ensure_bucket(bucket)
            store.close()
            if self.config.master_url is None:
                self.start_devcluster()
            self.start_framework()
        except BaseException:
            self.stop()
            raise
        return self

    def start_devcluster(self) -> None:
        c = self.config
        argv = [
            sys.executable,
            "-m",
            "juice",
            "devcluster",
            "--port",
            str(self.master_port),
            "--agents",
            str(c.agents),
            "--cpus",
            str(c.cpus),
            "--mem",
            str(c.mem),
            "--work-dir",
            str(self.work_dir / "agents"),
        ]
        self.devcluster = start_process(
            "devcluster", argv, log_path=self.work_dir / "logs" / "devcluster.log"
        )
        wait_until(
            lambda: _http_ok(f"{self.master_url}/health"),
            what="the dev cluster",
            deadline_seconds=30,
            watch=[self.devcluster],
        )

    def framework_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUICE_")}
        env.update(self.env())
        env.update(
            {
                "JUICE_API_PORT": str(self.api_port),
                "JUICE_API_HOST": "127.0.0.1",
                "JUICE_LOG_FORMAT": self.config.log_format,
                "JUICE_REFUSE_SECONDS": "1",
                "JUICE_FAILOVER_TIMEOUT": "3600",
                "JUICE_LEADER_LEASE_SECONDS": "3",
            }
        )
        env.update(self.config.extra_env)
        return env

    def start_framework(self) -> None:
        argv = [sys.executable, "-m", "juice", "scheduler"]
        self.framework = start_process(
            "framework", argv, log_path=self.work_dir / "logs" / "framework.log", env=self.framework_env()
        )
        wait_until(
            lambda: _http_ok(f"{self.api_url}/readyz"),
            what="the framework to subscribe",
            deadline_seconds=60,
            watch=[self.framework],
        )

    def kill_framework(self) -> None:
        """SIGKILL the framework process, as a crash would (tests)."""
        if self.framework is not None:
            self.framework.signal(signal.SIGKILL)
            self.framework.stop(term_timeout=5.0)
            self.framework = None

    def stop(self) -> None:
        for proc in (self.framework, self.devcluster):
            if proc is not None:
                proc.stop(term_timeout=15.0)
        if self._own_rgw and self._rgw is not None:
            self._rgw.stop()
        if self._own_redis and self._redis is not None:
            self._redis.stop()
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
