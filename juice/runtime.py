"""Wire the framework from Settings: Redis store, S3, the Mesos client, the scheduler and the API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette

from juice.api.app import create_app
from juice.config import Settings
from juice.media.probe import probe
from juice.mesos.builders import FrameworkSettings
from juice.mesos.client import SchedulerClient
from juice.scheduler.finisher import Finisher
from juice.scheduler.intake import Intake
from juice.scheduler.launcher import Launcher, LaunchSettings
from juice.scheduler.payloads import PayloadBuilder
from juice.scheduler.planner import Planner, TaskResources
from juice.scheduler.progress import ProgressPoller
from juice.scheduler.service import SchedulerService
from juice.scheduler.updates import UpdateHandler
from juice.storage.port import ObjectStore
from juice.storage.s3 import S3Store
from juice.store.lease import LeaderLease
from juice.store.redis_store import RedisStore

log = logging.getLogger(__name__)


class ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: the process owner decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Framework:
    settings: Settings
    redis: aioredis.Redis
    intake_redis: aioredis.Redis
    store: RedisStore
    objects: ObjectStore
    mesos: SchedulerClient
    service: SchedulerService
    api: Starlette


def object_store(settings: Settings) -> S3Store:
    return S3Store(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key, settings.s3_region)


def framework_settings(settings: Settings) -> FrameworkSettings:
    return FrameworkSettings(
        user=settings.framework_user,
        name=settings.framework_name,
        roles=(settings.framework_role,),
        failover_timeout=settings.failover_timeout,
        hostname=socket.gethostname(),
        webui_url=settings.webui_url or f"http://{settings.api_host}:{settings.api_port}/",
    )


def lease_owner(rng: random.Random) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{rng.getrandbits(32):08x}"


async def build(
    settings: Settings,
    *,
    objects: ObjectStore | None = None,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
) -> Framework:
    rng = rng or random.Random()
    client = aioredis.Redis.from_url(settings.redis_url)
    store = RedisStore(client)
    objects = objects or object_store(settings)
    framework_id = await store.framework_id()
    mesos = SchedulerClient(
        settings.mesos_master, framework_settings(settings), framework_id=framework_id, rng=rng
    )
    blocking = aioredis.Redis.from_url(settings.redis_url)  # intake's blocking reads get their own connection
    intake = Intake(blocking, store, consumer=settings.intake_consumer, clock=clock)
    resources = TaskResources(
        settings.video_task_cpus, settings.video_task_mem, settings.audio_task_cpus, settings.audio_task_mem
    )
    payloads = PayloadBuilder(
        objects,
        expires_seconds=settings.presign_seconds,
        preset=settings.x264_preset,
        threads=settings.worker_threads,
    )
    launch = LaunchSettings(
        image=settings.worker_image,
        kill_grace_seconds=settings.kill_grace_seconds,
        refuse_seconds=settings.refuse_seconds,
        idle_refuse_seconds=settings.idle_refuse_seconds,
        min_task_cpus=min(settings.video_task_cpus, settings.audio_task_cpus),
    )
    service: SchedulerService
    planner = Planner(
        store,
        objects,
        probe=probe,
        limits=lambda: settings.plan_limits(service.parallelism()),
        resources=resources,
        presign_seconds=settings.presign_seconds,
        clock=clock,
        max_concurrent=settings.max_concurrent_probes,
    )
    launcher = Launcher(store, mesos, payloads, launch, clock=clock)
    updates = UpdateHandler(
        store,
        mesos,
        objects,
        policy=settings.retry_policy(),
        clock=clock,
        rng=rng,
        kill_grace_seconds=settings.kill_grace_seconds,
    )
    service = SchedulerService(
        store=store,
        mesos=mesos,
        intake=intake,
        planner=planner,
        launcher=launcher,
        updates=updates,
        finisher=Finisher(store, objects, clock=clock),
        progress=ProgressPoller(store, objects, clock=clock, every=settings.progress_poll_seconds),
        clock=clock,
        rng=rng,
        video_task_cpus=settings.video_task_cpus,
        refuse_seconds=settings.refuse_seconds,
        reconcile_interval=settings.reconcile_interval_seconds,
        lease=LeaderLease(client, lease_owner(rng), ttl_seconds=settings.leader_lease_seconds),
    )
    api = create_app(store, subscribed=lambda: service.subscribed)
    return Framework(settings, client, blocking, store, objects, mesos, service, api)


async def serve(settings: Settings, *, until_idle: bool = False, api: bool = True) -> None:
    """Run the scheduler (and the status API) until SIGINT/SIGTERM, or until idle."""
    fw = await build(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, fw.service.stop)
    server = None
    tasks: list[asyncio.Task[None]] = []
    if api:
        config = uvicorn.Config(
            fw.api, host=settings.api_host, port=settings.api_port, log_level="warning", lifespan="off"
        )
        server = ApiServer(config)
        tasks.append(asyncio.create_task(server.serve()))
    try:
        await fw.service.run(until_idle=until_idle)
    finally:
        if server is not None:
            server.should_exit = True
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await fw.redis.aclose()
        await fw.intake_redis.aclose()
