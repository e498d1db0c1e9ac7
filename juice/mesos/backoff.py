"""Jittered exponential backoff for reconnecting."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Jittered exponential backoff: the n-th delay lies in [d/2, d] with d = min(maximum, initial * 2^n)."""

    def __init__(self, initial: float, maximum: float, rng: random.Random) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("need 0 < initial <= maximum")
        self._initial = initial
        self._max = maximum
        self._rng = rng
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    def next(self) -> float:
        ceiling = min(self._max, self._initial * 2.0 ** min(self._attempt, 62))
        self._attempt += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)
