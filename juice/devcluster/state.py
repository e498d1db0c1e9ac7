"""Pure cluster state of the dev master: agents, frameworks, tasks, offers and filters.

No I/O and no clock: every function that depends on time takes `now` (seconds, monotonic).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from juice.devcluster.protocol import FrameworkSpec, TaskSpec
from juice.devcluster.resources import Resources

TERMINAL_STATES = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)
PARTITION_AWARE_ONLY = frozenset(
    {"TASK_DROPPED", "TASK_UNREACHABLE", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}
)


def is_terminal(state: str) -> bool:
    return state in TERMINAL_STATES


@dataclass
class Agent:
    id: str
    hostname: str
    port: int
    total: Resources
    attributes: dict[str, str] = field(default_factory=dict)
    reachable: bool = True
    unreachable_since: float | None = None
    gone: bool = False


@dataclass
class Offer:
    id: str
    framework_id: str
    agent_id: str
    role: str
    resources: Resources
    created_at: float


@dataclass
class Filter:
    resources: Resources
    expires_at: float


@dataclass
class Task:
    task_id: str
    framework_id: str
    agent_id: str
    role: str
    resources: Resources
    spec: TaskSpec
    state: str = "TASK_STAGING"
    status_update_state: str | None = None
    unreachable_time: float | None = None

    @property
    def reported_state(self) -> str:
        """What reconciliation reports: the update being delivered, else the latest state."""
        return self.status_update_state or self.state


@dataclass
class Framework:
    id: str
    spec: FrameworkSpec
    suppressed: set[str] = field(default_factory=set)
    connected: bool = True
    failover_deadline: float | None = None
    tasks: dict[str, Task] = field(default_factory=dict)
    unreachable_tasks: dict[str, Task] = field(default_factory=dict)
    filters: dict[tuple[str, str], list[Filter]] = field(default_factory=dict)

    @property
    def multi_role(self) -> bool:
        return "MULTI_ROLE" in self.spec.capabilities

    @property
    def partition_aware(self) -> bool:
        return "PARTITION_AWARE" in self.spec.capabilities

    def has(self, capability: str) -> bool:
        return capability in self.spec.capabilities

    @property
    def roles(self) -> tuple[str, ...]:
        if self.multi_role:
            return self.spec.roles
        return (self.spec.role or "*",)

    def visible_state(self, state: str) -> str:
        """Partition-aware states become TASK_LOST for frameworks without PARTITION_AWARE."""
        if state in PARTITION_AWARE_ONLY and not self.partition_aware:
            return "TASK_LOST"
        return state


def validate_role(role: str) -> str | None:
    if role == "*":
        return None
    for part in role.split("/"):
        if part in ("", ".", "..") or part.startswith("-"):
            return f"Role '{role}' is invalid"
        if any(ch.isspace() or ord(ch) < 32 or ch in "*\x7f" for ch in part):
            return f"Role '{role}' contains invalid characters"
    return None


def validate_framework(spec: FrameworkSpec, suppressed_roles: tuple[str, ...]) -> str | None:
    """FrameworkInfo checks done after the SUBSCRIBE stream opened (they produce an ERROR event)."""
    multi_role = "MULTI_ROLE" in spec.capabilities
    if spec.roles and not multi_role:
        return "'FrameworkInfo.roles' is set but the framework does not have the MULTI_ROLE capability"
    if multi_role and spec.role is not None:
        return "'FrameworkInfo.role' must not be set when the framework has the MULTI_ROLE capability"
    roles = spec.roles if multi_role else (spec.role or "*",)
    if len(set(roles)) != len(roles):
        return "'FrameworkInfo.roles' contains duplicate roles"
    for role in roles:
        problem = validate_role(role)
        if problem is not None:
            return problem
    unknown = [role for role in suppressed_roles if role not in roles]
    if unknown:
        return f"Suppressed roles {unknown} are not contained in the framework's roles"
    if spec.failover_timeout < 0:
        return "'FrameworkInfo.failover_timeout' must be non-negative"
    return None


class ClusterState:
    """All master bookkeeping. Mutated only by the master's event loop."""

    def __init__(self, master_id: str) -> None:
        self.master_id = master_id
        self.agents: dict[str, Agent] = {}
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: dict[str, Framework] = {}
        self.offers: dict[str, Offer] = {}
        self.recovering_agents: set[str] = set()
        # After a master restart: frameworks whose tasks only the (still recovering) agents know about.
        self.held_frameworks: dict[str, Framework] = {}
        self._next_framework = 0
        self._next_agent = 0
        self._next_offer = 0

    def add_agent(self, hostname: str, total: Resources, attributes: dict[str, str] | None = None) -> Agent:
        agent_id = f"{self.master_id}-S{self._next_agent}"
        agent = Agent(agent_id, hostname, 5051 + self._next_agent, total, dict(attributes or {}))
        self._next_agent += 1
        self.agents[agent_id] = agent
        return agent

    def new_framework_id(self) -> str:
        while True:
            framework_id = f"{self.master_id}-{self._next_framework:04d}"
            self._next_framework += 1
            taken = (self.frameworks, self.completed_frameworks, self.held_frameworks)
            if all(framework_id not in known for known in taken):
                return framework_id

    def new_offer_id(self) -> str:
        offer_id = f"{self.master_id}-O{self._next_offer}"
        self._next_offer += 1
        return offer_id

    def all_tasks(self) -> Iterator[Task]:
        for framework in self.frameworks.values():
            yield from framework.tasks.values()

    def used(self, agent_id: str) -> Resources:
        total = Resources()
        for task in self.all_tasks():
            if task.agent_id == agent_id and not is_terminal(task.state):
                total = total + task.resources
        return total

    def offered(self, agent_id: str) -> Resources:
        total = Resources()
        for offer in self.offers.values():
            if offer.agent_id == agent_id:
                total = total + offer.resources
        return total

    def available(self, agent_id: str) -> Resources:
        """Nothing on an unreachable agent, nor on one that has not re-registered after a master restart."""
        agent = self.agents[agent_id]
        if not agent.reachable or agent_id in self.recovering_agents:
            return Resources()
        return agent.total - self.used(agent_id) - self.offered(agent_id)

    def offers_of(self, framework_id: str) -> list[Offer]:
        return [offer for offer in self.offers.values() if offer.framework_id == framework_id]

    def remove_offer(self, offer_id: str) -> Offer | None:
        return self.offers.pop(offer_id, None)

    def find_task(self, framework_id: str, task_id: str) -> Task | None:
        framework = self.frameworks.get(framework_id)
        return None if framework is None else framework.tasks.get(task_id)

    def agent_task(self, framework_id: str, task_id: str) -> Task | None:
        """A task as its agent knows it: tracked by the master, or held by an agent that is recovering."""
        for known in (self.frameworks, self.held_frameworks):
            framework = known.get(framework_id)
            task = None if framework is None else framework.tasks.get(task_id)
            if task is not None:
                return task
        return None

    def task_owners(self) -> list[Framework]:
        """Every framework object holding tasks on agents (tracked ones first, then held ones)."""
        return [*self.frameworks.values(), *self.held_frameworks.values()]
