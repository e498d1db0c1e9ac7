"""Simulated cluster failures: agent removal, an operator marking an agent gone, and a master failover.

Master failover (`restart_master`) follows what a newly elected Mesos master knows: agents and their running
tasks survive, while subscriptions, offers, frameworks and completed frameworks (all in-memory) are gone.
Every registered agent is "recovering" until it re-registers (`agent_reregister_seconds` later, or when
`reregister_agents` is called): meanwhile an explicit reconcile of a task the master does not know gets no
answer, the agent is not offered, and its status updates wait on the agent. On re-registration the
agents report their tasks again; a framework that re-subscribed gets them, and the pending (unacknowledged)
updates are sent at once. A framework that did not re-subscribe is rebuilt from the agents' data as a
disconnected framework without a failover timeout (the timer is not kept across a failover: MESOS-4659).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from juice.devcluster.master import Master

logger = logging.getLogger(__name__)


def _take_agent_down(master: Master, agent_id: str, *, state: str, reason: str, message: str) -> None:
    agent = master.state.agents[agent_id]
    agent.reachable = False
    agent.unreachable_since = master.wallclock
    master.state.recovering_agents.discard(agent_id)
    for offer in [o for o in master.state.offers.values() if o.agent_id == agent_id]:
        master.rescind(offer.id)
    master.tasks.agent_removed(agent_id, agent.unreachable_since, state=state, reason=reason, message=message)


def remove_agent(master: Master, agent_id: str) -> None:
    """The agent becomes unreachable: RESCIND its offers, its tasks get TASK_UNREACHABLE (TASK_LOST without
    PARTITION_AWARE) with REASON_AGENT_REMOVED and unreachable_time, then FAILURE{agent_id}."""
    agent = master.state.agents[agent_id]
    if not agent.reachable:
        return
    logger.info("agent removed", extra={"agent_id": agent_id})
    _take_agent_down(
        master,
        agent_id,
        state="TASK_UNREACHABLE",
        reason="REASON_AGENT_REMOVED",
        message=f"Agent {agent_id} removed",
    )


def mark_agent_gone(master: Master, agent_id: str) -> None:
    """The operator says the agent is gone for good: its tasks (running or unreachable) become
    TASK_GONE_BY_OPERATOR (TASK_LOST without PARTITION_AWARE), REASON_AGENT_REMOVED_BY_OPERATOR."""
    agent = master.state.agents[agent_id]
    if agent.gone:
        return
    logger.info("agent marked gone", extra={"agent_id": agent_id, "was_reachable": agent.reachable})
    if agent.reachable:
        _take_agent_down(
            master,
            agent_id,
            state="TASK_GONE_BY_OPERATOR",
            reason="REASON_AGENT_REMOVED_BY_OPERATOR",
            message="Agent has been marked gone",
        )
    else:
        master.tasks.unreachable_gone(agent_id)
    agent.gone = True


def restart_master(master: Master, agent_reregister_seconds: float | None = None) -> None:
    """Simulate a master failover (see the module docstring); the streams end without an ERROR."""
    state = master.state
    window = master.settings.agent_reregister_seconds
    if agent_reregister_seconds is not None:
        window = agent_reregister_seconds
    logger.info("master restarting", extra={"master_id": state.master_id, "reregister_seconds": window})
    master.close_subscriptions()
    master.tasks.forget_delayed_acks()
    state.offers.clear()
    for framework in state.frameworks.values():
        framework.connected = False
        framework.failover_deadline = None
        framework.filters.clear()
        framework.suppressed.clear()
        framework.unreachable_tasks.clear()
        if not framework.tasks:
            continue
        held = state.held_frameworks.setdefault(framework.id, framework)
        if held is not framework:
            held.tasks.update(framework.tasks)
    state.frameworks.clear()
    state.completed_frameworks.clear()
    state.recovering_agents = {agent.id for agent in state.agents.values() if agent.reachable}
    master.reregister_at = master.clock + window


def reregister_agents(master: Master) -> None:
    """The recovering agents re-register and report their tasks (see the module docstring)."""
    state = master.state
    master.reregister_at = None
    agents = sorted(state.recovering_agents)
    state.recovering_agents = set()
    for framework_id, held in list(state.held_frameworks.items()):
        del state.held_frameworks[framework_id]
        if framework_id in state.completed_frameworks:
            master.tasks.discard_framework(held)  # torn down meanwhile: the agents shut its tasks down
            continue
        current = state.frameworks.get(framework_id)
        if current is None:
            state.frameworks[framework_id] = held
        else:
            current.tasks.update(held.tasks)
    logger.info("agents re-registered", extra={"agent_ids": agents})
    for framework_id in list(state.frameworks):
        master.tasks.resend_pending(framework_id)
    master.request_allocation()
