"""The scheduler service: one asyncio loop over Mesos events, intake, planning and timers.

Effects always run in the same order: persist the intent in Redis, then call Mesos, then acknowledge.
`run(until_idle=True)` returns once every job has ended and the intake stream is drained (tests, burst
runs); otherwise it runs until `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from juice.core.plan import PlanLimits
from juice.core.reasons import FailureKind
from juice.core.states import JobState
from juice.errors import JuiceError, LeaseLost, MesosError
from juice.mesos.messages import Disconnected, ErrorEvent, Event, Failure, Offers, Rescind, Subscribed, Update
from juice.mesos.reconcile import Reconciliation
from juice.scheduler.finisher import Finisher
from juice.scheduler.intake import Intake
from juice.scheduler.launcher import Launcher
from juice.scheduler.planner import Planner
from juice.scheduler.ports import MesosCalls
from juice.scheduler.progress import ProgressPoller
from juice.scheduler.updates import UpdateHandler
from juice.store.lease import LeaderLease
from juice.store.redis_store import RedisStore

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5


class SchedulerService:
    def __init__(
        self,
        *,
        store: RedisStore,
        mesos: MesosCalls,
        intake: Intake,
        planner: Planner,
        launcher: Launcher,
        updates: UpdateHandler,
        finisher: Finisher,
        progress: ProgressPoller,
        clock: Callable[[], float],
        rng: random.Random,
        video_task_cpus: float,
        refuse_seconds: float,
        reconcile_interval: float = 900.0,
        lease: LeaderLease | None = None,
    ) -> None:
        self.store = store
        self.mesos = mesos
        self.intake = intake
        self.planner = planner
        self.launcher = launcher
        self.updates = updates
        self.finisher = finisher
        self.progress = progress
        self._clock = clock
        self._rng = rng
        self._video_cpus = video_task_cpus
        self._refuse = refuse_seconds
        self._suppressed: bool | None = None  # unknown until subscribed
        self._subscribed = False
        self._reconciliation: Reconciliation | None = None
        self._reconcile_interval = reconcile_interval
        self._lease = lease
        self._last_reconcile = 0.0
        self._agent_cpus: dict[str, float] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._stop = asyncio.Event()
        self._wake_planner = asyncio.Event()
        launcher.bind(self.launch_failed)
        updates.bind(on_job_complete=self.job_complete, on_job_ended=self.job_ended)

    # -- status for the API and tests ---------------------------------------------------------

    @property
    def subscribed(self) -> bool:
        return self._subscribed

    @property
    def offers_suppressed(self) -> bool:
        return bool(self._suppressed)

    def parallelism(self) -> int:
        """Task slots seen in offers (each agent's largest offer), for chunk planning."""
        slots = int(sum(self._agent_cpus.values()) // self._video_cpus) if self._video_cpus > 0 else 0
        return slots or 4

    def limits_for(self, base: Callable[[int], PlanLimits]) -> Callable[[], PlanLimits]:
        return lambda: base(self.parallelism())

    # -- running ------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, until_idle: bool = False) -> None:
        if self._lease is not None:
            await self._lease.acquire()
        await self.intake.ensure_group()
        await self._recover()
        loops = [
            asyncio.create_task(self._mesos_loop(), name="mesos"),
            asyncio.create_task(self._intake_loop(), name="intake"),
            asyncio.create_task(self._planner_loop(), name="planner"),
            asyncio.create_task(self._tick_loop(until_idle), name="tick"),
        ]
        if self._lease is not None:
            loops.append(asyncio.create_task(self._lease_loop(self._lease), name="lease"))
        try:
            stopper = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([*loops, stopper], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stopper and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            for t in [*loops, *self._background]:
                t.cancel()
            for t in [*loops, *self._background]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await self.mesos.close()
            if self._lease is not None:
                await self._lease.release()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background step failed", extra={"step": task.get_name()}, exc_info=task.exception())

    async def _recover(self) -> None:
        """After a restart: resume planning and stitching where Redis says they were."""
        for job_id in await self.store.active_jobs():
            job = await self.store.get_job(job_id)
            if job is None:
                continue
            if job.state in (JobState.QUEUED, JobState.PLANNING):
                self._wake_planner.set()
            elif job.state is JobState.STITCHING:
                self._spawn(self.finisher.finish(job_id), f"stitch {job_id}")

    # -- loops --------------------------------------------------------------------------------

    async def _mesos_loop(self) -> None:
        async for event in self.mesos.events():
            try:
                await self._on_event(event)
            except JuiceError as exc:  # one bad event never stops the scheduler
                log.exception(
                    "event handling failed", extra={"event": type(event).__name__, "reason": str(exc)}
                )

    async def _lease_loop(self, lease: LeaderLease) -> None:
        """Renew the leader lease; stop the scheduler the moment it is someone else's."""
        while True:
            await asyncio.sleep(lease.ttl_seconds / 3)
            try:
                held = await lease.renew()
            except JuiceError as exc:  # Redis away: keep trying until the lease would have lapsed
                log.warning("leader lease renewal failed", extra={"reason": str(exc)})
                continue
            if not held:
                raise LeaseLost(f"the leader lease of {lease.owner} was taken over; stopping")

    async def _intake_loop(self) -> None:
        while True:
            try:
                if await self.intake.poll(block_ms=500):
                    self._wake_planner.set()
            except JuiceError as exc:
                log.warning("intake read failed", extra={"reason": str(exc)})
                await asyncio.sleep(1.0)

    async def _planner_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_planner.wait(), timeout=5.0)
            self._wake_planner.clear()
            try:
                for job_id in await self.store.active_jobs():
                    job = await self.store.get_job(job_id)
                    if job is not None and job.state in (JobState.QUEUED, JobState.PLANNING):
                        self._spawn(self._plan(job_id), f"plan {job_id}")
            except JuiceError as exc:
                log.warning("planner scan failed", extra={"reason": str(exc)})

    async def _plan(self, job_id: str) -> None:
        if await self.planner.plan(job_id):
            await self._sync_offer_flow()

    async def _tick_loop(self, until_idle: bool) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await self._tick()
                if until_idle and await self._idle():
                    log.info("idle: every job has ended")
                    self._stop.set()
                    return
            except JuiceError as exc:
                log.warning("tick failed", extra={"reason": str(exc)})

    async def _tick(self) -> None:
        if self._subscribed:
            await self._sync_offer_flow()
            if (
                self._reconciliation is None
                and self._clock() - self._last_reconcile >= self._reconcile_interval
            ):
                await self._start_reconciliation()
            await self._drive_reconciliation()
        await self.progress.maybe_poll()
        for job_id in await self.store.active_jobs():
            job = await self.store.get_job(job_id)
            if job is not None and job.state is JobState.STITCHING and not self.finisher.busy:
                self._spawn(self.finisher.finish(job_id), f"stitch {job_id}")

    async def _idle(self) -> bool:
        return (
            not await self.store.active_jobs()
            and await self.intake.lag() == 0
            and not self._background
            and self._suppressed is True
        )

    # -- events -------------------------------------------------------------------------------

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, Subscribed):
            await self._on_subscribed(event)
        elif isinstance(event, Offers):
            await self._on_offers(event)
        elif isinstance(event, Update):
            if self._reconciliation is not None:
                self._reconciliation.on_update(event.status.task_id, self._clock())
            await self.updates.on_update(event.status)
        elif isinstance(event, Rescind):
            log.info("offer rescinded", extra={"offer": event.offer_id})
        elif isinstance(event, Failure):
            log.warning(
                "agent or executor failure", extra={"agent": event.agent_id, "executor": event.executor_id}
            )
        elif isinstance(event, Disconnected):
            self._subscribed = False
            self._suppressed = None
            log.warning("mesos disconnected", extra={"reason": event.reason})
        elif isinstance(event, ErrorEvent):
            log.error("mesos error event", extra={"reason": event.message})
            if "removed" in event.message.lower():
                await self.store.forget_framework_id()

    async def _on_subscribed(self, event: Subscribed) -> None:
        known = await self.store.framework_id()
        if known != event.framework_id:
            await self.store.save_framework_id(event.framework_id)
        self._subscribed = True
        self._suppressed = False  # a (re)subscribed framework gets offers until it suppresses
        log.info(
            "mesos subscribed",
            extra={"framework": event.framework_id, "reused_id": known == event.framework_id},
        )
        await self._start_reconciliation()
        await self._drive_reconciliation()
        await self._sync_offer_flow()

    async def _start_reconciliation(self) -> None:
        """Explicit rounds for every task we believe active, then an implicit one; replaces any run."""
        self._last_reconcile = self._clock()
        self._reconciliation = Reconciliation(self._last_reconcile, dict(await self.store.active_tasks()))

    async def _on_offers(self, event: Offers) -> None:
        for offer in event.offers:
            self._agent_cpus[offer.agent_id] = max(
                self._agent_cpus.get(offer.agent_id, 0.0), offer.scalar("cpus")
            )
        await self.launcher.on_offers(event.offers)
        await self._sync_offer_flow()

    async def _drive_reconciliation(self) -> None:
        rec = self._reconciliation
        if rec is None:
            return
        batch = rec.next_batch(self._clock())
        if batch is not None:
            try:
                await self.mesos.reconcile(list(batch))
            except MesosError as exc:
                log.warning("reconcile failed", extra={"reason": str(exc)})
        if rec.done:
            self._reconciliation = None

    async def _sync_offer_flow(self) -> None:
        """REVIVE when work waits for offers, SUPPRESS when nothing does."""
        if not self._subscribed:
            return
        want = await self.store.pending_count() > 0
        try:
            if want and self._suppressed is not False:
                await self.mesos.revive()
                self._suppressed = False
                log.info("offers revived")
            elif not want and self._suppressed is not True:
                await self.mesos.suppress()
                self._suppressed = True
                log.info("offers suppressed")
        except MesosError as exc:
            log.warning("offer flow call failed", extra={"reason": str(exc)})

    # -- callbacks from the components ----------------------------------------------------------

    def job_complete(self, job_id: str) -> None:
        self.launcher.forget(job_id)
        self._spawn(self.finisher.finish(job_id), f"stitch {job_id}")

    def job_ended(self, job_id: str) -> None:
        self.launcher.forget(job_id)

    def launch_failed(self, job_id: str, key: str, task_id: str, reason: str) -> None:
        self._spawn(
            self.updates.fail_attempt(job_id, key, task_id, FailureKind.CLUSTER, reason), f"retry {task_id}"
        )
