"""Tasks on the agents as the master sees them: launch, status-update streams, kill, ACK, reconcile.

Agent-side reports become status updates with a uuid, queued per task (one in flight, retried until
acknowledged); master-side updates (TASK_ERROR, invalid offers, reconciliation, agent loss) have no uuid.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from juice.devcluster import events, protocol, reconcile
from juice.devcluster.agent import AgentRuntime, Key
from juice.devcluster.events import TaskStatus
from juice.devcluster.launch import LaunchFailed, plan_launch
from juice.devcluster.protocol import TaskSpec
from juice.devcluster.settings import MasterSettings
from juice.devcluster.state import ClusterState, Framework, Task, is_terminal
from juice.devcluster.updates import AckResult, StatusUpdateManager
from juice.devcluster.wire import JsonObject

logger = logging.getLogger(__name__)

DEFAULT_KILL_GRACE = 3.0

AckModeName = Literal["normal", "drop", "delay"]


@dataclass(frozen=True)
class AckMode:
    """How the master treats a framework's ACKNOWLEDGE calls (a fault-injection knob)."""

    mode: AckModeName = "normal"
    seconds: float = 0.0


class TaskTracker:
    def __init__(
        self,
        settings: MasterSettings,
        state: ClusterState,
        *,
        deliver: Callable[[str, JsonObject], None],
        request_allocation: Callable[[], None],
        clock: Callable[[], float],
        wallclock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.state = state
        self._deliver = deliver
        self.request_allocation = request_allocation
        self._clock = clock
        self._wallclock = wallclock
        self._updates = StatusUpdateManager(settings.update_retry_initial, settings.update_retry_max)
        self.runtime = AgentRuntime(self._on_report, simulate_seconds=settings.simulate_seconds)
        self._ack_modes: dict[str, AckMode] = {}
        self._delayed_acks: set[asyncio.TimerHandle] = set()

    def _forward(self, framework_id: str, status: TaskStatus) -> None:
        """An agent's update reaches the master only once that agent is registered (not recovering)."""
        if status.agent_id in self.state.recovering_agents:
            return
        self._deliver(framework_id, events.update(status))

    def retry_due(self) -> None:
        for (framework_id, _), status in self._updates.due(now=self._clock()):
            self._forward(framework_id, status)

    def resend_pending(self, framework_id: str) -> None:
        """On (re-)subscribe the agents resend every unacknowledged head at once."""
        for _, status in self._updates.resend_all(framework_id, now=self._clock()):
            self._forward(framework_id, status)

    def discard_framework(self, framework: Framework) -> None:
        """Kill every task of a removed framework without any update."""
        for task in framework.tasks.values():
            self.runtime.discard((framework.id, task.task_id), self._grace(task.spec, None))
        framework.tasks.clear()
        framework.unreachable_tasks.clear()
        self._updates.drop_framework(framework.id)
        self._ack_modes.pop(framework.id, None)

    def master_update(
        self,
        framework: Framework,
        task_id: str,
        state: str,
        reason: str,
        message: str,
        *,
        agent_id: str | None,
        unreachable_time: float | None = None,
    ) -> None:
        status = TaskStatus(
            task_id=task_id,
            state=framework.visible_state(state),
            source="SOURCE_MASTER",
            agent_id=agent_id,
            timestamp=self._wallclock(),
            reason=reason,
            message=message,
            unreachable_time=unreachable_time,
        )
        logger.info(
            "master task update",
            extra={"framework_id": framework.id, "task_id": task_id, "state": status.state, "reason": reason},
        )
        self._deliver(framework.id, events.update(status))

    def launch(self, framework: Framework, spec: TaskSpec, role: str) -> None:
        task = Task(spec.task_id, framework.id, spec.agent_id, role, spec.resources.resources, spec)
        framework.tasks[spec.task_id] = task
        key = (framework.id, spec.task_id)
        logger.info(
            "task launching",
            extra={"framework_id": framework.id, "task_id": spec.task_id, "agent_id": spec.agent_id},
        )
        max_completion = None if spec.max_completion_ns is None else spec.max_completion_ns / 1e9
        if self.settings.simulate_seconds is not None:
            self.runtime.launch(key, None, max_completion=max_completion)
            return
        container_id = str(uuid.uuid4())
        sandbox = (
            self.settings.work_dir
            / "agents"
            / spec.agent_id
            / "frameworks"
            / framework.id
            / "executors"
            / spec.task_id
            / "runs"
            / container_id
        )
        try:
            plan = plan_launch(
                spec,
                sandbox=sandbox,
                container_id=container_id,
                allocation_role=role if framework.multi_role else None,
                entrypoints=self.settings.image_entrypoints,
                host_env=os.environ,
                agent_env=self.settings.agent_env,
            )
        except LaunchFailed as exc:
            self._on_report(key, "TASK_FAILED", "SOURCE_AGENT", "REASON_CONTAINER_LAUNCH_FAILED", str(exc))
            return
        self.runtime.launch(key, plan, max_completion=max_completion)

    def _on_report(self, key: Key, state: str, source: str, reason: str | None, message: str | None) -> None:
        """An agent-side status update: record the latest state, queue it, send it if it is the head."""
        task = self.state.agent_task(*key)
        if task is None:
            return
        status = TaskStatus(
            task_id=task.task_id,
            state=state,
            source=source,
            agent_id=task.agent_id,
            timestamp=self._wallclock(),
            reason=reason,
            message=message,
            uuid=os.urandom(16),
            executor_id=task.task_id if source == "SOURCE_EXECUTOR" else None,
        )
        was_terminal = is_terminal(task.state)
        task.state = state
        logger.info("task state", extra={"framework_id": key[0], "task_id": key[1], "state": state})
        head = self._updates.enqueue(key, status, now=self._clock())
        if head is not None:
            task.status_update_state = head.state
            self._forward(key[0], head)
        if is_terminal(state) and not was_terminal:
            self.request_allocation()

    def _grace(self, spec: TaskSpec, kill_grace_ns: int | None) -> float:
        if kill_grace_ns is not None:
            return kill_grace_ns / 1e9
        if spec.kill_grace_ns is not None:
            return spec.kill_grace_ns / 1e9
        return DEFAULT_KILL_GRACE

    def kill(self, framework: Framework, kill: protocol.Kill) -> None:
        task = framework.tasks.get(kill.task_id)
        if task is None:
            self.reconcile(framework, [(kill.task_id, kill.agent_id)])
            return
        if kill.agent_id is not None and kill.agent_id != task.agent_id:
            logger.warning(
                "kill names the wrong agent; ignored",
                extra={"framework_id": framework.id, "task_id": kill.task_id},
            )
            return
        if is_terminal(task.state):
            return
        logger.info("task kill", extra={"framework_id": framework.id, "task_id": task.task_id})
        self.runtime.kill(
            (framework.id, task.task_id),
            self._grace(task.spec, kill.grace_ns),
            killing_state=framework.has("TASK_KILLING_STATE"),
        )

    def acknowledge(self, framework: Framework, ack: protocol.Acknowledge) -> None:
        """Apply the ACK now, drop it, or apply it later, as the framework's ack mode says."""
        mode = self._ack_modes.get(framework.id, AckMode())
        if mode.mode == "drop":
            logger.info("ack dropped", extra={"framework_id": framework.id, "task_id": ack.task_id})
            return
        if mode.mode == "delay":
            loop = asyncio.get_running_loop()
            handle: asyncio.TimerHandle | None = None

            def apply_later() -> None:
                if handle is not None:
                    self._delayed_acks.discard(handle)
                self._apply_delayed_ack(framework.id, ack)

            handle = loop.call_later(mode.seconds, apply_later)
            self._delayed_acks.add(handle)
            return
        self._apply_ack(framework, ack)

    def _apply_delayed_ack(self, framework_id: str, ack: protocol.Acknowledge) -> None:
        framework = self.state.frameworks.get(framework_id)
        if framework is not None:
            self._apply_ack(framework, ack)

    def _apply_ack(self, framework: Framework, ack: protocol.Acknowledge) -> None:
        """An ACK for an unknown, unreachable or not yet re-registered agent, or a stale uuid, is dropped."""
        agent = self.state.agents.get(ack.agent_id)
        if agent is None or not agent.reachable or ack.agent_id in self.state.recovering_agents:
            return
        key = (framework.id, ack.task_id)
        result = self._updates.acknowledge(key, ack.uuid, now=self._clock())
        task = framework.tasks.get(ack.task_id)
        if result.result is AckResult.IGNORED or task is None:
            return
        if result.result is AckResult.TERMINAL_ACKED:
            del framework.tasks[ack.task_id]
            logger.info(
                "task removed after terminal ack",
                extra={"framework_id": framework.id, "task_id": ack.task_id},
            )
            return
        task.status_update_state = None if result.next_status is None else result.next_status.state
        if result.next_status is not None:
            self._forward(framework.id, result.next_status)

    def reconcile(self, framework: Framework, tasks: list[tuple[str, str | None]]) -> None:
        now = self._wallclock()
        answers = (
            reconcile.explicit(self.state, framework, tasks, now=now)
            if tasks
            else reconcile.implicit(framework, now=now)
        )
        for status in answers:
            self._deliver(framework.id, events.update(status))

    def shutdown_executor(self, framework: Framework, executor_id: str | None, agent_id: str | None) -> None:
        task = framework.tasks.get(executor_id or "")
        if task is not None and (agent_id is None or agent_id == task.agent_id):
            self.kill(framework, protocol.Kill(task.task_id, task.agent_id, None))

    def agent_removed(self, agent_id: str, when: float, *, state: str, reason: str, message: str) -> None:
        """The agent's tasks end for the master: `state` (TASK_UNREACHABLE or TASK_GONE_BY_OPERATOR; TASK_LOST
        without PARTITION_AWARE), no uuid; every framework gets FAILURE{agent_id}. Processes are killed."""
        for framework in self.state.task_owners():
            for task in [t for t in framework.tasks.values() if t.agent_id == agent_id]:
                key = (framework.id, task.task_id)
                self.runtime.discard(key, 0.0)
                self._updates.drop(key)
                del framework.tasks[task.task_id]
                if is_terminal(task.state) or framework.id in self.state.held_frameworks:
                    continue
                unreachable = state == "TASK_UNREACHABLE"
                task.state = framework.visible_state(state)
                if unreachable:
                    task.unreachable_time = when
                    framework.unreachable_tasks[task.task_id] = task
                self.master_update(
                    framework,
                    task.task_id,
                    state,
                    reason,
                    message,
                    agent_id=agent_id,
                    unreachable_time=when if unreachable else None,
                )
        for framework in self.state.frameworks.values():
            self._deliver(framework.id, events.failure(agent_id))

    def unreachable_gone(self, agent_id: str) -> None:
        """An unreachable agent was marked gone: its unreachable tasks become TASK_GONE_BY_OPERATOR."""
        for framework in self.state.frameworks.values():
            for task in [t for t in framework.unreachable_tasks.values() if t.agent_id == agent_id]:
                del framework.unreachable_tasks[task.task_id]
                self.master_update(
                    framework,
                    task.task_id,
                    "TASK_GONE_BY_OPERATOR",
                    "REASON_AGENT_REMOVED_BY_OPERATOR",
                    "Agent has been marked gone",
                    agent_id=agent_id,
                )

    def fail_task(self, task_id: str) -> bool:
        owners = {framework.id for framework in self.state.task_owners()}
        return any(self.runtime.fail((fid, task_id)) for fid in owners)

    def set_ack_mode(self, framework_id: str, mode: AckMode) -> None:
        logger.info(
            "ack mode set", extra={"framework_id": framework_id, "mode": mode.mode, "seconds": mode.seconds}
        )
        if mode.mode == "normal":
            self._ack_modes.pop(framework_id, None)
        else:
            self._ack_modes[framework_id] = mode

    def drop_acknowledgements(self, framework_id: str, on: bool) -> None:
        self.set_ack_mode(framework_id, AckMode("drop") if on else AckMode())

    def forget_delayed_acks(self) -> None:
        """ACKs still waiting to be applied are lost (master restart, shutdown)."""
        for handle in self._delayed_acks:
            handle.cancel()
        self._delayed_acks.clear()
