"""Resource arithmetic for the dev cluster: scalars (in thousandths, as Mesos keeps 3 decimals), ranges, sets.

Resources a dev-cluster agent can never offer (reserved roles, revocable, persistent volumes, ...) are kept
as `foreign` entries, so a task asking for them simply does not fit in any offer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from juice.devcluster import wire
from juice.devcluster.wire import InvalidCall, JsonObject

Range = tuple[int, int]
VALUE_TYPES = ("SCALAR", "RANGES", "SET", "TEXT")
ORDER = ("cpus", "gpus", "mem", "disk", "ports")


def _normalize(ranges: Iterable[Range]) -> tuple[Range, ...]:
    merged: list[Range] = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return tuple(merged)


def _subtract_ranges(have: tuple[Range, ...], take: tuple[Range, ...]) -> tuple[Range, ...]:
    result = list(have)
    for t_begin, t_end in take:
        next_result: list[Range] = []
        for begin, end in result:
            if t_end < begin or t_begin > end:
                next_result.append((begin, end))
                continue
            if begin < t_begin:
                next_result.append((begin, t_begin - 1))
            if t_end < end:
                next_result.append((t_end + 1, end))
        result = next_result
    return _normalize(result)


def _ranges_contain(have: tuple[Range, ...], want: tuple[Range, ...]) -> bool:
    return all(any(b <= w_begin and w_end <= e for b, e in have) for w_begin, w_end in want)


def _format_ranges(ranges: tuple[Range, ...]) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"


@dataclass(frozen=True)
class Resources:
    scalars: dict[str, int] = field(default_factory=dict)
    ranges: dict[str, tuple[Range, ...]] = field(default_factory=dict)
    sets: dict[str, frozenset[str]] = field(default_factory=dict)
    foreign: tuple[str, ...] = ()

    @classmethod
    def build(
        cls, scalars: dict[str, float] | None = None, ranges: dict[str, list[Range]] | None = None
    ) -> Resources:
        return cls(
            scalars={k: round(v * 1000) for k, v in (scalars or {}).items() if round(v * 1000) > 0},
            ranges={k: _normalize(v) for k, v in (ranges or {}).items() if v},
        )

    def scalar(self, name: str) -> float:
        return self.scalars.get(name, 0) / 1000

    def is_empty(self) -> bool:
        return not (any(self.scalars.values()) or self.ranges or self.sets or self.foreign)

    def __add__(self, other: Resources) -> Resources:
        scalars = dict(self.scalars)
        for name, amount in other.scalars.items():
            scalars[name] = scalars.get(name, 0) + amount
        ranges = dict(self.ranges)
        for name, extra in other.ranges.items():
            ranges[name] = _normalize(ranges.get(name, ()) + extra)
        sets = dict(self.sets)
        for name, items in other.sets.items():
            sets[name] = sets.get(name, frozenset()) | items
        return Resources(scalars, ranges, sets, self.foreign + other.foreign)

    def __sub__(self, other: Resources) -> Resources:
        scalars = {n: v - other.scalars.get(n, 0) for n, v in self.scalars.items()}
        ranges = {n: _subtract_ranges(v, other.ranges.get(n, ())) for n, v in self.ranges.items()}
        sets = {n: v - other.sets.get(n, frozenset()) for n, v in self.sets.items()}
        return Resources(
            {n: v for n, v in scalars.items() if v > 0},
            {n: v for n, v in ranges.items() if v},
            {n: v for n, v in sets.items() if v},
            tuple(f for f in self.foreign if f not in other.foreign),
        )

    def contains(self, other: Resources) -> bool:
        if other.foreign:
            return False
        return (
            all(self.scalars.get(n, 0) >= v for n, v in other.scalars.items())
            and all(_ranges_contain(self.ranges.get(n, ()), v) for n, v in other.ranges.items())
            and all(v <= self.sets.get(n, frozenset()) for n, v in other.sets.items())
        )

    def has_allocatable(self, min_cpus: float = 0.01, min_mem: float = 32.0) -> bool:
        """Mesos' default `--min_allocatable_resources=cpus:0.01|mem:32`."""
        return self.scalar("cpus") >= min_cpus or self.scalar("mem") >= min_mem

    def names(self) -> list[str]:
        present = set(self.scalars) | set(self.ranges) | set(self.sets)
        return sorted(present, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))

    def to_json(self, *, allocation_role: str | None, old_format: bool) -> list[JsonObject]:
        """Offer-style resource list: `"role":"*"` unless refined format, allocation_info for MULTI_ROLE."""
        items: list[JsonObject] = []
        for name in self.names():
            item: JsonObject = {"name": name}
            if name in self.scalars:
                item |= {"type": "SCALAR", "scalar": {"value": self.scalars[name] / 1000}}
            elif name in self.ranges:
                ranges = [{"begin": b, "end": e} for b, e in self.ranges[name]]
                item |= {"type": "RANGES", "ranges": {"range": ranges}}
            else:
                item |= {"type": "SET", "set": {"item": sorted(self.sets[name])}}
            if old_format:
                item["role"] = "*"
            if allocation_role is not None:
                item["allocation_info"] = {"role": allocation_role}
            items.append(item)
        return items

    def to_state(self) -> dict[str, float | str]:
        """The `/master/state` shape: `{"cpus": 1.0, "mem": 128.0, "ports": "[31000-31005]"}`."""
        state: dict[str, float | str] = {"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
        for name in self.names():
            if name in self.scalars:
                state[name] = self.scalars[name] / 1000
            elif name in self.ranges:
                state[name] = _format_ranges(self.ranges[name])
            else:
                state[name] = "{" + ",".join(sorted(self.sets[name])) + "}"
        return state

    def describe(self) -> str:
        parts: list[str] = []
        for name in self.names():
            if name in self.scalars:
                parts.append(f"{name}:{self.scalars[name] / 1000:g}")
            elif name in self.ranges:
                parts.append(f"{name}:{_format_ranges(self.ranges[name])}")
            else:
                parts.append(f"{name}:{{{','.join(sorted(self.sets[name]))}}}")
        return "; ".join(parts + list(self.foreign)) or "{}"


@dataclass(frozen=True)
class ParsedResources:
    resources: Resources
    allocation_roles: frozenset[str]
    invalid: str | None


def _foreign_reason(item: JsonObject, where: str) -> str | None:
    role = wire.string(item, "role", where=where)
    if role not in (None, "*"):
        return f"reserved for role '{role}'"
    if wire.objs(item, "reservations", where=where):
        return "reserved"
    for key in ("revocable", "disk", "shared", "provider_id"):
        if item.get(key) is not None:
            return key
    return None


def parse_resources(raw: Any, *, where: str) -> ParsedResources:
    """Parse a repeated Resource field. Structural errors raise InvalidCall; semantic ones are reported."""
    if raw is None:
        raw = []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise InvalidCall(f"Failed to parse {where}: expecting an array of Resource objects")
    total = Resources()
    roles: set[str] = set()
    invalid: str | None = None
    for item in raw:
        name = wire.req_string(item, "name", where=where)
        kind = wire.req_enum(item, "type", VALUE_TYPES, where=where)
        allocation = wire.obj(item, "allocation_info", where=where)
        if allocation is not None and (role := wire.string(allocation, "role", where=where)) is not None:
            roles.add(role)
        piece, problem = _parse_value(item, name, kind, where)
        invalid = invalid or problem
        foreign = _foreign_reason(item, where)
        if foreign is not None:
            piece = Resources(foreign=(f"{name} ({foreign})",))
        total = total + piece
    return ParsedResources(total, frozenset(roles), invalid)


def _parse_value(item: JsonObject, name: str, kind: str, where: str) -> tuple[Resources, str | None]:
    if kind == "SCALAR":
        value = wire.req_number(wire.req_obj(item, "scalar", where=where), "value", where=where)
        if value < 0:
            return Resources(), f"Invalid resources: negative scalar value {value:g} for '{name}'"
        milli = round(value * 1000)
        return Resources(scalars={name: milli} if milli else {}), None
    if kind == "RANGES":
        ranges_obj = wire.req_obj(item, "ranges", where=where)
        parsed: list[Range] = []
        for rng in wire.objs(ranges_obj, "range", where=where):
            begin = wire.req_integer(rng, "begin", where=where)
            end = wire.req_integer(rng, "end", where=where)
            if begin > end or begin < 0:
                return Resources(), f"Invalid resources: bad range [{begin}-{end}] for '{name}'"
            parsed.append((begin, end))
        return Resources(ranges={name: _normalize(parsed)} if parsed else {}), None
    if kind == "SET":
        items = wire.strings(wire.req_obj(item, "set", where=where), "item", where=where)
        return Resources(sets={name: frozenset(items)} if items else {}), None
    return Resources(), f"Invalid resources: resource '{name}' cannot be of type TEXT"
