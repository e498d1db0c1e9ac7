"""Pydantic models for the subset of Mesos v1 scheduler events that Juice reads.

Incoming messages tolerate unknown fields. Mesos ids (`{"value": "..."}`) are flattened to plain strings;
enums stay as their names; `bytes` fields (status uuid, message data) stay base64 text exactly as received.
Every event is `{"type": T, "<t lower-case>": {...}}`; `parse_event` returns one model per type, and an
`UnknownEvent` for types this module does not model.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, ClassVar, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from juice.errors import MesosError

__all__ = [
    "TERMINAL_STATES",
    "Attribute",
    "Disconnected",
    "ErrorEvent",
    "Event",
    "Failure",
    "Heartbeat",
    "MasterInfo",
    "Message",
    "Offer",
    "Offers",
    "Rescind",
    "Resource",
    "Subscribed",
    "TaskState",
    "TaskStatus",
    "UnknownEvent",
    "Update",
    "parse_event",
]


def _unwrap_id(value: object) -> object:
    """`{"value": "x"}` -> `"x"`; anything else is left for the field validator to judge."""
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def _time_info_ns(value: object) -> object:
    """TimeInfo `{"nanoseconds": N}` -> N."""
    if isinstance(value, dict) and "nanoseconds" in value:
        return value["nanoseconds"]
    return value


MesosId = Annotated[str, BeforeValidator(_unwrap_id)]
Nanoseconds = Annotated[int, BeforeValidator(_time_info_ns)]


class _Incoming(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class TaskState(StrEnum):
    TASK_STAGING = "TASK_STAGING"
    TASK_STARTING = "TASK_STARTING"
    TASK_RUNNING = "TASK_RUNNING"
    TASK_KILLING = "TASK_KILLING"
    TASK_FINISHED = "TASK_FINISHED"
    TASK_FAILED = "TASK_FAILED"
    TASK_KILLED = "TASK_KILLED"
    TASK_ERROR = "TASK_ERROR"
    TASK_LOST = "TASK_LOST"
    TASK_DROPPED = "TASK_DROPPED"
    TASK_UNREACHABLE = "TASK_UNREACHABLE"
    TASK_GONE = "TASK_GONE"
    TASK_GONE_BY_OPERATOR = "TASK_GONE_BY_OPERATOR"
    TASK_UNKNOWN = "TASK_UNKNOWN"


# The master's isTerminalState list (TASK_LOST included, although a lost task may come back).
TERMINAL_STATES = frozenset(
    {
        TaskState.TASK_FINISHED,
        TaskState.TASK_FAILED,
        TaskState.TASK_KILLED,
        TaskState.TASK_LOST,
        TaskState.TASK_ERROR,
        TaskState.TASK_DROPPED,
        TaskState.TASK_GONE,
        TaskState.TASK_GONE_BY_OPERATOR,
    }
)


# --------------------------------------------------------------------------------------------- values


class Scalar(_Incoming):
    value: float


class ValueRange(_Incoming):
    begin: int
    end: int


class Ranges(_Incoming):
    range: list[ValueRange] = Field(default_factory=list)


class ValueSet(_Incoming):
    item: list[str] = Field(default_factory=list)


class Text(_Incoming):
    value: str


class AllocationInfo(_Incoming):
    role: str | None = None


class Resource(_Incoming):
    name: str
    type: str = "SCALAR"
    scalar: Scalar | None = None
    ranges: Ranges | None = None
    set: ValueSet | None = None
    role: str | None = None
    allocation_info: AllocationInfo | None = None


class Attribute(_Incoming):
    name: str
    type: str = "TEXT"
    scalar: Scalar | None = None
    ranges: Ranges | None = None
    set: ValueSet | None = None
    text: Text | None = None

    def plain(self) -> str | float | list[tuple[int, int]] | list[str] | None:
        """The value of whichever type the attribute has."""
        if self.text is not None:
            return self.text.value
        if self.scalar is not None:
            return self.scalar.value
        if self.ranges is not None:
            return [(r.begin, r.end) for r in self.ranges.range]
        if self.set is not None:
            return list(self.set.item)
        return None


class Offer(_Incoming):
    id: MesosId
    framework_id: MesosId
    agent_id: MesosId
    hostname: str
    resources: list[Resource] = Field(default_factory=list)
    attribute_list: list[Attribute] = Field(default_factory=list, alias="attributes")
    allocation_info: AllocationInfo | None = None

    def scalar(self, name: str) -> float:
        """Sum of the scalar resources called `name` (0.0 if the offer has none), e.g. "cpus", "mem"."""
        return sum(r.scalar.value for r in self.resources if r.name == name and r.scalar is not None)

    def ranges(self, name: str) -> list[tuple[int, int]]:
        """All ranges of the resources called `name`, e.g. "ports"."""
        return [
            (r.begin, r.end)
            for res in self.resources
            if res.name == name and res.ranges is not None
            for r in res.ranges.range
        ]

    @property
    def attributes(self) -> dict[str, str | float | list[tuple[int, int]] | list[str] | None]:
        """Agent attributes by name: TEXT as str, SCALAR as float, RANGES as pairs, SET as a list."""
        return {a.name: a.plain() for a in self.attribute_list}

    @property
    def role(self) -> str | None:
        """The role the offer is allocated to (MULTI_ROLE frameworks), else None."""
        return self.allocation_info.role if self.allocation_info is not None else None


class TaskStatus(_Incoming):
    task_id: MesosId
    state: TaskState
    reason: str | None = None
    source: str | None = None
    message: str | None = None
    uuid: str | None = None  # base64, echo it unchanged in ACKNOWLEDGE
    agent_id: MesosId | None = None
    executor_id: MesosId | None = None
    timestamp: float | None = None
    healthy: bool | None = None
    unreachable_time: Nanoseconds | None = None  # nanoseconds since the epoch

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def needs_ack(self) -> bool:
        """Only updates that carry a uuid are acknowledged (master-generated ones have none)."""
        return bool(self.uuid)


class Address(_Incoming):
    hostname: str | None = None
    ip: str | None = None
    port: int | None = None


class MasterInfo(_Incoming):
    id: str | None = None
    hostname: str | None = None
    port: int | None = None
    pid: str | None = None
    version: str | None = None
    address: Address | None = None

    def url(self) -> str | None:
        """`http://ip:port` of this master, from `address` (falling back to hostname and port)."""
        address = self.address or Address()
        host = address.ip or address.hostname or self.hostname
        port = address.port or self.port
        if not host or not port:
            return None
        return f"http://{host}:{port}"


# --------------------------------------------------------------------------------------------- events


class _Event(_Incoming):
    TYPE: ClassVar[str]


class Subscribed(_Event):
    TYPE: ClassVar[str] = "SUBSCRIBED"
    framework_id: MesosId
    heartbeat_interval_seconds: float = 15.0
    master_info: MasterInfo | None = None


class Offers(_Event):
    TYPE: ClassVar[str] = "OFFERS"
    offers: list[Offer] = Field(default_factory=list)


class Rescind(_Event):
    TYPE: ClassVar[str] = "RESCIND"
    offer_id: MesosId


class Update(_Event):
    TYPE: ClassVar[str] = "UPDATE"
    status: TaskStatus


class Failure(_Event):
    TYPE: ClassVar[str] = "FAILURE"
    agent_id: MesosId | None = None
    executor_id: MesosId | None = None
    status: int | None = None


class ErrorEvent(_Event):
    TYPE: ClassVar[str] = "ERROR"
    message: str = ""


class Heartbeat(_Event):
    TYPE: ClassVar[str] = "HEARTBEAT"


class Message(_Event):
    TYPE: ClassVar[str] = "MESSAGE"
    agent_id: MesosId | None = None
    executor_id: MesosId | None = None
    data: str = ""  # base64


class UnknownEvent(_Event):
    """An event type this module does not model, or a known type whose body did not validate."""

    TYPE: ClassVar[str] = "UNKNOWN"
    type: str
    raw: dict[str, Any]
    problem: str | None = None


class Disconnected(_Event):
    """Synthetic: the subscription stream ended. Offers are void; reconcile after the next SUBSCRIBED."""

    TYPE: ClassVar[str] = "DISCONNECTED"
    reason: str


Event = (
    Subscribed
    | Offers
    | Rescind
    | Update
    | Failure
    | ErrorEvent
    | Heartbeat
    | Message
    | UnknownEvent
    | Disconnected
)

_BY_TYPE: dict[str, type[_Event]] = {
    cls.TYPE: cls for cls in (Subscribed, Offers, Rescind, Update, Failure, ErrorEvent, Heartbeat, Message)
}


def parse_event(record: bytes) -> Event:
    """One RecordIO record (JSON) -> an event model.

    Raises `MesosError` when the record is not a JSON object with a string `type`. A known type whose body
    does not validate comes back as `UnknownEvent` with `problem` set, so that one odd record does not
    break the stream.
    """
    try:
        data = json.loads(record)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MesosError(f"event is not JSON: {record[:80]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise MesosError(f"event without a type: {record[:80]!r}")
    event_type: str = data["type"]
    cls = _BY_TYPE.get(event_type)
    if cls is None:
        return UnknownEvent(type=event_type, raw=data)
    body = data.get(event_type.lower(), {})
    try:
        parsed = cls.model_validate(body if body is not None else {})
    except ValidationError as exc:
        return UnknownEvent(type=event_type, raw=data, problem=_short(exc))
    return cast(Event, parsed)  # every class in _BY_TYPE is a member of Event


def _short(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{exc.error_count()} validation error(s); first at {where or '<root>'}: {first['msg']}"
