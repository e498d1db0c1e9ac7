"""Dev-only HTTP routes for fault injection, for tests that run the dev cluster as a separate process.

Every route is a `POST` under `/dev/` (a real Mesos master has no such prefix); they answer 200 with a JSON
object, 404 for an unknown agent/task/framework, and 400 for a bad body.

| route | body | effect |
|---|---|---|
| `/dev/agents/{agent_id}/remove` | | agent unreachable: RESCIND, TASK_UNREACHABLE/LOST, FAILURE |
| `/dev/agents/{agent_id}/gone` | | operator marks it gone: TASK_GONE_BY_OPERATOR/LOST |
| `/dev/agents/recovering` | `{"agent_ids": [..]}` | reconciling unknown tasks on them gets no reply |
| `/dev/agents/reregister` | | end the re-register window of a master restart now |
| `/dev/tasks/{task_id}/fail` | | the task's process is SIGKILLed (TASK_FAILED) |
| `/dev/frameworks/{id}/close-subscription` | | the event stream drops (failover timeout starts) |
| `/dev/frameworks/{id}/acknowledgements` | `{"mode": "normal"/"drop"/"delay", "seconds": N}` | ACK handling |
| `/dev/master/restart` | `{"agent_reregister_seconds": N}` (optional) | simulated master failover |
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from juice.devcluster import failures
from juice.devcluster.master import Master
from juice.devcluster.tasks import AckMode, AckModeName


class _AckModeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: AckModeName
    seconds: float = Field(default=0.0, ge=0)


class _RestartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_reregister_seconds: float | None = Field(default=None, ge=0)


class _RecoveringBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_ids: list[str]


class _BadBody(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _body(request: Request, model: type[BaseModel]) -> Any:
    raw = await request.body()
    try:
        return model.model_validate(json.loads(raw) if raw.strip() else {})
    except (ValueError, ValidationError) as exc:
        raise _BadBody(f"invalid body: {exc}") from exc


def _not_found(what: str) -> Response:
    return JSONResponse({"error": f"unknown {what}"}, status_code=404)


Handler = Callable[[Request, Master], Awaitable[Response]]


async def _remove_agent(request: Request, master: Master) -> Response:
    agent_id = request.path_params["agent_id"]
    if agent_id not in master.state.agents:
        return _not_found(f"agent {agent_id}")
    failures.remove_agent(master, agent_id)
    return JSONResponse({"agent_id": agent_id, "removed": True})


async def _agent_gone(request: Request, master: Master) -> Response:
    agent_id = request.path_params["agent_id"]
    if agent_id not in master.state.agents:
        return _not_found(f"agent {agent_id}")
    failures.mark_agent_gone(master, agent_id)
    return JSONResponse({"agent_id": agent_id, "gone": True})


async def _recovering(request: Request, master: Master) -> Response:
    body: _RecoveringBody = await _body(request, _RecoveringBody)
    unknown = sorted(set(body.agent_ids) - set(master.state.agents))
    if unknown:
        return _not_found(f"agents {unknown}")
    master.set_recovering(set(body.agent_ids))
    return JSONResponse({"recovering": sorted(body.agent_ids)})


async def _reregister(request: Request, master: Master) -> Response:
    failures.reregister_agents(master)
    return JSONResponse({"reregistered": True})


async def _fail_task(request: Request, master: Master) -> Response:
    task_id = request.path_params["task_id"]
    if not master.fail_task(task_id):
        return _not_found(f"running task {task_id}")
    return JSONResponse({"task_id": task_id, "failed": True})


async def _close_subscription(request: Request, master: Master) -> Response:
    framework_id = request.path_params["framework_id"]
    if not master.close_subscription(framework_id):
        return _not_found(f"subscribed framework {framework_id}")
    return JSONResponse({"framework_id": framework_id, "closed": True})


async def _acknowledgements(request: Request, master: Master) -> Response:
    framework_id = request.path_params["framework_id"]
    body: _AckModeBody = await _body(request, _AckModeBody)
    master.set_ack_mode(framework_id, AckMode(body.mode, body.seconds))
    return JSONResponse({"framework_id": framework_id, "mode": body.mode, "seconds": body.seconds})


async def _restart(request: Request, master: Master) -> Response:
    body: _RestartBody = await _body(request, _RestartBody)
    failures.restart_master(master, body.agent_reregister_seconds)
    return JSONResponse({"restarted": True, "master_id": master.state.master_id})


def _route(path: str, handler: Handler, master: Master) -> Route:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, master)
        except _BadBody as exc:
            return JSONResponse({"error": exc.message}, status_code=400)

    return Route(path, endpoint, methods=["POST"])


def fault_routes(master: Master) -> list[Route]:
    table: list[tuple[str, Handler]] = [
        ("/dev/agents/recovering", _recovering),
        ("/dev/agents/reregister", _reregister),
        ("/dev/agents/{agent_id}/remove", _remove_agent),
        ("/dev/agents/{agent_id}/gone", _agent_gone),
        ("/dev/tasks/{task_id}/fail", _fail_task),
        ("/dev/frameworks/{framework_id}/close-subscription", _close_subscription),
        ("/dev/frameworks/{framework_id}/acknowledgements", _acknowledgements),
        ("/dev/master/restart", _restart),
    ]
    return [_route(path, handler, master) for path, handler in table]
