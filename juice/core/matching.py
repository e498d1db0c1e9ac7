"""Offer matching: pack pending tasks into offers by cpus, mem and disk.

Tasks are placed in the order given (oldest job first, long chunks before short ones) and spread
round-robin over the offers, so one agent's loss costs as little work as possible. A retry avoids
the agent its previous attempt ran on when another offer fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OfferView:
    id: str
    agent_id: str
    hostname: str
    cpus: float
    mem: float
    disk: float


@dataclass(frozen=True)
class PendingTask:
    job_id: str
    key: str
    cpus: float
    mem: float
    disk: float = 0.0
    avoid_agent: str | None = None


@dataclass
class _Room:
    offer: OfferView
    cpus: float
    mem: float
    disk: float

    def fits(self, t: PendingTask) -> bool:
        eps = 1e-9
        return t.cpus <= self.cpus + eps and t.mem <= self.mem + eps and t.disk <= self.disk + eps

    def take(self, t: PendingTask) -> None:
        self.cpus -= t.cpus
        self.mem -= t.mem
        self.disk -= t.disk


@dataclass
class MatchResult:
    launches: dict[str, list[PendingTask]] = field(default_factory=dict)  # offer id → tasks
    unused: list[str] = field(default_factory=list)  # offers with nothing launched: decline
    unplaced: list[PendingTask] = field(default_factory=list)


def match(offers: list[OfferView], pending: list[PendingTask]) -> MatchResult:
    rooms = [_Room(o, o.cpus, o.mem, o.disk) for o in offers]
    result = MatchResult()
    cursor = 0
    for task in pending:
        placed = _place(rooms, task, cursor, avoid=True) if task.avoid_agent else None
        if placed is None:
            placed = _place(rooms, task, cursor, avoid=False)
        if placed is None:
            result.unplaced.append(task)
            continue
        room = rooms[placed]
        room.take(task)
        result.launches.setdefault(room.offer.id, []).append(task)
        cursor = (placed + 1) % len(rooms)
    result.unused = [r.offer.id for r in rooms if r.offer.id not in result.launches]
    return result


def _place(rooms: list[_Room], task: PendingTask, start: int, *, avoid: bool) -> int | None:
    n = len(rooms)
    for step in range(n):
        i = (start + step) % n
        room = rooms[i]
        if avoid and room.offer.agent_id == task.avoid_agent:
            continue
        if room.fits(task):
            return i
    return None
