"""Parsing and syntactic validation of v1 scheduler calls (`mesos.v1.scheduler.Call`).

Anything that makes the call unparseable or invalid raises `InvalidCall` (HTTP 400). Problems the master
reports later (invalid roles on SUBSCRIBE, invalid tasks) are carried in the parsed values instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from juice.devcluster import wire
from juice.devcluster.resources import ParsedResources, parse_resources
from juice.devcluster.wire import InvalidCall, JsonObject

CALL_TYPES = (
    "SUBSCRIBE",
    "TEARDOWN",
    "ACCEPT",
    "DECLINE",
    "ACCEPT_INVERSE_OFFERS",
    "DECLINE_INVERSE_OFFERS",
    "REVIVE",
    "KILL",
    "SHUTDOWN",
    "ACKNOWLEDGE",
    "ACKNOWLEDGE_OPERATION_STATUS",
    "RECONCILE",
    "RECONCILE_OPERATIONS",
    "MESSAGE",
    "REQUEST",
    "SUPPRESS",
    "UPDATE_FRAMEWORK",
)
CAPABILITIES = (
    "REVOCABLE_RESOURCES",
    "TASK_KILLING_STATE",
    "GPU_RESOURCES",
    "SHARED_RESOURCES",
    "PARTITION_AWARE",
    "MULTI_ROLE",
    "RESERVATION_REFINEMENT",
    "REGION_AWARE",
)
OPERATION_TYPES = (
    "LAUNCH",
    "LAUNCH_GROUP",
    "RESERVE",
    "UNRESERVE",
    "CREATE",
    "DESTROY",
    "GROW_VOLUME",
    "SHRINK_VOLUME",
    "CREATE_DISK",
    "DESTROY_DISK",
)
# Calls whose type-specific sub-message must be present (the key is the lower-case type).
BODY_REQUIRED = frozenset(CALL_TYPES) - {"SUBSCRIBE", "TEARDOWN", "REVIVE", "SUPPRESS"}
DEFAULT_REFUSE_SECONDS = 5.0


@dataclass(frozen=True)
class FrameworkSpec:
    raw: JsonObject
    framework_id: str | None
    user: str
    name: str
    role: str | None
    roles: tuple[str, ...]
    capabilities: frozenset[str]
    failover_timeout: float
    principal: str | None


@dataclass(frozen=True)
class Subscribe:
    framework: FrameworkSpec
    suppressed_roles: tuple[str, ...]


@dataclass(frozen=True)
class CommandSpec:
    shell: bool
    value: str | None
    arguments: tuple[str, ...]
    environment: tuple[tuple[str, str], ...]
    invalid: str | None
    unsupported: str | None


@dataclass(frozen=True)
class ContainerSpec:
    type: str
    docker_image: str | None


@dataclass(frozen=True)
class TaskSpec:
    raw: JsonObject
    task_id: str
    name: str
    agent_id: str
    resources: ParsedResources
    command: CommandSpec | None
    has_executor: bool
    container: ContainerSpec | None
    kill_grace_ns: int | None
    max_completion_ns: int | None


@dataclass(frozen=True)
class Operation:
    type: str
    tasks: tuple[TaskSpec, ...]


@dataclass(frozen=True)
class Accept:
    offer_ids: tuple[str, ...]
    operations: tuple[Operation, ...]
    refuse_seconds: float


@dataclass(frozen=True)
class Kill:
    task_id: str
    agent_id: str | None
    grace_ns: int | None


@dataclass(frozen=True)
class Acknowledge:
    agent_id: str
    task_id: str
    uuid: bytes


@dataclass(frozen=True)
class Call:
    type: str
    framework_id: str | None
    body: JsonObject


def parse_call(payload: bytes) -> Call:
    try:
        data: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCall(f"Failed to parse body into JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidCall("Failed to parse body into Call: expecting a JSON object")
    call_type = wire.enum(data, "type", CALL_TYPES, where="call")
    framework_id = wire.id_value(data, "framework_id", where="call")
    if call_type is None:
        raise InvalidCall("Expecting 'type' to be present")
    key = call_type.lower()
    body = wire.obj(data, key, where="call")
    if body is None and (call_type in BODY_REQUIRED or call_type == "SUBSCRIBE"):
        raise InvalidCall(f"Expecting '{key}' to be present")
    if call_type != "SUBSCRIBE" and framework_id is None:
        raise InvalidCall("Expecting 'framework_id' to be present")
    return Call(call_type, framework_id, body or {})


def parse_subscribe(call: Call) -> Subscribe:
    info = wire.req_obj(call.body, "framework_info", where="subscribe")
    where = "subscribe.framework_info"
    framework_id = wire.id_value(info, "id", where=where)
    if framework_id != call.framework_id:
        raise InvalidCall("'framework_id' differs from 'subscribe.framework_info.id'")
    capabilities = frozenset(
        cap
        for item in wire.objs(info, "capabilities", where=where)
        if (cap := wire.enum(item, "type", CAPABILITIES, where=f"{where}.capabilities")) is not None
    )
    spec = FrameworkSpec(
        raw=info,
        framework_id=framework_id,
        user=wire.req_string(info, "user", where=where),
        name=wire.req_string(info, "name", where=where),
        role=wire.string(info, "role", where=where),
        roles=tuple(wire.strings(info, "roles", where=where)),
        capabilities=capabilities,
        failover_timeout=wire.number(info, "failover_timeout", where=where) or 0.0,
        principal=wire.string(info, "principal", where=where),
    )
    wire.boolean(info, "checkpoint", where=where, default=False)
    suppressed = tuple(wire.strings(call.body, "suppressed_roles", where="subscribe"))
    return Subscribe(spec, suppressed)


def parse_refuse_seconds(body: JsonObject, *, where: str) -> float:
    filters = wire.obj(body, "filters", where=where)
    if filters is None:
        return DEFAULT_REFUSE_SECONDS
    value = wire.number(filters, "refuse_seconds", where=f"{where}.filters")
    return DEFAULT_REFUSE_SECONDS if value is None else value


def parse_accept(call: Call) -> Accept:
    body = call.body
    operations: list[Operation] = []
    for op in wire.objs(body, "operations", where="accept"):
        op_type = wire.enum(op, "type", OPERATION_TYPES, where="accept.operations")
        if op_type is None:
            raise InvalidCall("Failed to parse accept.operations: missing or unknown operation 'type'")
        operations.append(Operation(op_type, _operation_tasks(op, op_type)))
    return Accept(
        offer_ids=tuple(wire.id_values(body, "offer_ids", where="accept")),
        operations=tuple(operations),
        refuse_seconds=parse_refuse_seconds(body, where="accept"),
    )


def _operation_tasks(op: JsonObject, op_type: str) -> tuple[TaskSpec, ...]:
    if op_type == "LAUNCH":
        launch = wire.obj(op, "launch", where="operation")
        infos = [] if launch is None else wire.objs(launch, "task_infos", where="launch")
        return tuple(parse_task(info) for info in infos)
    if op_type == "LAUNCH_GROUP":
        group = wire.obj(op, "launch_group", where="operation")
        task_group = None if group is None else wire.obj(group, "task_group", where="launch_group")
        infos = [] if task_group is None else wire.objs(task_group, "tasks", where="task_group")
        return tuple(parse_task(info) for info in infos)
    return ()


def _duration_ns(parent: JsonObject, key: str, *, where: str) -> int | None:
    duration = wire.obj(parent, key, where=where)
    if duration is None:
        return None
    return wire.req_integer(duration, "nanoseconds", where=f"{where}.{key}")


def parse_task(info: JsonObject) -> TaskSpec:
    where = "task_info"
    kill_policy = wire.obj(info, "kill_policy", where=where)
    container = wire.obj(info, "container", where=where)
    command = wire.obj(info, "command", where=where)
    return TaskSpec(
        raw=info,
        name=wire.req_string(info, "name", where=where),
        task_id=wire.req_id_value(info, "task_id", where=where),
        agent_id=wire.req_id_value(info, "agent_id", where=where),
        resources=parse_resources(info.get("resources"), where=f"{where}.resources"),
        command=None if command is None else _parse_command(command),
        has_executor=wire.obj(info, "executor", where=where) is not None,
        container=None if container is None else _parse_container(container),
        kill_grace_ns=None if kill_policy is None else _duration_ns(kill_policy, "grace_period", where=where),
        max_completion_ns=_duration_ns(info, "max_completion_time", where=where),
    )


def _parse_command(command: JsonObject) -> CommandSpec:
    where = "task_info.command"
    shell = wire.boolean(command, "shell", where=where, default=True)
    value = wire.string(command, "value", where=where)
    invalid = "Shell command of the task is not specified" if shell and value is None else None
    unsupported = None
    if wire.objs(command, "uris", where=where):
        unsupported = "Fetching CommandInfo.uris is not supported by the dev cluster"
    env: list[tuple[str, str]] = []
    environment = wire.obj(command, "environment", where=where)
    for var in [] if environment is None else wire.objs(environment, "variables", where=f"{where}.env"):
        name = wire.req_string(var, "name", where=f"{where}.environment.variables")
        kind = wire.enum(var, "type", ("VALUE", "SECRET"), where=f"{where}.environment.variables") or "VALUE"
        if kind == "VALUE":
            var_value = wire.string(var, "value", where=f"{where}.environment.variables")
            if var_value is None:
                invalid = invalid or f"Environment variable '{name}' of type 'VALUE' must have a value set"
            else:
                env.append((name, var_value))
            continue
        secret_value = _secret_value(var, name)
        if secret_value is None:
            unsupported = (
                unsupported or f"Secret '{name}' is not a VALUE secret; references are not supported"
            )
        else:
            env.append((name, secret_value))
    arguments = tuple(wire.strings(command, "arguments", where=where))
    return CommandSpec(shell, value, arguments, tuple(env), invalid, unsupported)


def _secret_value(var: JsonObject, name: str) -> str | None:
    where = f"task_info.command.environment.variables[{name}]"
    secret = wire.obj(var, "secret", where=where)
    value = None if secret is None else wire.obj(secret, "value", where=f"{where}.secret")
    data = None if value is None else wire.b64bytes(value, "data", where=f"{where}.secret.value")
    return None if data is None else data.decode("utf-8", errors="replace")


def _parse_container(container: JsonObject) -> ContainerSpec:
    where = "task_info.container"
    kind = wire.req_enum(container, "type", ("DOCKER", "MESOS"), where=where)
    docker = wire.obj(container, "docker", where=where)
    image = None if docker is None else wire.req_string(docker, "image", where=f"{where}.docker")
    return ContainerSpec(kind, image)


def parse_kill(call: Call) -> Kill:
    body = call.body
    policy = wire.obj(body, "kill_policy", where="kill")
    return Kill(
        task_id=wire.req_id_value(body, "task_id", where="kill"),
        agent_id=wire.id_value(body, "agent_id", where="kill"),
        grace_ns=None if policy is None else _duration_ns(policy, "grace_period", where="kill.kill_policy"),
    )


def parse_acknowledge(call: Call) -> Acknowledge:
    body = call.body
    agent_id = wire.req_id_value(body, "agent_id", where="acknowledge")
    task_id = wire.req_id_value(body, "task_id", where="acknowledge")
    uuid = wire.b64bytes(body, "uuid", where="acknowledge")
    if uuid is None:
        raise InvalidCall("Failed to parse acknowledge: missing required field 'uuid'")
    if len(uuid) != 16:
        raise InvalidCall(
            f"Failed to validate scheduler::Call: Invalid UUID: expected 16 bytes, got {len(uuid)}"
        )
    return Acknowledge(agent_id, task_id, uuid)


def parse_reconcile(call: Call) -> list[tuple[str, str | None]]:
    return [
        (
            wire.req_id_value(task, "task_id", where="reconcile.tasks"),
            wire.id_value(task, "agent_id", where="reconcile.tasks"),
        )
        for task in wire.objs(call.body, "tasks", where="reconcile")
    ]


def parse_roles(call: Call) -> tuple[str, ...] | None:
    """REVIVE/SUPPRESS roles; None (absent or empty) means every subscribed role."""
    roles = wire.strings(call.body, "roles", where=call.type.lower())
    return tuple(roles) or None


def parse_decline(call: Call) -> tuple[tuple[str, ...], float]:
    offer_ids = tuple(wire.id_values(call.body, "offer_ids", where="decline"))
    return offer_ids, parse_refuse_seconds(call.body, where="decline")


def parse_shutdown(call: Call) -> tuple[str, str]:
    executor_id = wire.req_id_value(call.body, "executor_id", where="shutdown")
    agent_id = wire.req_id_value(call.body, "agent_id", where="shutdown")
    return executor_id, agent_id
