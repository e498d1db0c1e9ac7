"""Tear the framework down, on an operator's explicit request only (`juice teardown --yes`).

Juice never tears down by itself: a crash or a redeploy keeps the framework and its tasks for the failover
timeout. This subscribes with the stored framework id (stop the scheduler first, or it is taken over), asks
the master to kill every task and forget the framework, fails the jobs that were still active, and
forgets the framework id so that the next scheduler registers anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from juice.core.states import JobState
from juice.errors import MesosError
from juice.mesos.client import SchedulerClient
from juice.mesos.messages import ErrorEvent, Subscribed
from juice.store.redis_store import RedisStore

log = logging.getLogger(__name__)


async def teardown(
    store: RedisStore, client: SchedulerClient, *, now: float, subscribe_within: float = 60.0
) -> str:
    """Returns the id of the framework torn down; MesosError when the master cannot be reached."""
    framework_id = await store.framework_id()
    if framework_id is None:
        raise MesosError("no framework id is stored: nothing to tear down")

    ready = asyncio.Event()
    refused: list[str] = []

    async def consume() -> None:  # the subscription must stay open while TEARDOWN is sent
        async for event in client.events():
            if isinstance(event, Subscribed):
                ready.set()
            elif isinstance(event, ErrorEvent):
                refused.append(event.message)
                ready.set()

    consumer = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(ready.wait(), subscribe_within)
        if refused:
            raise MesosError(f"the master refused the subscription: {refused[0]}")
        await client.teardown()
    except TimeoutError as exc:
        raise MesosError(f"no subscription within {subscribe_within:.0f} s") from exc
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await client.close()
    for job_id in await store.active_jobs():
        await store.transition_job(
            job_id, JobState.FAILED, now=now, fields={"reason": "framework torn down by the operator"}
        )
    await store.forget_framework_id()
    log.warning("framework torn down", extra={"framework": framework_id})
    return framework_id
