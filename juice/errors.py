"""Juice's one exception tree. Adapters translate their library's errors at the boundary.

JuiceError
├── ConfigError                 settings that cannot work
├── InvalidJob                  a job submission that fails validation (client's fault)
├── InvalidTransition           a state change the transition tables forbid
├── PlanningError               the source cannot be planned (not a video, over limits, ...)
│   └── ProbeError              ffprobe could not read the source
├── StoreError                  Redis unreachable or a script failed
│   └── LeaseLost               another scheduler holds the leader lease now
├── MesosError                  the Mesos master or the protocol
│   ├── MesosDisconnected       no subscription, stream closed, heartbeats missed
│   ├── MesosRedirect           a non-leading master answered 307 (carries the leader URL)
│   ├── MesosUnavailable        503: no leader elected / master recovering
│   ├── MesosRejected           4xx for a call (bad request, unknown framework, ...)
│   └── MesosSubscribeError     ERROR event on the subscription stream (carries message)
├── StorageError                S3 / Ceph RGW request failed
│   └── ObjectNotFound
├── TranscodeError              ffmpeg failed or produced a wrong result (worker side)
├── StitchError                 worker outputs cannot be joined into one valid stream
└── ServiceError                a local service (redis, rgw, zookeeper) did not start
"""

from __future__ import annotations


class JuiceError(Exception):
    """Root of every error Juice raises on purpose."""


class ConfigError(JuiceError):
    pass


class InvalidJob(JuiceError):
    pass


class InvalidTransition(JuiceError):
    pass


class PlanningError(JuiceError):
    pass


class ProbeError(PlanningError):
    pass


class StoreError(JuiceError):
    pass


class LeaseLost(StoreError):
    pass


class MesosError(JuiceError):
    pass


class MesosDisconnected(MesosError):
    pass


class MesosRedirect(MesosError):
    def __init__(self, location: str) -> None:
        super().__init__(f"redirected to {location}")
        self.location = location


class MesosUnavailable(MesosError):
    pass


class MesosRejected(MesosError):
    def __init__(self, status_code: int, body: str) -> None:
        super().__init__(f"HTTP {status_code}: {body}")
        self.status_code = status_code
        self.body = body


class MesosSubscribeError(MesosError):
    pass


class StorageError(JuiceError):
    pass


class ObjectNotFound(StorageError):
    pass


class TranscodeError(JuiceError):
    pass


class StitchError(JuiceError):
    pass


class ServiceError(JuiceError):
    pass
