"""Answers to RECONCILE (and to KILL of an unknown task), as the master computes them (§3)."""

from __future__ import annotations

from collections.abc import Sequence

from juice.devcluster.events import TaskStatus
from juice.devcluster.state import ClusterState, Framework, Task


def _status(
    framework: Framework,
    task_id: str,
    state: str,
    agent_id: str | None,
    message: str,
    *,
    now: float,
    unreachable_time: float | None = None,
) -> TaskStatus:
    return TaskStatus(
        task_id=task_id,
        state=framework.visible_state(state),
        source="SOURCE_MASTER",
        agent_id=agent_id,
        timestamp=now,
        reason="REASON_RECONCILIATION",
        message=message,
        unreachable_time=unreachable_time,
    )


def _known(framework: Framework, task: Task, *, now: float) -> TaskStatus:
    return _status(
        framework,
        task.task_id,
        task.reported_state,
        task.agent_id,
        "Reconciliation: Latest task state",
        now=now,
    )


def explicit(
    state: ClusterState, framework: Framework, tasks: Sequence[tuple[str, str | None]], *, now: float
) -> list[TaskStatus]:
    """One answer per task, except for tasks whose agent is still recovering (no reply at all)."""
    answers: list[TaskStatus] = []
    for task_id, agent_id in tasks:
        task = framework.tasks.get(task_id)
        if task is not None:
            answers.append(_known(framework, task, now=now))
            continue
        unreachable = framework.unreachable_tasks.get(task_id)
        known_agent = unreachable.agent_id if unreachable is not None and agent_id is None else agent_id
        answer = _unknown(state, framework, task_id, known_agent, now=now)
        if answer is not None:
            answers.append(answer)
    return answers


def _unknown(
    state: ClusterState, framework: Framework, task_id: str, agent_id: str | None, *, now: float
) -> TaskStatus | None:
    if agent_id is not None and agent_id in state.recovering_agents:
        return None
    if agent_id is None and state.recovering_agents:
        return None
    agent = None if agent_id is None else state.agents.get(agent_id)
    if agent is not None and agent.gone:
        return _status(
            framework,
            task_id,
            "TASK_GONE_BY_OPERATOR",
            agent_id,
            "Reconciliation: Task is gone (its agent was marked gone)",
            now=now,
        )
    if agent is not None and agent.reachable:
        return _status(
            framework, task_id, "TASK_GONE", agent_id, "Reconciliation: Task is unknown to the agent", now=now
        )
    if agent is not None:
        return _status(
            framework,
            task_id,
            "TASK_UNREACHABLE",
            agent_id,
            "Reconciliation: Task is unreachable",
            now=now,
            unreachable_time=agent.unreachable_since,
        )
    return _status(framework, task_id, "TASK_UNKNOWN", agent_id, "Reconciliation: Task is unknown", now=now)


def implicit(framework: Framework, *, now: float) -> list[TaskStatus]:
    """Every task the master tracks for the framework (terminal but unacknowledged ones included)."""
    return [_known(framework, task, now=now) for task in framework.tasks.values()]
