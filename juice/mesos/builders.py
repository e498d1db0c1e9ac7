"""What Juice sends to Mesos: the framework's identity (FrameworkInfo) and its Docker worker TaskInfo.

Both come out as plain v1 JSON dicts: enums as names, ids wrapped as `{"value": ...}`, durations as
`{"nanoseconds": N}`. Inputs are checked here so that a bad value is a clear `MesosError` now instead of
a 400 or a TASK_ERROR later.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from juice.errors import MesosError

__all__ = ["FrameworkSettings", "docker_task_info", "framework_info"]

ONE_WEEK_SECONDS = 7 * 24 * 3600.0
_MAX_TASK_ID_CHARS = 255


class FrameworkSettings(BaseModel):
    """The framework's identity. `roles` is used with the MULTI_ROLE capability (never the old `role`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1)
    name: str = Field(min_length=1)
    roles: tuple[str, ...] = ("*",)
    failover_timeout: float = Field(default=ONE_WEEK_SECONDS, ge=0)
    checkpoint: bool = True
    hostname: str | None = None
    webui_url: str | None = None
    principal: str | None = None
    partition_aware: bool = False
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("roles")
    @classmethod
    def _valid_roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        for role in roles:
            _check_role(role)
        if len(set(roles)) != len(roles):
            raise ValueError(f"duplicate roles in {list(roles)}")
        return roles

    def capabilities(self) -> list[str]:
        names = ["MULTI_ROLE", "TASK_KILLING_STATE"]
        if self.partition_aware:
            names.append("PARTITION_AWARE")
        return names


def _check_role(role: str) -> None:
    if role == "*":
        return
    if not role or role.startswith("-") or role in {".", ".."}:
        raise ValueError(f"invalid role name {role!r}")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in role):
        raise ValueError(f"invalid character in role name {role!r}")
    if any(part in {"", ".", ".."} for part in role.split("/")):
        raise ValueError(f"invalid role path {role!r}")


def framework_info(settings: FrameworkSettings, framework_id: str | None = None) -> dict[str, Any]:
    """v1 FrameworkInfo for SUBSCRIBE; with `framework_id` for a re-subscription."""
    info: dict[str, Any] = {
        "user": settings.user,
        "name": settings.name,
        "roles": list(settings.roles),
        "failover_timeout": float(settings.failover_timeout),
        "checkpoint": settings.checkpoint,
        "capabilities": [{"type": name} for name in settings.capabilities()],
    }
    if framework_id:
        info["id"] = {"value": framework_id}
    optional = {
        "hostname": settings.hostname,
        "webui_url": settings.webui_url,
        "principal": settings.principal,
    }
    info.update({key: value for key, value in optional.items() if value})
    if settings.labels:
        info["labels"] = _labels(settings.labels)
    return info


def _labels(labels: dict[str, str]) -> dict[str, Any]:
    return {"labels": [{"key": key, "value": value} for key, value in labels.items()]}


def _scalar(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "type": "SCALAR", "scalar": {"value": round(value, 3)}}


def _check_task_id(task_id: str) -> None:
    if not task_id or task_id in {".", ".."}:
        raise MesosError(f"invalid task id {task_id!r}")
    if len(task_id) > _MAX_TASK_ID_CHARS:
        raise MesosError(f"task id longer than {_MAX_TASK_ID_CHARS} characters: {task_id[:40]!r}...")
    if "/" in task_id or any(ord(c) < 0x20 or ord(c) == 0x7F for c in task_id):
        raise MesosError(f"task id contains '/' or a control character: {task_id!r}")


def _check_amount(name: str, value: float, *, allow_zero: bool) -> None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise MesosError(f"invalid {name}: {value!r}")


def docker_task_info(
    *,
    task_id: str,
    name: str,
    agent_id: str,
    cpus: float,
    mem: float,
    disk: float,
    image: str,
    command_value: str | None,
    arguments: list[str],
    environment: dict[str, str],
    labels: dict[str, str],
    kill_grace_seconds: float | None,
) -> dict[str, Any]:
    """A v1 TaskInfo running `image` with the Docker containerizer and the command executor.

    `command.shell` is false: the image ENTRYPOINT stays and `[command_value] + arguments` are appended as
    its arguments (with neither, the image's default CMD runs). mem and disk are in MB; a disk of 0 asks
    for no disk resource.
    """
    _check_task_id(task_id)
    if not agent_id:
        raise MesosError(f"task {task_id}: agent_id is required")
    if not image:
        raise MesosError(f"task {task_id}: docker image is required")
    _check_amount("cpus", cpus, allow_zero=False)
    _check_amount("mem", mem, allow_zero=False)
    _check_amount("disk", disk, allow_zero=True)
    resources = [_scalar("cpus", cpus), _scalar("mem", mem)]
    if disk > 0:
        resources.append(_scalar("disk", disk))
    command: dict[str, Any] = {"shell": False, "arguments": list(arguments)}
    if command_value:
        command["value"] = command_value
    if environment:
        command["environment"] = {
            "variables": [{"name": key, "value": value} for key, value in environment.items()]
        }
    info: dict[str, Any] = {
        "name": name or task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "resources": resources,
        "command": command,
        "container": {"type": "DOCKER", "docker": {"image": image}},
    }
    if labels:
        info["labels"] = _labels(labels)
    if kill_grace_seconds is not None:
        _check_amount("kill grace period", kill_grace_seconds, allow_zero=True)
        info["kill_policy"] = {"grace_period": {"nanoseconds": int(kill_grace_seconds * 1e9)}}
    return info
