"""A throwaway redis-server on a loopback port with its data in a temp directory."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from juice.errors import ServiceError
from juice.local.procs import (
    LOOPBACK,
    free_port,
    pid_listens_on,
    port_is_free,
    require_executable,
    start_process,
    stop_at_exit,
    wait_until,
)
from juice.local.service import SingleProcessService

log = logging.getLogger(__name__)

START_DEADLINE_SECONDS = 15.0


class RedisServer(SingleProcessService):
    """redis-server on 127.0.0.1, append-only file in its own directory, no RDB snapshots."""

    DIR_PREFIX = "juice-redis-"
    TERM_TIMEOUT = 10.0
    NAME = "redis-server"

    def __init__(
        self, *, port: int | None = None, work_dir: Path | None = None, executable: str = "redis-server"
    ) -> None:
        super().__init__(work_dir)
        self._requested_port = port
        self.executable = executable
        self.port = 0

    @property
    def url(self) -> str:
        if self._proc is None:
            raise ServiceError("redis-server is not running")
        return f"redis://{LOOPBACK}:{self.port}/0"

    def missing_prerequisites(self) -> list[str]:
        """What must be installed before start() can work (empty when nothing is missing)."""
        return [] if shutil.which(self.executable) else [self.executable]

    def start(self) -> RedisServer:
        if self._proc is not None:
            return self
        executable = require_executable(self.executable)
        self.port = self._requested_port or free_port()
        if not port_is_free(self.port):
            raise ServiceError(f"redis-server: port {self.port} on {LOOPBACK} is already in use")
        self._prepare_dir()
        stop_at_exit(self)
        assert self.work_dir is not None
        started = time.monotonic()
        self._procs[self.NAME] = start_process(
            "redis-server", self._argv(executable), log_path=self.work_dir / "redis.out"
        )
        try:
            wait_until(
                self._ready,
                what="redis PING",
                deadline_seconds=START_DEADLINE_SECONDS,
                watch=list(self._procs.values()),
            )
        except ServiceError:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        log.info(
            "redis ready", extra={"port": self.port, "pid": self.pid, "seconds": round(self.start_seconds, 2)}
        )
        return self

    def _argv(self, executable: str) -> list[str]:
        assert self.work_dir is not None
        return [
            executable,
            "--bind", LOOPBACK,
            "--port", str(self.port),
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--dir", str(self.work_dir),
            "--appendonly", "yes",
            "--save", "",
            "--logfile", "",
            "--databases", "16",
        ]  # fmt: skip

    def _ready(self) -> bool:
        client = redis.Redis(
            host=LOOPBACK,
            port=self.port,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            answered = bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
        return answered and self._proc is not None and pid_listens_on(self._proc.pid, self.port)
