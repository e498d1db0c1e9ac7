"""The dev master's HTTP surface (Starlette): `/api/v1/scheduler`, `/version`, `/health`, `/master/state`,
and the dev-only fault-injection routes under `/dev/` (see `juice.devcluster.faults`)."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from juice.devcluster import protocol
from juice.devcluster.calls import dispatch
from juice.devcluster.events import MESOS_VERSION
from juice.devcluster.faults import fault_routes
from juice.devcluster.master import Master
from juice.devcluster.stream import EventStreamResponse
from juice.devcluster.wire import CallRefused, InvalidCall

logger = logging.getLogger(__name__)

ACCEPTABLE = frozenset({"application/json", "application/*", "*/*"})


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _check_accept(request: Request) -> None:
    accept = request.headers.get("accept")
    if accept is None:
        return
    if not any(_media_type(item) in ACCEPTABLE for item in accept.split(",")):
        raise CallRefused(406, "Expecting 'Accept' to allow 'application/json' (protobuf is not supported)")


def redirect_to_leader(master: Master, path: str) -> Response:
    """A non-leading master: 307 to the leader with a protocol-relative Location, or 503 without one."""
    leader = master.leader
    if leader is None or leader.get("port") is None:
        return PlainTextResponse("No leader elected", status_code=503)
    address = leader.get("address") or {}
    host = leader.get("hostname") or address.get("hostname") or address.get("ip")
    if not host:
        return PlainTextResponse("No leader elected", status_code=503)
    return Response(status_code=307, headers={"Location": f"//{host}:{leader['port']}{path}"})


def _check_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        raise InvalidCall("Expecting 'Content-Type' to be present")
    media = _media_type(content_type)
    if media == "application/x-protobuf":
        raise CallRefused(415, "The dev cluster does not support 'application/x-protobuf' calls")
    if media != "application/json":
        raise CallRefused(415, "Expecting 'Content-Type' of application/json or application/x-protobuf")


class SchedulerEndpoint:
    """`POST /api/v1/scheduler` as a raw ASGI app, so SUBSCRIBE can hold its response open."""

    def __init__(self, master: Master) -> None:
        self.master = master

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._respond(request)
        except CallRefused as exc:
            logger.info("call refused", extra={"status": exc.status_code, "error": exc.message})
            response = PlainTextResponse(exc.message, status_code=exc.status_code)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response | EventStreamResponse:
        if not self.master.leading:
            return redirect_to_leader(self.master, request.url.path)
        if request.method != "POST":
            return PlainTextResponse(
                f"Expecting a 'POST' request, received '{request.method}'", 405, headers={"Allow": "POST"}
            )
        _check_content_type(request)
        call = protocol.parse_call(await request.body())
        stream_id = request.headers.get("mesos-stream-id")
        if call.type == "SUBSCRIBE":
            if stream_id is not None:
                raise InvalidCall("Subscribe calls should not include the 'Mesos-Stream-Id' header")
            _check_accept(request)
            protocol.parse_subscribe(call)
            sub = self.master.new_subscription()
            self.master.subscribe(call, sub)
            return EventStreamResponse(sub, self.master.client_disconnected)
        if call.type == "UPDATE_FRAMEWORK":
            self.master.update_framework(call, stream_id)
            return Response(status_code=200)
        dispatch(self.master, call, stream_id)
        return Response(status_code=202)


def create_app(master: Master) -> Starlette:
    async def version(request: Request) -> Response:
        return JSONResponse(
            {"version": MESOS_VERSION, "build_user": "juice", "build_date": "", "git_sha": ""}
        )

    async def health(request: Request) -> Response:
        return Response(status_code=200)

    async def state(request: Request) -> Response:
        return JSONResponse(master.state_document())

    scheduler = SchedulerEndpoint(master)
    return Starlette(
        routes=[
            Route("/api/v1/scheduler", scheduler, methods=None),
            Route("/version", version),
            Route("/health", health),
            Route("/master/state", state),
            Route("/state", state),
            *fault_routes(master),
        ]
    )
