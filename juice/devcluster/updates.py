"""Per-task status-update streams, as the agent's task status update manager keeps them.

One FIFO per task; only the head is in flight. The head is resent with a doubling backoff until the
scheduler acknowledges its uuid; the ACK releases the next update. The queue goes away after the terminal
update is acknowledged. Pure: the caller passes `now` and carries out the returned sends.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from juice.devcluster.events import TaskStatus
from juice.devcluster.state import is_terminal

Key = tuple[str, str]  # (framework_id, task_id)


@dataclass
class _Stream:
    pending: deque[TaskStatus] = field(default_factory=deque)
    next_retry_at: float | None = None
    backoff: float = 0.0


class AckResult(enum.Enum):
    IGNORED = "ignored"  # unknown task or a uuid that is not the head's
    ACKED = "acked"  # the head was popped; more may follow
    TERMINAL_ACKED = "terminal_acked"  # the terminal update was acked; the stream is gone


@dataclass(frozen=True)
class Ack:
    result: AckResult
    next_status: TaskStatus | None = None


class StatusUpdateManager:
    def __init__(self, retry_initial: float, retry_max: float) -> None:
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._streams: dict[Key, _Stream] = {}

    def __contains__(self, key: Key) -> bool:
        return key in self._streams

    def head(self, key: Key) -> TaskStatus | None:
        stream = self._streams.get(key)
        return stream.pending[0] if stream and stream.pending else None

    def pending(self, key: Key) -> list[TaskStatus]:
        stream = self._streams.get(key)
        return list(stream.pending) if stream else []

    def _start(self, stream: _Stream, now: float) -> None:
        stream.backoff = self.retry_initial
        stream.next_retry_at = now + stream.backoff

    def enqueue(self, key: Key, status: TaskStatus, *, now: float) -> TaskStatus | None:
        """Queue an update; returns it if it became the head and must be sent now."""
        if status.uuid is None:
            raise ValueError("agent status updates carry a uuid")
        stream = self._streams.setdefault(key, _Stream())
        stream.pending.append(status)
        if len(stream.pending) == 1:
            self._start(stream, now)
            return status
        return None

    def acknowledge(self, key: Key, uuid: bytes, *, now: float) -> Ack:
        stream = self._streams.get(key)
        if stream is None or not stream.pending or stream.pending[0].uuid != uuid:
            return Ack(AckResult.IGNORED)
        acked = stream.pending.popleft()
        if is_terminal(acked.state):
            del self._streams[key]
            return Ack(AckResult.TERMINAL_ACKED)
        if not stream.pending:
            stream.next_retry_at = None
            return Ack(AckResult.ACKED)
        self._start(stream, now)
        return Ack(AckResult.ACKED, stream.pending[0])

    def due(self, *, now: float) -> list[tuple[Key, TaskStatus]]:
        """Heads whose retry time has come; their backoff doubles (capped)."""
        resend: list[tuple[Key, TaskStatus]] = []
        for key, stream in self._streams.items():
            if stream.pending and stream.next_retry_at is not None and stream.next_retry_at <= now:
                stream.backoff = min(stream.backoff * 2, self.retry_max)
                stream.next_retry_at = now + stream.backoff
                resend.append((key, stream.pending[0]))
        return resend

    def resend_all(self, framework_id: str, *, now: float) -> list[tuple[Key, TaskStatus]]:
        """On re-subscribe: every head of the framework, at once, with the backoff reset."""
        heads: list[tuple[Key, TaskStatus]] = []
        for key, stream in self._streams.items():
            if key[0] == framework_id and stream.pending:
                self._start(stream, now)
                heads.append((key, stream.pending[0]))
        return heads

    def drop(self, key: Key) -> None:
        self._streams.pop(key, None)

    def drop_framework(self, framework_id: str) -> None:
        for key in [key for key in self._streams if key[0] == framework_id]:
            del self._streams[key]
