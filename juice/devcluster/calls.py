"""Dispatch of non-SUBSCRIBE calls: parse the type-specific body (400), check the framework (400/403), act."""

from __future__ import annotations

import logging
from collections.abc import Callable

from juice.devcluster import protocol
from juice.devcluster.master import Master
from juice.devcluster.protocol import Call
from juice.devcluster.state import Framework

logger = logging.getLogger(__name__)


def dispatch(master: Master, call: Call, stream_id: str | None) -> None:
    """Calls without a handler (MESSAGE, REQUEST, inverse offers, operations) are accepted and ignored."""
    handler = _HANDLERS.get(call.type)
    action = handler(master, call) if handler is not None else None
    framework = master.authorize(call, stream_id)
    logger.debug("call", extra={"framework_id": framework.id, "call_type": call.type})
    if action is not None:
        action(framework)


Action = Callable[[Framework], None]


def _teardown(master: Master, call: Call) -> Action:
    return master.teardown


def _accept(master: Master, call: Call) -> Action:
    accept = protocol.parse_accept(call)
    return lambda framework: master.accept(framework, accept)


def _decline(master: Master, call: Call) -> Action:
    offer_ids, refuse_seconds = protocol.parse_decline(call)
    return lambda framework: master.decline(framework, offer_ids, refuse_seconds)


def _revive(master: Master, call: Call) -> Action:
    roles = protocol.parse_roles(call)
    return lambda framework: master.revive(framework, roles)


def _suppress(master: Master, call: Call) -> Action:
    roles = protocol.parse_roles(call)
    return lambda framework: master.suppress(framework, roles)


def _kill(master: Master, call: Call) -> Action:
    kill = protocol.parse_kill(call)
    return lambda framework: master.tasks.kill(framework, kill)


def _acknowledge(master: Master, call: Call) -> Action:
    ack = protocol.parse_acknowledge(call)
    return lambda framework: master.tasks.acknowledge(framework, ack)


def _reconcile(master: Master, call: Call) -> Action:
    tasks = protocol.parse_reconcile(call)
    return lambda framework: master.tasks.reconcile(framework, tasks)


def _shutdown(master: Master, call: Call) -> Action:
    executor_id, agent_id = protocol.parse_shutdown(call)
    return lambda framework: master.tasks.shutdown_executor(framework, executor_id, agent_id)


_HANDLERS: dict[str, Callable[[Master, Call], Action]] = {
    "TEARDOWN": _teardown,
    "ACCEPT": _accept,
    "DECLINE": _decline,
    "REVIVE": _revive,
    "SUPPRESS": _suppress,
    "KILL": _kill,
    "ACKNOWLEDGE": _acknowledge,
    "RECONCILE": _reconcile,
    "SHUTDOWN": _shutdown,
}
