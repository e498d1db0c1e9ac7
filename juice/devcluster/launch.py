"""From a TaskInfo to a local process: argv (Docker and Mesos containerizer rules), env and sandbox.

Docker tasks do not run in Docker here: the image's ENTRYPOINT comes from a configured map
(image repository name without tag → argv prefix) and the command runs on the host.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from juice.devcluster.protocol import TaskSpec
from juice.errors import MesosError


def default_image_entrypoints() -> dict[str, list[str]]:
    return {"juice-worker": [sys.executable, "-m", "workers"]}


class LaunchFailed(MesosError):
    """The container could not be set up (→ TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED)."""


@dataclass(frozen=True)
class LaunchPlan:
    argv: tuple[str, ...]
    executable: str | None
    env: dict[str, str]
    sandbox: Path
    container_name: str


def repository_name(image: str) -> str:
    """`registry:5000/team/juice-worker:1.4@sha256:..` → `registry:5000/team/juice-worker`."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name = name[:colon]
    return name


def image_entrypoint(image: str, entrypoints: Mapping[str, list[str]]) -> list[str]:
    """Look the repository up by its full name, then by its last path component."""
    repository = repository_name(image)
    for candidate in (repository, repository.rsplit("/", 1)[-1]):
        if candidate in entrypoints:
            return list(entrypoints[candidate])
    known = ", ".join(sorted(entrypoints)) or "none"
    raise LaunchFailed(
        f"Failed to launch container: image '{image}' has no ENTRYPOINT configured in the dev cluster's "
        f"image_entrypoints (repository '{repository}'; known: {known})"
    )


def command_argv(task: TaskSpec, entrypoints: Mapping[str, list[str]]) -> tuple[tuple[str, ...], str | None]:
    """Returns (argv, executable); executable is set when argv[0] is not the program to run."""
    command = task.command
    if command is None:
        raise LaunchFailed(
            "Failed to launch container: custom executors are not supported by the dev cluster"
        )
    if command.unsupported is not None:
        raise LaunchFailed(f"Failed to launch container: {command.unsupported}")
    if command.shell:
        return ("/bin/sh", "-c", command.value or ""), None
    container = task.container
    if container is not None and container.type == "DOCKER" and container.docker_image is not None:
        entrypoint = image_entrypoint(container.docker_image, entrypoints)
        value = [command.value] if command.value else []
        return (*entrypoint, *value, *command.arguments), None
    if command.value is None:
        raise LaunchFailed("Failed to launch container: 'command.value' is required when 'shell' is false")
    argv = command.arguments or (command.value,)
    return argv, command.value


def plan_launch(
    task: TaskSpec,
    *,
    sandbox: Path,
    container_id: str,
    allocation_role: str | None,
    entrypoints: Mapping[str, list[str]],
    host_env: Mapping[str, str],
    agent_env: Mapping[str, str],
) -> LaunchPlan:
    argv, executable = command_argv(task, entrypoints)
    env = dict(host_env)
    env.update(agent_env)
    if task.command is not None:
        env.update(task.command.environment)
    container_name = f"mesos-{container_id}"
    env["MESOS_SANDBOX"] = str(sandbox)
    env["MESOS_CONTAINER_NAME"] = container_name
    if allocation_role is not None:
        env["MESOS_ALLOCATION_ROLE"] = allocation_role
    return LaunchPlan(tuple(argv), executable, env, sandbox, container_name)
