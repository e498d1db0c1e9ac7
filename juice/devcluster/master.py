"""The dev master: subscriptions, calls, offers, task updates and timers, on one asyncio loop.

Decisions are made by the pure modules (state, allocation, validation, reconcile, updates); this module
carries them out: it sends events on the subscription streams and drives the agent runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from juice.devcluster import allocation, events, failures, protocol
from juice.devcluster.protocol import Call
from juice.devcluster.settings import MasterSettings
from juice.devcluster.state import ClusterState, Framework, validate_framework
from juice.devcluster.stateview import master_state
from juice.devcluster.stream import Subscription
from juice.devcluster.tasks import AckMode, TaskTracker
from juice.devcluster.validation import validate_offers, validate_task
from juice.devcluster.wire import CallRefused, InvalidCall, JsonObject

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.05


class Master:
    def __init__(
        self,
        settings: MasterSettings,
        state: ClusterState,
        *,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        leading: bool = True,
    ) -> None:
        self.settings = settings
        self.state = state
        self.host = "127.0.0.1"
        self.port = 5050
        # Leadership: a standby master (ZooKeeper mode) redirects to `leader` and makes no offers.
        self.leading = leading
        self.leader: JsonObject | None = None
        self.elected_at: float | None = wallclock() if leading else None
        self.reregister_at: float | None = None
        self._clock = clock
        self._wallclock = wallclock
        self._subs: dict[str, Subscription] = {}
        self.tasks = TaskTracker(
            settings,
            state,
            deliver=self._deliver,
            request_allocation=self.request_allocation,
            clock=clock,
            wallclock=wallclock,
        )
        self._allocation_pending = False
        self._next_allocation = 0.0
        self._ticker: asyncio.Task[None] | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        if self.leading:
            self.leader = self.info
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self.close_subscriptions()
        self.tasks.forget_delayed_acks()
        await self.tasks.runtime.shutdown()

    @property
    def info(self) -> JsonObject:
        """This master's MasterInfo (as in SUBSCRIBED and in its ZooKeeper node)."""
        return events.master_info(self.state.master_id, self.host, self.port)

    @property
    def clock(self) -> float:
        return self._clock()

    @property
    def wallclock(self) -> float:
        return self._wallclock()

    def state_document(self) -> JsonObject:
        """The `/master/state` document."""
        return master_state(
            self.state, host=self.host, port=self.port, leader=self.leader, elected_at=self.elected_at
        )

    def set_leadership(self, elected: bool, leader: JsonObject | None) -> None:
        """ZooKeeper membership changed: `elected` when this master's node is the lowest; `leader` is the
        leading master's MasterInfo (None when unknown)."""
        self.leader = leader
        if elected and not self.leading:
            self.leading = True
            self.elected_at = self._wallclock()
            logger.info("master elected", extra={"master_id": self.state.master_id})
            self.request_allocation()
        elif not elected and self.leading:
            self.leading = False
            self.elected_at = None
            logger.warning("master lost leadership", extra={"master_id": self.state.master_id})
            self.close_subscriptions()
            self.state.offers.clear()
        else:
            logger.info("leader changed", extra={"leader": None if leader is None else leader.get("pid")})

    def close_subscriptions(self) -> None:
        """End every event stream without an ERROR (the connections just drop)."""
        for sub in list(self._subs.values()):
            sub.close()
        self._subs.clear()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.tick()
            except Exception:
                logger.exception("dev master timer tick failed")

    def tick(self) -> None:
        now = self._clock()
        if self.reregister_at is not None and now >= self.reregister_at:
            failures.reregister_agents(self)
        for sub in list(self._subs.values()):
            if now >= sub.next_heartbeat_at:
                sub.send(events.heartbeat())
                sub.next_heartbeat_at = now + self.settings.heartbeat_interval
        self.tasks.retry_due()
        for framework in list(self.state.frameworks.values()):
            if framework.failover_deadline is not None and framework.failover_deadline <= now:
                logger.info("framework failover timeout expired", extra={"framework_id": framework.id})
                self._remove_framework(framework)
        for offer in allocation.expired_offers(
            self.state, now=now, offer_timeout=self.settings.offer_timeout
        ):
            self.rescind(offer.id)
        if now >= self._next_allocation:
            self._allocate()

    # ----------------------------------------------------------------- delivery

    def _deliver(self, framework_id: str, event: JsonObject) -> None:
        """Events for a disconnected framework are dropped (agents retry updates)."""
        sub = self._subs.get(framework_id)
        if sub is not None:
            sub.send(event)

    def request_allocation(self) -> None:
        if self._allocation_pending or not self.leading:
            return
        self._allocation_pending = True
        asyncio.get_running_loop().call_soon(self._allocate)

    def _allocate(self) -> None:
        self._allocation_pending = False
        if not self.leading:
            return
        now = self._clock()
        self._next_allocation = now + self.settings.allocation_interval
        by_framework: dict[str, list[JsonObject]] = {}
        for offer in allocation.allocate(self.state, now=now):
            framework = self.state.frameworks[offer.framework_id]
            agent = self.state.agents[offer.agent_id]
            by_framework.setdefault(offer.framework_id, []).append(events.offer_json(offer, agent, framework))
            logger.info(
                "offer made",
                extra={"offer_id": offer.id, "framework_id": offer.framework_id, "agent_id": offer.agent_id},
            )
        for framework_id, offers in by_framework.items():
            self._deliver(framework_id, events.offers(offers))

    def rescind(self, offer_id: str) -> None:
        offer = self.state.remove_offer(offer_id)
        if offer is not None:
            logger.info("offer rescinded", extra={"offer_id": offer_id, "framework_id": offer.framework_id})
            self._deliver(offer.framework_id, events.rescind(offer_id))
            self.request_allocation()

    def _discard_offers(self, framework_id: str) -> None:
        for offer in self.state.offers_of(framework_id):
            self.state.remove_offer(offer.id)

    # ----------------------------------------------------------------- subscriptions

    def new_subscription(self) -> Subscription:
        return Subscription(str(uuid.uuid4()), split_records=self.settings.split_records)

    def subscribe(self, call: Call, sub: Subscription) -> None:
        """Handle a parsed SUBSCRIBE whose 200 stream is `sub` (refusals become ERROR + close)."""
        request = protocol.parse_subscribe(call)
        spec = request.framework
        problem = validate_framework(spec, request.suppressed_roles)
        framework_id = spec.framework_id
        if problem is None and framework_id in self.state.completed_frameworks:
            problem = "Framework has been removed"
        existing = None if framework_id is None else self.state.frameworks.get(framework_id)
        if problem is None and existing is not None and existing.spec.principal != spec.principal:
            problem = "Changing framework's principal is not allowed"
        if problem is not None:
            logger.info("subscription refused", extra={"framework_id": framework_id, "error": problem})
            sub.send(events.error(problem))
            sub.close()
            return
        if existing is not None:
            framework = existing
            self._take_over(framework, replace(spec, user=existing.spec.user))
        else:
            framework = Framework(framework_id or self.state.new_framework_id(), spec)
            self.state.frameworks[framework.id] = framework
        framework.connected = True
        framework.failover_deadline = None
        framework.suppressed = set(request.suppressed_roles)
        sub.framework_id = framework.id
        self._subs[framework.id] = sub
        sub.send(events.subscribed(framework.id, self.settings.heartbeat_interval, self.info))
        sub.send(events.heartbeat())
        now = self._clock()
        sub.next_heartbeat_at = now + self.settings.heartbeat_interval
        logger.info("framework subscribed", extra={"framework_id": framework.id, "stream_id": sub.stream_id})
        self.tasks.resend_pending(framework.id)
        self.request_allocation()

    def _take_over(self, framework: Framework, spec: protocol.FrameworkSpec) -> None:
        old = self._subs.pop(framework.id, None)
        if old is not None:
            logger.info("framework failed over", extra={"framework_id": framework.id})
            old.send(events.error("Framework failed over"))
            old.close()
        framework.spec = spec
        self._discard_offers(framework.id)

    def client_disconnected(self, sub: Subscription) -> None:
        framework_id = sub.framework_id
        if framework_id is None or self._subs.get(framework_id) is not sub:
            return
        self._disconnect(self.state.frameworks[framework_id])

    def _disconnect(self, framework: Framework) -> None:
        sub = self._subs.pop(framework.id, None)
        if sub is not None:
            sub.close()
        framework.connected = False
        self._discard_offers(framework.id)
        timeout = framework.spec.failover_timeout
        logger.info(
            "framework disconnected", extra={"framework_id": framework.id, "failover_timeout": timeout}
        )
        if timeout <= 0:
            self._remove_framework(framework)
        else:
            framework.failover_deadline = self._clock() + timeout
        self.request_allocation()

    def _remove_framework(self, framework: Framework) -> None:
        """TEARDOWN or failover expiry: kill every task silently, drop offers/queues/filters, close."""
        self.tasks.discard_framework(framework)
        framework.filters.clear()
        framework.connected = False
        framework.failover_deadline = None
        self._discard_offers(framework.id)
        sub = self._subs.pop(framework.id, None)
        if sub is not None:
            sub.close()
        del self.state.frameworks[framework.id]
        self.state.completed_frameworks[framework.id] = framework
        logger.info("framework removed", extra={"framework_id": framework.id})
        self.request_allocation()

    # ----------------------------------------------------------------- calls

    def authorize(self, call: Call, stream_id: str | None) -> Framework:
        framework = self.state.frameworks.get(call.framework_id or "")
        if framework is None:
            raise InvalidCall("Framework cannot be found")
        if not framework.connected:
            raise CallRefused(403, "Framework is not subscribed")
        if stream_id is None:
            raise InvalidCall("All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        if stream_id != self._subs[framework.id].stream_id:
            raise InvalidCall(
                f"The stream ID '{stream_id}' included in this request didn't match the stream ID currently"
                f" associated with framework ID {framework.id}"
            )
        return framework

    def update_framework(self, call: Call, stream_id: str | None) -> None:
        """UPDATE_FRAMEWORK (answered 200): new name/roles/capabilities/suppressed roles, same stream."""
        body = dict(call.body)
        request = protocol.parse_subscribe(Call("SUBSCRIBE", call.framework_id, body))
        framework = self.authorize(call, stream_id)
        spec = request.framework
        problem = validate_framework(spec, request.suppressed_roles)
        if problem is None and spec.principal != framework.spec.principal:
            problem = "Changing framework's principal is not allowed"
        if problem is not None:
            raise InvalidCall(problem)
        framework.spec = replace(spec, user=framework.spec.user)
        framework.suppressed = set(request.suppressed_roles)
        for offer in self.state.offers_of(framework.id):
            if offer.role not in framework.roles:
                self.rescind(offer.id)
        logger.info("framework updated", extra={"framework_id": framework.id})
        self.request_allocation()

    def teardown(self, framework: Framework) -> None:
        logger.info("framework teardown", extra={"framework_id": framework.id})
        self._remove_framework(framework)

    def decline(self, framework: Framework, offer_ids: tuple[str, ...], refuse_seconds: float) -> None:
        now = self._clock()
        for offer_id in offer_ids:
            offer = self.state.offers.get(offer_id)
            if offer is None or offer.framework_id != framework.id:
                continue
            self.state.remove_offer(offer_id)
            allocation.add_filter(
                framework,
                offer.role,
                offer.agent_id,
                offer.resources,
                refuse_seconds,
                now=now,
                allocation_interval=self.settings.allocation_interval,
            )
            logger.info("offer declined", extra={"offer_id": offer_id, "framework_id": framework.id})
        self.request_allocation()

    def suppress(self, framework: Framework, roles: tuple[str, ...] | None) -> None:
        allocation.suppress(framework, roles)
        logger.info("offers suppressed", extra={"framework_id": framework.id, "roles": roles})

    def revive(self, framework: Framework, roles: tuple[str, ...] | None) -> None:
        allocation.revive(framework, roles)
        logger.info("offers revived", extra={"framework_id": framework.id, "roles": roles})
        self.request_allocation()

    def accept(self, framework: Framework, accept: protocol.Accept) -> None:
        tasks = [t for op in accept.operations if op.type in ("LAUNCH", "LAUNCH_GROUP") for t in op.tasks]
        problem = validate_offers(self.state, framework.id, accept.offer_ids)
        if problem is not None:
            # Like master.cpp: every listed offer that still exists is discarded, whoever it was made to
            # (no RESCIND, no filter); its resources go back to the pool.
            for offer_id in accept.offer_ids:
                self.state.remove_offer(offer_id)
            for task in tasks:
                self.tasks.master_update(
                    framework,
                    task.task_id,
                    "TASK_DROPPED",
                    "REASON_INVALID_OFFERS",
                    f"Task launched with invalid offers: {problem}",
                    agent_id=task.agent_id,
                )
            self.request_allocation()
            return
        offers = [self.state.offers.pop(offer_id) for offer_id in accept.offer_ids]
        agent_id, role = offers[0].agent_id, offers[0].role
        remaining = offers[0].resources
        for offer in offers[1:]:
            remaining = remaining + offer.resources
        pending: set[str] = set()
        for op in accept.operations:
            for task in op.tasks:
                if op.type == "LAUNCH_GROUP":
                    problem = "LAUNCH_GROUP is not supported by the dev cluster"
                else:
                    problem = validate_task(
                        framework,
                        task,
                        agent_id=agent_id,
                        role=role,
                        remaining=remaining,
                        pending_ids=pending,
                    )
                if problem is not None:
                    self.tasks.master_update(
                        framework,
                        task.task_id,
                        "TASK_ERROR",
                        "REASON_TASK_INVALID",
                        problem,
                        agent_id=task.agent_id,
                    )
                    continue
                remaining = remaining - task.resources.resources
                pending.add(task.task_id)
                self.tasks.launch(framework, task, role)
            if op.type not in ("LAUNCH", "LAUNCH_GROUP"):
                logger.warning("offer operation ignored", extra={"framework_id": framework.id, "op": op.type})
        allocation.add_filter(
            framework,
            role,
            agent_id,
            remaining,
            accept.refuse_seconds,
            now=self._clock(),
            allocation_interval=self.settings.allocation_interval,
        )
        self.request_allocation()

    # ----------------------------------------------------------------- fault injection

    # Agent loss, mark-gone and master restart live in `failures` (they act on this master).

    def fail_task(self, task_id: str) -> bool:
        return self.tasks.fail_task(task_id)

    def drop_acknowledgements(self, framework_id: str, on: bool) -> None:
        self.tasks.drop_acknowledgements(framework_id, on)

    def set_ack_mode(self, framework_id: str, mode: AckMode) -> None:
        self.tasks.set_ack_mode(framework_id, mode)

    def close_subscription(self, framework_id: str) -> bool:
        framework = self.state.frameworks.get(framework_id)
        if framework is None or not framework.connected:
            return False
        self._disconnect(framework)
        return True

    def set_recovering(self, agent_ids: set[str]) -> None:
        self.state.recovering_agents = set(agent_ids)
