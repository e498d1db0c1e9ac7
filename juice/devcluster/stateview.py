"""The `/master/state` document: a subset of what a Mesos master reports, in the same shape."""

from __future__ import annotations

from juice.devcluster.events import MESOS_VERSION
from juice.devcluster.resources import Resources
from juice.devcluster.state import ClusterState, Framework, Task, is_terminal
from juice.devcluster.wire import JsonObject


def _task(task: Task) -> JsonObject:
    return {
        "id": task.task_id,
        "name": task.spec.name,
        "framework_id": task.framework_id,
        "agent_id": task.agent_id,
        "slave_id": task.agent_id,
        "state": task.state,
        "role": task.role,
        "resources": task.resources.to_state(),
    }


def _framework(state: ClusterState, framework: Framework) -> JsonObject:
    offers = state.offers_of(framework.id)
    used = Resources()
    for task in framework.tasks.values():
        if not is_terminal(task.state):
            used = used + task.resources
    return {
        "id": framework.id,
        "name": framework.spec.name,
        "user": framework.spec.user,
        "active": framework.connected,
        "connected": framework.connected,
        "roles": list(framework.roles),
        "suppressed_roles": sorted(framework.suppressed),
        "capabilities": sorted(framework.spec.capabilities),
        "failover_timeout": framework.spec.failover_timeout,
        "used_resources": used.to_state(),
        "tasks": [_task(task) for task in framework.tasks.values()],
        "unreachable_tasks": [_task(task) for task in framework.unreachable_tasks.values()],
        "offers": [
            {
                "id": o.id,
                "framework_id": o.framework_id,
                "agent_id": o.agent_id,
                "role": o.role,
                "resources": o.resources.to_state(),
            }
            for o in offers
        ],
    }


def master_state(
    state: ClusterState,
    *,
    host: str,
    port: int,
    leader: JsonObject | None = None,
    elected_at: float | None = None,
) -> JsonObject:
    """`leader` is the leading master's MasterInfo (if known); `elected_at` is set while this one leads."""
    agents = [
        {
            "id": agent.id,
            "hostname": agent.hostname,
            "port": agent.port,
            "active": agent.reachable and agent.id not in state.recovering_agents,
            "gone": agent.gone,
            "attributes": dict(agent.attributes),
            "resources": agent.total.to_state(),
            "used_resources": state.used(agent.id).to_state(),
            "offered_resources": state.offered(agent.id).to_state(),
        }
        for agent in state.agents.values()
    ]
    document: JsonObject = {
        "version": MESOS_VERSION,
        "id": state.master_id,
        "pid": f"master@{host}:{port}",
        "hostname": host,
        "elected": elected_at is not None,
        "activated_slaves": sum(1 for a in state.agents.values() if a.reachable),
        "frameworks": [_framework(state, f) for f in state.frameworks.values()],
        "completed_frameworks": [
            {"id": f.id, "name": f.spec.name, "active": False, "connected": False}
            for f in state.completed_frameworks.values()
        ],
        "agents": agents,
    }
    if elected_at is not None:
        document["elected_time"] = elected_at
    if leader is not None:
        document["leader"] = leader.get("pid")
        document["leader_info"] = leader
    return document
