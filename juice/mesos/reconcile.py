"""Task reconciliation as a pure state object (the algorithm of the Mesos reconciliation guide).

1. Remember `start` and the tasks believed to be non-terminal (`remaining`, task id -> agent id or None).
2. Send explicit RECONCILE calls for `remaining`, in batches of at most `batch_size`.
3. Wait (truncated exponential backoff); every task with an update since `start` leaves `remaining`.
4. Repeat until `remaining` is empty (or `max_rounds` explicit rounds were sent).
5. Send one implicit RECONCILE (an empty list), then the reconciliation is done.

The object never reads a clock: every method takes `now` (seconds, any monotonic origin).
"""

from __future__ import annotations

import logging

__all__ = ["Reconciliation", "TaskRef"]

logger = logging.getLogger(__name__)

TaskRef = tuple[str, str | None]  # (task id, agent id if known)


class Reconciliation:
    """One reconciliation run. A new run replaces an old one (the caller drops the old object)."""

    def __init__(
        self,
        start: float,
        remaining: dict[str, str | None],
        *,
        batch_size: int = 50,
        initial_delay: float = 2.0,
        max_delay: float = 60.0,
        max_rounds: int | None = None,
    ) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        if initial_delay <= 0 or max_delay < initial_delay:
            raise ValueError("need 0 < initial_delay <= max_delay")
        if max_rounds is not None and max_rounds <= 0:
            raise ValueError("max_rounds must be positive")
        self.start = start
        self._remaining = dict(remaining)
        self._batch_size = batch_size
        self._initial = initial_delay
        self._max = max_delay
        self._max_rounds = max_rounds
        self._rounds = 0  # explicit rounds started
        self._queue: list[str] = []  # task ids still to send in the current round
        self._due = start  # when the next round may start
        self._round_start = start
        self._implicit_sent = False

    @property
    def remaining(self) -> dict[str, str | None]:
        """Tasks not heard from since `start`."""
        return dict(self._remaining)

    @property
    def rounds(self) -> int:
        """Explicit rounds started so far."""
        return self._rounds

    @property
    def done(self) -> bool:
        return self._implicit_sent

    def on_update(self, task_id: str, now: float) -> None:
        """A status update for `task_id` arrived at `now`; updates from before `start` do not count."""
        if now >= self.start:
            self._remaining.pop(task_id, None)

    def next_due(self) -> float | None:
        """When `next_batch` will next return something (None once done)."""
        if self._implicit_sent:
            return None
        if self._pending_in_round():
            return self._round_start
        return self._due

    def next_batch(self, now: float) -> list[TaskRef] | None:
        """The next RECONCILE to send at `now`: explicit tasks, `[]` for the implicit round, or None."""
        if self._implicit_sent or now < self.start:
            return None
        if self._pending_in_round():
            return self._take_batch()
        if now < self._due:
            return None
        if self._remaining and (self._max_rounds is None or self._rounds < self._max_rounds):
            self._start_round(now)
            return self._take_batch()
        self._implicit_sent = True
        logger.info(
            "reconciliation: implicit round",
            extra={"rounds": self._rounds, "unanswered": len(self._remaining)},
        )
        return []

    def _pending_in_round(self) -> bool:
        self._queue = [t for t in self._queue if t in self._remaining]
        return bool(self._queue)

    def _start_round(self, now: float) -> None:
        delay = min(self._max, self._initial * 2.0 ** min(self._rounds, 62))
        self._rounds += 1
        self._queue = sorted(self._remaining)
        self._round_start = now
        self._due = now + delay
        logger.info(
            "reconciliation: explicit round",
            extra={"round": self._rounds, "tasks": len(self._queue), "next_in": delay},
        )

    def _take_batch(self) -> list[TaskRef]:
        batch, self._queue = self._queue[: self._batch_size], self._queue[self._batch_size :]
        return [(task_id, self._remaining[task_id]) for task_id in batch]
