"""A throwaway standalone ZooKeeper (java QuorumPeerMain) on a loopback port."""

from __future__ import annotations

import logging
import shutil
import socket
import time
from pathlib import Path

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

START_DEADLINE_SECONDS = 30.0
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
DEFAULT_CLASSPATH = (
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
    "/etc/zookeeper/conf",
)


def four_letter_word(port: int, word: str, timeout: float = 1.0) -> str:
    """Send a ZooKeeper four-letter command to 127.0.0.1:port and return the whole answer."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(word.encode("ascii"))
        chunks: list[bytes] = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


class ZooKeeper(SingleProcessService):
    """Standalone ZooKeeper on 127.0.0.1: free port, admin server off, -Xmx256m, data in a temp dir."""

    DIR_PREFIX = "juice-zk-"
    TERM_TIMEOUT = 5.0
    NAME = "zookeeper"

    def __init__(
        self,
        *,
        port: int | None = None,
        work_dir: Path | None = None,
        java: str = "java",
        classpath: tuple[str, ...] = DEFAULT_CLASSPATH,
        tick_time_ms: int = 2000,
    ) -> None:
        super().__init__(work_dir)
        self._requested_port = port
        self.java = java
        self.classpath = classpath
        self.tick_time_ms = tick_time_ms
        self.port = 0

    @property
    def hosts(self) -> str:
        if self._proc is None:
            raise ServiceError("zookeeper is not running")
        return f"{LOOPBACK}:{self.port}"

    def missing_prerequisites(self) -> list[str]:
        """What must be installed before start() can work (empty when nothing is missing)."""
        missing = [] if shutil.which(self.java) else [self.java]
        jar = Path(self.classpath[0])
        return missing if jar.exists() else [*missing, str(jar)]

    def start(self) -> ZooKeeper:
        if self._proc is not None:
            return self
        java = require_executable(self.java)
        jar = Path(self.classpath[0])
        if not jar.exists():
            raise ServiceError(
                f"zookeeper: {jar} not found (install the zookeeper package: deploy/bootstrap.sh)"
            )
        self.port = self._requested_port or free_port()
        if not port_is_free(self.port):
            raise ServiceError(f"zookeeper: port {self.port} on {LOOPBACK} is already in use")
        self._prepare_dir()
        stop_at_exit(self)
        assert self.work_dir is not None
        config = self._write_config(self.work_dir)
        started = time.monotonic()
        self._procs[self.NAME] = start_process(
            "zookeeper", self._argv(java, config), log_path=self.work_dir / "zk.out"
        )
        try:
            wait_until(
                self._ready,
                what="zookeeper srvr",
                deadline_seconds=START_DEADLINE_SECONDS,
                watch=list(self._procs.values()),
            )
        except ServiceError:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        log.info(
            "zookeeper ready",
            extra={"port": self.port, "pid": self.pid, "seconds": round(self.start_seconds, 2)},
        )
        return self

    def _write_config(self, work_dir: Path) -> Path:
        config = work_dir / "zoo.cfg"
        config.write_text(
            "\n".join(
                [
                    f"tickTime={self.tick_time_ms}",
                    f"dataDir={work_dir / 'data'}",
                    f"clientPort={self.port}",
                    f"clientPortAddress={LOOPBACK}",
                    "maxClientCnxns=0",
                    "admin.enableServer=false",
                    "4lw.commands.whitelist=ruok,srvr,stat,mntr,conf",
                    "",
                ]
            )
        )
        return config

    def _argv(self, java: str, config: Path) -> list[str]:
        assert self.work_dir is not None
        return [
            java,
            "-Xms64m",
            "-Xmx256m",
            "-XX:+UseSerialGC",
            f"-Dzookeeper.log.dir={self.work_dir / 'logs'}",
            "-Dzookeeper.root.logger=INFO,CONSOLE",
            "-cp",
            ":".join(self.classpath),
            MAIN_CLASS,
            str(config),
        ]

    def _ready(self) -> bool:
        try:
            answer = four_letter_word(self.port, "srvr")
        except OSError:
            return False
        return (
            "Mode: standalone" in answer
            and self._proc is not None
            and pid_listens_on(self._proc.pid, self.port)
        )
