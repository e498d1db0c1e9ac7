"""Running the dev cluster: `DevClusterConfig`, `DevClusterThread` (tests) and `run_forever` (CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Generator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import uvicorn
from pydantic import BaseModel, ConfigDict, Field

from juice.devcluster import failures
from juice.devcluster.http import create_app
from juice.devcluster.launch import default_image_entrypoints
from juice.devcluster.master import Master
from juice.devcluster.resources import Resources
from juice.devcluster.settings import MasterSettings
from juice.devcluster.state import ClusterState
from juice.devcluster.tasks import AckMode, AckModeName
from juice.devcluster.zookeeper import ZooKeeperMembership
from juice.errors import ServiceError

logger = logging.getLogger(__name__)

T = TypeVar("T")
PORTS = (31000, 32000)


class DevClusterConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    agents: int = Field(default=2, ge=0)
    cpus: float = Field(default=2.0, ge=0)
    mem: float = Field(default=4096.0, ge=0)
    disk: float = Field(default=20000.0, ge=0)
    attributes: dict[str, str] = Field(default_factory=dict)
    heartbeat_interval: float = Field(default=15.0, gt=0)
    allocation_interval: float = Field(default=1.0, gt=0)
    offer_timeout: float | None = Field(default=None, gt=0)
    update_retry_initial: float = Field(default=10.0, gt=0)
    update_retry_max: float = Field(default=600.0, gt=0)
    work_dir: Path | None = None
    image_entrypoints: dict[str, list[str]] = Field(default_factory=default_image_entrypoints)
    # Extra variables for every task, like the agent flag --executor_environment_variables.
    executor_environment_variables: dict[str, str] = Field(default_factory=dict)
    # Tasks "run" this long without a process (benchmarks with many agents); None runs real processes.
    simulate_seconds: float | None = Field(default=None, ge=0)
    # Send every other RecordIO record in two chunks, so clients must reassemble records.
    split_records: bool = True
    # Register in ZooKeeper like a Mesos master (`zk://host:port/mesos`); the lowest member leads.
    zk: str | None = Field(default=None, pattern=r"^zk://")
    zk_session_timeout: float = Field(default=10.0, gt=0)
    # After a (simulated) master restart, agents re-register this many seconds later.
    agent_reregister_seconds: float = Field(default=1.0, ge=0)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the dev cluster decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class _Cluster:
    """Master + HTTP server on one event loop; shared by the thread helper and `run_forever`."""

    def __init__(self, config: DevClusterConfig) -> None:
        self.config = config
        self._temp_dir: Path | None = None
        if config.work_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="juice-devcluster-"))
        self.work_dir = config.work_dir or self._temp_dir or Path(".")
        self.state = ClusterState(str(uuid.uuid4()))
        total = Resources.build(
            {"cpus": config.cpus, "mem": config.mem, "disk": config.disk}, {"ports": [PORTS]}
        )
        for _ in range(config.agents):
            self.state.add_agent(config.host, total, config.attributes)
        settings = MasterSettings(
            work_dir=self.work_dir,
            image_entrypoints=config.image_entrypoints,
            heartbeat_interval=config.heartbeat_interval,
            allocation_interval=config.allocation_interval,
            offer_timeout=config.offer_timeout,
            update_retry_initial=config.update_retry_initial,
            update_retry_max=config.update_retry_max,
            simulate_seconds=config.simulate_seconds,
            split_records=config.split_records,
            agent_env=config.executor_environment_variables,
            agent_reregister_seconds=config.agent_reregister_seconds,
        )
        self.master = Master(settings, self.state, leading=config.zk is None)
        self.membership: ZooKeeperMembership | None = None
        self.socket = socket.create_server((config.host, config.port))
        self.port: int = self.socket.getsockname()[1]
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    async def serve(self, ready: Callable[[], None]) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        config = uvicorn.Config(
            create_app(self.master),
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=3,
            ws="none",
        )
        server = _Server(config)
        self.master.start(self.config.host, self.port)
        serving = asyncio.ensure_future(server.serve(sockets=[self.socket]))
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await self._join_zookeeper()
            logger.info("dev cluster listening", extra={"url": self.url, "agents": self.config.agents})
            ready()
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if self.membership is not None:
                await asyncio.to_thread(self.membership.close)
            await self.master.stop()
            server.should_exit = True
            await serving
            self.socket.close()
            logger.info("dev cluster stopped", extra={"url": self.url})

    async def _join_zookeeper(self) -> None:
        if self.config.zk is None:
            return
        loop = asyncio.get_running_loop()
        master = self.master

        def on_change(elected: bool, leader: dict[str, Any] | None) -> None:
            loop.call_soon_threadsafe(master.set_leadership, elected, leader)

        membership = ZooKeeperMembership(
            self.config.zk,
            master.info,
            on_change,
            session_timeout=self.config.zk_session_timeout,
            connect_timeout=self.config.zk_session_timeout,
        )
        await asyncio.to_thread(membership.start)
        self.membership = membership

    def request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def remove_work_dir(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)


class DevClusterThread:
    """The dev cluster in a background thread with its own event loop.

    with DevClusterThread(DevClusterConfig(agents=1)) as cluster:
        httpx.post(cluster.url + "/api/v1/scheduler", ...)
    """

    def __init__(self, config: DevClusterConfig | None = None) -> None:
        self.config = config or DevClusterConfig()
        self._cluster: _Cluster | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return self._running().url

    @property
    def work_dir(self) -> Path:
        return self._running().work_dir

    @property
    def agent_ids(self) -> list[str]:
        return list(self._running().state.agents)

    def _running(self) -> _Cluster:
        if self._cluster is None:
            raise ServiceError("the dev cluster is not running")
        return self._cluster

    def start(self) -> DevClusterThread:
        cluster = _Cluster(self.config)
        ready = threading.Event()

        def main() -> None:
            try:
                asyncio.run(cluster.serve(ready.set))
            except BaseException as exc:
                self._error = exc
                logger.exception("dev cluster thread crashed")
            finally:
                ready.set()

        self._cluster = cluster
        self._thread = threading.Thread(target=main, name="juice-devcluster", daemon=True)
        self._thread.start()
        ready.wait()
        if self._error is not None or cluster.loop is None:
            self.stop()
            raise ServiceError(f"the dev cluster did not start: {self._error}")
        return self

    def stop(self) -> None:
        cluster, thread = self._cluster, self._thread
        if cluster is None or thread is None:
            return
        if cluster.loop is not None and thread.is_alive():
            cluster.loop.call_soon_threadsafe(cluster.request_stop)
        thread.join(timeout=30)
        cluster.socket.close()
        cluster.remove_work_dir()
        self._cluster = None
        self._thread = None

    def __enter__(self) -> DevClusterThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def on_loop(self, fn: Callable[[Master], T], timeout: float = 30.0) -> T:
        """Run `fn(master)` on the cluster's loop and return its result (thread-safe)."""
        cluster = self._running()
        loop = cluster.loop
        if loop is None:
            raise ServiceError("the dev cluster is not running")

        async def run() -> T:
            return fn(cluster.master)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    # Fault-injection and inspection knobs.

    def state(self) -> dict[str, Any]:
        return self.on_loop(lambda m: m.state_document())

    def task_pids(self) -> list[int]:
        return self.on_loop(lambda m: m.tasks.runtime.pids())

    def remove_agent(self, agent_id: str) -> None:
        self.on_loop(lambda m: failures.remove_agent(m, agent_id))

    def fail_task(self, task_id: str) -> bool:
        return self.on_loop(lambda m: m.fail_task(task_id))

    def close_subscription(self, framework_id: str) -> None:
        self.on_loop(lambda m: m.close_subscription(framework_id))

    def drop_acknowledgements(self, framework_id: str, on: bool) -> None:
        self.on_loop(lambda m: m.drop_acknowledgements(framework_id, on))

    def set_acknowledgements(self, framework_id: str, mode: AckModeName, seconds: float = 0.0) -> None:
        """ "normal", "drop" (ACKs are ignored) or "delay" (each ACK is applied `seconds` later)."""
        self.on_loop(lambda m: m.set_ack_mode(framework_id, AckMode(mode, seconds)))

    def mark_agent_gone(self, agent_id: str) -> None:
        self.on_loop(lambda m: failures.mark_agent_gone(m, agent_id))

    def restart_master(self, agent_reregister_seconds: float | None = None) -> None:
        """Simulated master failover (see `juice.devcluster.failures`)."""
        self.on_loop(lambda m: failures.restart_master(m, agent_reregister_seconds))

    def reregister_agents(self) -> None:
        """End the re-register window of a master restart now."""
        self.on_loop(failures.reregister_agents)

    @property
    def zk_node(self) -> str | None:
        """This master's ZooKeeper member node (None without `zk`)."""
        membership = self._running().membership
        return None if membership is None else membership.node

    def set_recovering_agents(self, agent_ids: set[str]) -> None:
        """Agents that are "recovering": reconciling unknown tasks on them gets no reply."""
        self.on_loop(lambda m: m.set_recovering(agent_ids))


def run_forever(config: DevClusterConfig) -> None:
    """Serve until SIGINT/SIGTERM, then kill every task process and remove the temporary work dir."""
    cluster = _Cluster(config)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, cluster.request_stop)
        await cluster.serve(lambda: None)

    try:
        asyncio.run(main())
    finally:
        cluster.remove_work_dir()
