"""v1 scheduler events and the messages inside them, as JSON-ready dicts (`{"type": T, "<t>": {...}}`)."""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass

from juice.devcluster.state import Agent, Framework, Offer
from juice.devcluster.wire import JsonObject

MESOS_VERSION = "1.11.0"


@dataclass(frozen=True)
class TaskStatus:
    task_id: str
    state: str
    source: str
    agent_id: str | None
    timestamp: float
    reason: str | None = None
    message: str | None = None
    uuid: bytes | None = None
    executor_id: str | None = None
    unreachable_time: float | None = None

    def to_json(self) -> JsonObject:
        status: JsonObject = {"task_id": {"value": self.task_id}, "state": self.state, "source": self.source}
        if self.reason is not None:
            status["reason"] = self.reason
        if self.message is not None:
            status["message"] = self.message
        if self.agent_id is not None:
            status["agent_id"] = {"value": self.agent_id}
        if self.executor_id is not None:
            status["executor_id"] = {"value": self.executor_id}
        status["timestamp"] = self.timestamp
        if self.uuid is not None:
            status["uuid"] = base64.b64encode(self.uuid).decode("ascii")
        if self.unreachable_time is not None:
            status["unreachable_time"] = {"nanoseconds": int(self.unreachable_time * 1e9)}
        return status


def _packed_ip(ip: str) -> int:
    """MasterInfo.ip: the IPv4 address in network order read as a host (little-endian) uint32."""
    try:
        return int.from_bytes(socket.inet_aton(ip), "little")
    except OSError:
        return 0


def master_info(master_id: str, host: str, port: int) -> JsonObject:
    return {
        "id": master_id,
        "ip": _packed_ip(host),
        "port": port,
        "pid": f"master@{host}:{port}",
        "hostname": host,
        "version": MESOS_VERSION,
        "address": {"hostname": host, "ip": host, "port": port},
    }


def subscribed(framework_id: str, heartbeat_interval: float, info: JsonObject) -> JsonObject:
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "framework_id": {"value": framework_id},
            "heartbeat_interval_seconds": heartbeat_interval,
            "master_info": info,
        },
    }


def heartbeat() -> JsonObject:
    return {"type": "HEARTBEAT"}


def error(message: str) -> JsonObject:
    return {"type": "ERROR", "error": {"message": message}}


def update(status: TaskStatus) -> JsonObject:
    return {"type": "UPDATE", "update": {"status": status.to_json()}}


def rescind(offer_id: str) -> JsonObject:
    return {"type": "RESCIND", "rescind": {"offer_id": {"value": offer_id}}}


def failure(agent_id: str) -> JsonObject:
    return {"type": "FAILURE", "failure": {"agent_id": {"value": agent_id}}}


def attributes_json(attributes: dict[str, str]) -> list[JsonObject]:
    items: list[JsonObject] = []
    for name, value in attributes.items():
        try:
            items.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
        except ValueError:
            items.append({"name": name, "type": "TEXT", "text": {"value": value}})
    return items


def offer_json(offer: Offer, agent: Agent, framework: Framework) -> JsonObject:
    role = offer.role if framework.multi_role else None
    data: JsonObject = {
        "id": {"value": offer.id},
        "framework_id": {"value": offer.framework_id},
        "agent_id": {"value": offer.agent_id},
        "hostname": agent.hostname,
        "url": {
            "scheme": "http",
            "address": {"hostname": agent.hostname, "ip": agent.hostname, "port": agent.port},
            "path": "/slave(1)",
        },
    }
    if role is not None:
        data["allocation_info"] = {"role": role}
    data["resources"] = offer.resources.to_json(
        allocation_role=role, old_format=not framework.has("RESERVATION_REFINEMENT")
    )
    if agent.attributes:
        data["attributes"] = attributes_json(agent.attributes)
    return data


def offers(items: list[JsonObject]) -> JsonObject:
    return {"type": "OFFERS", "offers": {"offers": items}}
