"""Mesos v1 scheduler HTTP API: RecordIO decoding, message models, builders and the async client."""

from juice.mesos.builders import FrameworkSettings, docker_task_info, framework_info
from juice.mesos.client import SchedulerClient
from juice.mesos.messages import (
    Disconnected,
    ErrorEvent,
    Event,
    Failure,
    Heartbeat,
    MasterInfo,
    Message,
    Offer,
    Offers,
    Rescind,
    Subscribed,
    TaskState,
    TaskStatus,
    UnknownEvent,
    Update,
)
from juice.mesos.reconcile import Reconciliation

__all__ = [
    "Disconnected",
    "ErrorEvent",
    "Event",
    "Failure",
    "FrameworkSettings",
    "Heartbeat",
    "MasterInfo",
    "Message",
    "Offer",
    "Offers",
    "Reconciliation",
    "Rescind",
    "SchedulerClient",
    "Subscribed",
    "TaskState",
    "TaskStatus",
    "UnknownEvent",
    "Update",
    "docker_task_info",
    "framework_info",
]
