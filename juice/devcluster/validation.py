"""Master-side validation of ACCEPT: the offers (→ TASK_LOST/DROPPED) and each task (→ TASK_ERROR)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from juice.devcluster.protocol import TaskSpec
from juice.devcluster.resources import Resources
from juice.devcluster.state import ClusterState, Framework, Offer

MAX_ID_LENGTH = 255


def validate_offers(state: ClusterState, framework_id: str, offer_ids: Sequence[str]) -> str | None:
    """Every id once, outstanding, owned by this framework, one agent, one allocation role."""
    if not offer_ids:
        return "No offers specified"
    if len(set(offer_ids)) != len(offer_ids):
        duplicate = next(o for o in offer_ids if offer_ids.count(o) > 1)
        return f"Duplicate offer {duplicate} in offer list"
    offers: list[Offer] = []
    for offer_id in offer_ids:
        offer = state.offers.get(offer_id)
        if offer is None:
            return f"Offer {offer_id} is no longer valid"
        if offer.framework_id != framework_id:
            return (
                f"Offer {offer_id} has invalid framework {offer.framework_id}"
                f" while framework {framework_id} is expected"
            )
        offers.append(offer)
    if len({offer.agent_id for offer in offers}) > 1:
        return "Aggregated offers must belong to one single agent"
    if len({offer.role for offer in offers}) > 1:
        return "Aggregated offers must be allocated to the same role"
    return None


def validate_task_id(task_id: str) -> str | None:
    if not task_id:
        return "ID must not be empty"
    if len(task_id) > MAX_ID_LENGTH:
        return f"ID must not be longer than {MAX_ID_LENGTH} characters"
    if task_id in (".", ".."):
        return "'.' and '..' are reserved IDs"
    if "/" in task_id or any(ord(ch) < 32 or ord(ch) == 127 for ch in task_id):
        return "ID must not contain '/' or control characters"
    return None


def _validate_basics(
    framework: Framework, task: TaskSpec, *, agent_id: str, pending_ids: Collection[str]
) -> str | None:
    problem = validate_task_id(task.task_id)
    if problem is not None:
        return f"Task ID '{task.task_id}' is invalid: {problem}"
    if task.task_id in framework.tasks or task.task_id in framework.unreachable_tasks:
        return f"Task has duplicate ID: {task.task_id}"
    if task.task_id in pending_ids:
        return f"Task has duplicate ID: {task.task_id}"
    if task.agent_id != agent_id:
        return f"Task uses invalid agent: {task.agent_id} (the offers are for agent {agent_id})"
    if task.kill_grace_ns is not None and task.kill_grace_ns < 0:
        return "Task's 'kill_policy.grace_period' must be non-negative"
    if task.max_completion_ns is not None and task.max_completion_ns < 0:
        return "Task's 'max_completion_time' must be non-negative"
    return None


def _validate_command(task: TaskSpec) -> str | None:
    if task.container is not None and task.container.type == "DOCKER" and task.container.docker_image is None:
        return "DockerInfo 'docker' is not set for DOCKER typed ContainerInfo"
    if (task.command is None) == (not task.has_executor):
        return "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    if task.command is not None and task.command.invalid is not None:
        return f"Task's CommandInfo is invalid: {task.command.invalid}"
    return None


def validate_task(
    framework: Framework,
    task: TaskSpec,
    *,
    agent_id: str,
    role: str,
    remaining: Resources,
    pending_ids: Collection[str],
) -> str | None:
    """The §2 checks in Mesos' order; returns the TASK_ERROR message, or None when the task may launch."""
    problem = _validate_basics(framework, task, agent_id=agent_id, pending_ids=pending_ids)
    if problem is not None:
        return problem
    parsed = task.resources
    if parsed.invalid is not None:
        return parsed.invalid
    if parsed.resources.is_empty():
        return "Task uses no resources"
    if len(parsed.allocation_roles) > 1:
        return "Task uses resources allocated to more than one role"
    problem = _validate_command(task)
    if problem is not None:
        return problem
    if parsed.allocation_roles - {role} or not remaining.contains(parsed.resources):
        return f"Task uses more resources {parsed.resources.describe()} than available {remaining.describe()}"
    return None
