"""Offer allocation, decline filters, SUPPRESS and REVIVE (pure; `now` is passed in)."""

from __future__ import annotations

from juice.devcluster.resources import Resources
from juice.devcluster.state import ClusterState, Filter, Framework, Offer, is_terminal

DEFAULT_REFUSE_SECONDS = 5.0
MAX_REFUSE_SECONDS = 365 * 24 * 3600.0


def add_filter(
    framework: Framework,
    role: str,
    agent_id: str,
    resources: Resources,
    refuse_seconds: float,
    *,
    now: float,
    allocation_interval: float,
) -> Filter | None:
    """Refuse `resources` on the agent for a while; 0 creates no filter, a negative value means 5 s."""
    if refuse_seconds < 0:
        refuse_seconds = DEFAULT_REFUSE_SECONDS
    refuse_seconds = min(refuse_seconds, MAX_REFUSE_SECONDS)
    if refuse_seconds == 0 or resources.is_empty():
        return None
    duration = max(refuse_seconds, allocation_interval)
    refused = Filter(resources, now + duration)
    framework.filters.setdefault((role, agent_id), []).append(refused)
    return refused


def is_filtered(framework: Framework, role: str, agent_id: str, resources: Resources, *, now: float) -> bool:
    """A live filter blocks the offer only if the new resources are a subset of the refused ones."""
    key = (role, agent_id)
    live = [f for f in framework.filters.get(key, []) if f.expires_at > now]
    if live:
        framework.filters[key] = live
    else:
        framework.filters.pop(key, None)
    return any(f.resources.contains(resources) for f in live)


def _roles(framework: Framework, roles: tuple[str, ...] | None) -> tuple[str, ...]:
    return framework.roles if roles is None else roles


def suppress(framework: Framework, roles: tuple[str, ...] | None) -> None:
    framework.suppressed.update(_roles(framework, roles))


def revive(framework: Framework, roles: tuple[str, ...] | None) -> None:
    """Un-suppress the roles and clear every decline filter for them."""
    selected = set(_roles(framework, roles))
    framework.suppressed.difference_update(selected)
    for key in [key for key in framework.filters if key[0] in selected]:
        del framework.filters[key]


def _allocated_cpus(state: ClusterState, framework_id: str) -> float:
    framework = state.frameworks[framework_id]
    tasks = sum(t.resources.scalar("cpus") for t in framework.tasks.values() if not is_terminal(t.state))
    offers = sum(o.resources.scalar("cpus") for o in state.offers_of(framework_id))
    return tasks + offers


def allocate(state: ClusterState, *, now: float) -> list[Offer]:
    """One allocation cycle: each agent's available resources go to at most one (framework, role),
    least-allocated first. Returns the new offers (already recorded in `state.offers`)."""
    candidates = [
        (framework, role)
        for framework in state.frameworks.values()
        if framework.connected
        for role in framework.roles
        if role not in framework.suppressed
    ]
    created: list[Offer] = []
    if not candidates:
        return created
    shares = {framework.id: _allocated_cpus(state, framework.id) for framework, _ in candidates}
    for agent in sorted(state.agents.values(), key=lambda a: int(a.id.rsplit("-S", 1)[1])):
        if not agent.reachable:
            continue
        available = state.available(agent.id)
        if not available.has_allocatable():
            continue
        has_gpus = agent.total.scalar("gpus") > 0
        for framework, role in sorted(candidates, key=lambda c: (shares[c[0].id], c[0].id, c[1])):
            if has_gpus and not framework.has("GPU_RESOURCES"):
                continue
            if is_filtered(framework, role, agent.id, available, now=now):
                continue
            offer = Offer(state.new_offer_id(), framework.id, agent.id, role, available, now)
            state.offers[offer.id] = offer
            shares[framework.id] += available.scalar("cpus")
            created.append(offer)
            break
    return created


def expired_offers(state: ClusterState, *, now: float, offer_timeout: float | None) -> list[Offer]:
    if offer_timeout is None:
        return []
    return [offer for offer in state.offers.values() if now - offer.created_at >= offer_timeout]
